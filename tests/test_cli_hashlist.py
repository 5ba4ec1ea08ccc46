"""``libra keygen`` and ``libra hashlist …`` through typer's CliRunner: output streams and exit codes."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from libra_cli.cli.app import app

SOURCES = Path(__file__).parent / "data" / "sources"
ROOT = Path(__file__).parent.parent
runner = CliRunner()


class Setup:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = str(root / "host.key")
        self.other = str(root / "other.key")
        self.sign = str(root / "pub.key")
        self.other_sign = str(root / "other-pub.key")
        self.recipient = run("keygen", "-o", self.host).stdout.strip()
        run("keygen", "-o", self.other)
        self.fingerprint = run("hashlist", "keygen", "-o", self.sign).stdout.strip()
        run("hashlist", "keygen", "-o", self.other_sign)
        self.list = str(root / "ncmec.libra")
        result = run(
            "hashlist", "build", str(SOURCES / "sample.csv"), str(SOURCES / "sample-vics.json"),
            "-o", self.list, "-r", self.recipient, "--sign-key", self.sign,
            "--publisher", "Example Hotline", "--description", "made-up values",
        )
        self.build_result = result


def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> object:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == code, (args, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def s(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("cli"))


def test_keygen_prints_recipient_on_stdout_and_refuses_overwrite(s: Setup) -> None:
    assert s.recipient.startswith("age1") and "\n" not in s.recipient
    result = run("keygen", "-o", s.host, code=2)
    assert result.stdout == ""
    assert result.stderr.startswith("libra: ") and "already exists" in result.stderr


def test_hashlist_keygen_writes_pair(s: Setup) -> None:
    assert len(s.fingerprint) == 16
    assert os.path.exists(s.sign + ".pub")


def test_build_prints_checksum_and_reports_on_stderr(s: Setup) -> None:
    digest, path = s.build_result.stdout.split()
    assert path == s.list and digest == hashlib.sha256(Path(s.list).read_bytes()).hexdigest()
    err = s.build_result.stderr
    assert "read sample.csv as libra-csv: 5 entries" in err
    assert "read sample-vics.json as vics: 6 entries" in err
    assert f"signed by {s.fingerprint}" in err
    assert "photodna" in err and "cannot compute" in err


def test_info_shows_counts_but_never_hashes(s: Setup) -> None:
    out = run("hashlist", "info", s.list, "-i", s.host, "--publisher-key", s.sign + ".pub").stdout
    assert "name:        ncmec" in out and "publisher:   Example Hotline" in out
    signature = f"signature:   verified: signed by publisher key {s.fingerprint}, one of the --publisher-key keys"
    assert signature in out
    assert "entries:     11" in out
    assert "photodna  category 1" in out and "unsupported" in out
    md5 = hashlib.md5(b"libra sample one").hexdigest()
    assert md5 not in out


def test_info_entries_exports_csv_that_rebuilds(s: Setup, tmp_path: Path) -> None:
    result = run("hashlist", "info", s.list, "--entries", env={"LIBRA_IDENTITY": s.host})
    assert result.stdout.startswith("hash_type,hash,id,label,category,allow,variant,time,quality,source\n")
    assert hashlib.md5(b"libra sample one").hexdigest() in result.stdout
    assert "entries:     11" in result.stderr  # the summary moved to stderr
    export = tmp_path / "export.csv"
    export.write_text(result.stdout)
    run("hashlist", "build", str(export), "-o", str(tmp_path / "again.libra"), "-r", s.recipient)
    diff = run("hashlist", "diff", s.list, str(tmp_path / "again.libra"), "-i", s.host).stdout
    assert diff.startswith("added 0, removed 0, changed 0")


def test_info_without_key_shows_public_header_only(s: Setup) -> None:
    result = run("hashlist", "info", s.list, env={"LIBRA_IDENTITY": ""})
    assert "format:      1" in result.stdout and s.fingerprint in result.stdout
    assert "name:" not in result.stdout
    assert "give --identity" in result.stderr


def test_verify_without_decrypting(s: Setup) -> None:
    out = run("hashlist", "verify", s.list, "--publisher-key", s.sign + ".pub").stdout
    assert out.startswith(f"{s.list}: signature OK, by publisher key {s.fingerprint}")
    result = run("hashlist", "verify", s.list, "--publisher-key", s.other_sign + ".pub", code=2)
    assert result.stderr.startswith("libra: hashlist ncmec.libra: signature does not match publisher key ")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_wrong_identity_is_one_sentence_and_exit_2(s: Setup) -> None:
    result = run("hashlist", "info", s.list, "-i", s.other, code=2)
    assert result.stderr == (
        "libra: hashlist ncmec.libra: none of the given identities can decrypt it "
        "(it was encrypted to other recipients)\n"
    )


def test_build_stops_at_a_bad_line_unless_skip_invalid(s: Setup, tmp_path: Path) -> None:
    out = str(tmp_path / "bad.libra")
    result = run("hashlist", "build", str(SOURCES / "bad.csv"), "-o", out, "-r", s.recipient, code=2)
    assert result.stderr == "libra: bad.csv line 4: 'xyz' is not a valid md5 digest\n"
    assert not os.path.exists(out)
    result = run("hashlist", "build", str(SOURCES / "bad.csv"), "-o", out, "-r", s.recipient, "--skip-invalid")
    assert "skipped 3 invalid lines" in result.stderr and "bad.csv line 6:" in result.stderr
    assert "UNSIGNED" in result.stderr


def test_build_requires_encryption(s: Setup, tmp_path: Path) -> None:
    result = run("hashlist", "build", str(SOURCES / "sample.hdb"), "-o", str(tmp_path / "x.libra"), code=2)
    assert "libra never writes an unencrypted list" in result.stderr


def test_merge_and_diff(s: Setup, tmp_path: Path) -> None:
    second = str(tmp_path / "clam.libra")
    run("hashlist", "build", str(SOURCES / "sample.hdb"), "-o", second, "-r", s.recipient, "--sign-key", s.sign)
    merged = str(tmp_path / "all.libra")
    run(
        "hashlist", "merge", s.list, second, "-o", merged, "-i", s.host, "-r", s.recipient,
        "--publisher-key", s.sign + ".pub", "--sign-key", s.sign,
    )
    info = run("hashlist", "info", merged, "-i", s.host).stdout
    assert "entries:     13" in info and "name:        all" in info
    diff = run("hashlist", "diff", s.list, merged, "-i", s.host).stdout
    # merge marks each entry with the list it came from: the 11 old entries changed only their source
    assert diff.splitlines()[0] == "added 2, removed 0, changed 11"
    assert hashlib.md5(b"libra clam a").hexdigest() not in diff
    detailed = run("hashlist", "diff", s.list, merged, "-i", s.host, "--entries").stdout
    assert f"+ md5 {hashlib.md5(b'libra clam a').hexdigest()}" in detailed


def test_passphrase_is_read_from_the_named_variable(s: Setup, tmp_path: Path) -> None:
    result = run(
        "hashlist", "build", str(SOURCES / "sample.md5"), "-o", str(tmp_path / "p.libra"),
        "--passphrase-env", "LIST_PASS", code=2, env={"LIST_PASS": ""},
    )
    assert "environment variable LIST_PASS (from --passphrase-env) is not set or empty" in result.stderr


@pytest.mark.parametrize(
    "command",
    [["keygen"], ["hashlist"], ["hashlist", "keygen"], ["hashlist", "build"], ["hashlist", "info"],
     ["hashlist", "verify"], ["hashlist", "merge"], ["hashlist", "diff"], ["hashlist", "update"],
     ["hashlist", "rollback"]],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "libra" in result.stdout
    if command != ["hashlist"]:
        assert "Example" in result.stdout


@pytest.mark.parametrize("page", ["keygen", "hashlist"])
def test_command_docs_exist(page: str) -> None:
    text = (Path(__file__).parent.parent / "docs" / "commands" / f"{page}.md").read_text()
    assert f"libra {page}" in text


def test_build_reads_a_source_from_stdin(s: Setup, tmp_path: Path) -> None:
    """So ``libra hash … --format csv | libra hashlist build - -o demo.libra …`` needs no temporary file."""
    out = str(tmp_path / "stdin.libra")
    result = runner.invoke(
        app, ["hashlist", "build", "-", "-o", out, "-r", s.recipient], input=(SOURCES / "sample.csv").read_text()
    )
    assert result.exit_code == 0, result.stderr
    assert "read stdin as libra-csv: 5 entries" in result.stderr


def test_build_and_merge_refuse_to_overwrite_a_list_without_force(s: Setup, tmp_path: Path) -> None:
    out = tmp_path / "kept.libra"
    run("hashlist", "build", str(SOURCES / "sample.md5"), "-o", str(out), "-r", s.recipient)
    before = out.read_bytes()
    for command in (
        ["hashlist", "build", str(SOURCES / "sample.hdb"), "-o", str(out), "-r", s.recipient],
        ["hashlist", "merge", s.list, "-o", str(out), "-i", s.host, "-r", s.recipient],
    ):
        result = run(*command, code=2)
        assert result.stderr == f"libra: {out} already exists; give --force to replace it\n"
        assert out.read_bytes() == before
    run("hashlist", "build", str(SOURCES / "sample.hdb"), "-o", str(out), "-r", s.recipient, "--force")
    assert out.read_bytes() != before


def test_a_public_key_given_as_identity_is_named_as_such(s: Setup, tmp_path: Path) -> None:
    recipient_file = tmp_path / "host.txt"
    recipient_file.write_text(f"{s.recipient}\n")
    recipient_file.chmod(0o644)  # readable by all, as a public key may be: no chmod advice first
    for public in (s.sign + ".pub", str(recipient_file)):
        result = run("hashlist", "info", s.list, "-i", public, code=2)
        assert result.stderr == (
            f"libra: identity file {public}: this is a public key; --identity needs the private identity file "
            "(AGE-SECRET-KEY-1…, made by 'libra keygen')\n"
        )
    result = run("hashlist", "info", s.list, "-i", s.sign, code=2)
    assert "is a signing key, not an age identity" in result.stderr


def test_info_says_exactly_what_was_checked_and_skips_empty_fields(s: Setup, tmp_path: Path) -> None:
    out = run("hashlist", "info", s.list, "-i", s.host).stdout
    assert (
        f"signature:   intact (matches its signature by key {s.fingerprint}); who that key belongs to was not "
        "checked (give --publisher-key)"
    ) in out
    assert "expires:     never (the publisher set no expiry)" in out
    bare = tmp_path / "bare.libra"
    built = run("hashlist", "build", str(SOURCES / "sample.hdb"), "-o", str(bare), "-r", s.recipient)
    assert "read sample.hdb as clamav: 2 entries" in built.stderr and "encrypted to 1 recipient," in built.stderr
    out = run("hashlist", "info", str(bare), "-i", s.host).stdout
    assert "signature:   none: the list is unsigned" in out
    assert "publisher:" not in out and "description:" not in out  # empty fields are left out
    one = tmp_path / "one.csv"
    one.write_text("hash_type,hash\nmd5," + hashlib.md5(b"libra one").hexdigest() + "\n")
    result = run("hashlist", "build", str(one), "-o", str(tmp_path / "one.libra"), "-r", s.recipient)
    assert "read one.csv as libra-csv: 1 entry\n" in result.stderr and ": 1 entry (md5 1)" in result.stderr


def test_build_expires_is_shown_by_info_with_and_without_a_key(s: Setup, tmp_path: Path) -> None:
    out, md5s = str(tmp_path / "dated.libra"), str(SOURCES / "sample.md5")
    refused = run("hashlist", "build", md5s, "-o", out, "-r", s.recipient, "--expires", "2001-02-03", code=2)
    assert refused.stderr == (
        "libra: --expires 2001-02-03T00:00:00+00:00 is already past, so hosts would be warned at once that this "
        "list is stale; give a future date (or --force to build it anyway)\n"
    )
    assert not Path(out).exists()
    result = run("hashlist", "build", md5s, "-o", out, "-r", s.recipient, "--expires", "2001-02-03", "--force")
    assert "--expires 2001-02-03T00:00:00+00:00 is already past" in result.stderr
    for args in (["-i", s.host], []):
        info = run("hashlist", "info", out, *args, env={"LIBRA_IDENTITY": ""}).stdout
        assert "expires:     2001-02-03T00:00:00+00:00 (EXPIRED " in info
    other = str(tmp_path / "other.libra")
    bad = run("hashlist", "build", md5s, "-o", other, "-r", s.recipient, "--expires", "x", code=2)
    assert bad.stderr == "libra: --expires 'x' is not a date (use YYYY-MM-DD or an ISO 8601 time)\n"


def test_every_expiry_date_in_the_help_and_docs_is_in_the_future() -> None:
    """Examples are pasted: a past date in one builds a list that is stale at once."""
    import re
    from datetime import date

    texts = [run("hashlist", "build", "--help").stdout, run("hashlist", "merge", "--help").stdout]
    texts += [(ROOT / p).read_text() for p in ("docs/commands/hashlist.md", "docs/hashlists.md", "README.md")]
    dates = [m for t in texts for m in re.findall(r"--expires\s+(\d{4}-\d{2}-\d{2})", t)]
    assert dates and all(date.fromisoformat(d) > date.today() for d in dates), dates


def test_update_and_rollback_commands(s: Setup, tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    target = lists / "ncmec.libra"
    (lists / "ncmec.pub").write_bytes(Path(s.sign + ".pub").read_bytes())  # the pinned publisher key
    first = run("hashlist", "update", str(target), "--from", s.list, "-i", s.host).stdout
    assert first.startswith(f"{target}: installed the version created ")
    assert f"signed by publisher key {s.fingerprint} ({lists / 'ncmec.pub'})" in first
    forged = str(tmp_path / "forged.libra")
    run("hashlist", "build", str(SOURCES / "sample.md5"), "-o", forged, "-r", s.recipient, "--sign-key", s.other_sign)
    refused = run("hashlist", "update", str(target), "--from", forged, code=2)
    assert refused.stderr.startswith("libra: hashlist ncmec.libra (new version): signature does not match publisher")
    assert refused.stderr.count("\n") == 1 and target.read_bytes() == Path(s.list).read_bytes()
    newer = str(tmp_path / "newer.libra")
    time.sleep(1.05 - time.time() % 1)  # creation times have one-second resolution: the newer one must be later
    run("hashlist", "build", str(SOURCES / "sample.md5"), "-o", newer, "-r", s.recipient, "--sign-key", s.sign)
    quiet = run("hashlist", "update", str(target), "--from", newer, "-q")
    assert quiet.stdout == "" and quiet.stderr == ""  # silent for cron
    assert target.read_bytes() == Path(newer).read_bytes()
    downgrade = run("hashlist", "update", str(target), "--from", s.list, code=2)
    assert "refusing a downgrade" in downgrade.stderr and target.read_bytes() == Path(newer).read_bytes()
    back = run("hashlist", "rollback", str(target)).stdout
    assert back.startswith(f"{target}: rolled back to the version created ")
    assert target.read_bytes() == Path(s.list).read_bytes()
    assert (lists / "ncmec.libra.previous").read_bytes() == Path(newer).read_bytes()
    none = run("hashlist", "update", str(tmp_path / "iwf.libra"), "--from", newer, code=2, env={"LIBRA_CONFIG": ""})
    assert "no publisher key is pinned for iwf.libra" in none.stderr


def test_a_new_list_needs_a_long_passphrase(tmp_path: Path) -> None:
    source = tmp_path / "s.md5"
    source.write_text(hashlib.md5(b"libra sample one").hexdigest() + "  one.jpg\n")
    out = str(tmp_path / "p.libra")
    short = run("hashlist", "build", str(source), "-o", out, "--passphrase-env", "LIST_PASS", code=2,
                env={"LIST_PASS": "…"})  # fmt: skip
    assert "has 1 characters; a list's passphrase needs at least 16" in short.stderr and not Path(out).exists()
    run("hashlist", "build", str(source), "-o", out, "--passphrase-env", "LIST_PASS",
        env={"LIST_PASS": "correct horse battery staple"})  # fmt: skip
    assert Path(out).exists()


def test_info_verifies_against_a_pinned_publisher_key(s: Setup, tmp_path: Path) -> None:
    copy = tmp_path / "ncmec.libra"
    copy.write_bytes(Path(s.list).read_bytes())
    (tmp_path / "ncmec.pub").write_bytes(Path(s.other_sign + ".pub").read_bytes())  # pinned: someone else
    refused = run("hashlist", "info", str(copy), "-i", s.host, code=2)
    assert "pinned in" in refused.stderr and refused.stderr.count("\n") == 1
    (tmp_path / "ncmec.pub").write_bytes(Path(s.sign + ".pub").read_bytes())
    assert "signature:" in run("hashlist", "info", str(copy), "-i", s.host).stdout
