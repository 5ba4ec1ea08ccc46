"""Edge cases a sysadmin hits: links as targets, quiet runs that fail, keys pasted as paths, full disks."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from scanhelp import cli, make_identity, make_list, records


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("edges")
    photos = Path(__file__).parent / "data" / "photos"
    identity = tmp / "id.txt"
    return identity, make_list(tmp, [photos / "chelsea.jpg"], make_identity(identity))


def scan(keyed: tuple[Path, Path], *args: str) -> tuple[int, str, str]:
    identity, hashlist = keyed
    return cli("scan", *args, "-l", str(hashlist), "-i", str(identity), "-w", "1")


def test_a_symlinked_target_is_followed(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    real = tmp_path / "real"
    real.mkdir()
    shutil.copy(photos / "chelsea.jpg", real / "a.jpg")
    os.symlink(real, tmp_path / "uploads")  # /srv/uploads is often a link to the real volume
    code, out, _ = scan(keyed, str(tmp_path / "uploads"), "-q")
    assert code == 1 and json.loads(out)["summary"]["files"] == 1


def test_quiet_still_says_why_the_exit_code_is_two(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    code, _, err = scan(keyed, str(tmp_path / "missing"), "-q", "-o", str(tmp_path / "f.json"))
    assert code == 2
    assert "unreadable" in err and "missing" in err  # cron mails this; a silent exit 2 would be lost


def test_overlapping_targets_report_each_file_once(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    shutil.copy(photos / "chelsea.jpg", tmp_path / "a.jpg")
    code, out, _ = scan(keyed, str(tmp_path), str(tmp_path / "a.jpg"), f"{tmp_path}/", "-q")
    doc = json.loads(out)
    assert code == 1 and len(records(doc)) == 1 and doc["summary"]["files"] == 1


def test_excluded_files_count_as_skipped(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    shutil.copy(photos / "chelsea.jpg", tmp_path / "a.jpg")
    shutil.copy(photos / "moon.jpg", tmp_path / "b.webp")
    _, out, _ = scan(keyed, str(tmp_path), "-q", "--exclude", "*.webp")
    assert json.loads(out)["summary"]["filtered"] == {"exclude": 1}


def test_a_key_pasted_as_a_path_is_never_echoed(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    secret = next(line for line in keyed[0].read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))
    for env, args in (({}, ["-i", secret]), ({"LIBRA_IDENTITY": secret}, [])):
        code, out, err = cli("scan", str(tmp_path), "-l", str(keyed[1]), *args, env=env)
        assert code == 2 and out == "" and "looks like a key itself" in err
        assert secret not in err and secret[:30] not in err


def test_run_time_problems_are_one_sentence(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    for extra, message in (
        (["--log-file", str(tmp_path / "no" / "x.log")], "cannot open log file"),
        (["--file-timeout", "inf"], "--file-timeout must be greater than 0 and at most"),
        (["--file-timeout", "0"], "--file-timeout must be greater than 0 and at most"),
    ):
        code, out, err = scan(keyed, str(tmp_path), *extra)
        assert code == 2 and out == "" and message in err and "Traceback" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_sentence_and_exit_two(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    shutil.copy(photos / "chelsea.jpg", tmp_path / "a.jpg")
    code, _, err = scan(keyed, str(tmp_path), "-q", "-o", "/dev/full")
    assert code == 2 and "No space left on device" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["scan"], ["hash"], ["keygen"], ["hashlist", "build"]])
def test_missing_arguments_are_a_usage_error_on_stderr(command: list[str]) -> None:
    code, out, err = cli(*command)
    assert code == 2 and out == "" and ("Missing" in err or "nothing to scan: name a TARGET" in err)


def test_the_findings_file_is_never_scanned(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    shutil.copy(photos / "chelsea.jpg", tmp_path / "a.jpg")
    out = tmp_path / "findings [1].json"  # inside the scanned tree, with glob characters in its name
    for _ in range(2):  # the second run would otherwise hash the first run's findings file
        code, _, err = scan(keyed, str(tmp_path), "-q", "-o", str(out))
        assert code == 1, err
    assert json.loads(out.read_text())["summary"]["files"] == 1


def test_hash_rejects_negative_workers(tmp_path: Path) -> None:
    code, out, err = cli("hash", str(tmp_path), "-w", "-1")
    assert code == 2 and out == "" and "--workers must be 0" in err


def test_a_private_key_given_as_publisher_key_is_named(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    signing = tmp_path / "hotline.key"
    assert cli("hashlist", "keygen", "-o", str(signing))[0] == 0
    code, _, err = scan(keyed, str(tmp_path), "--publisher-key", str(signing))
    assert code == 2 and "is a private signing key" in err and f"{signing}.pub" in err
    odd = tmp_path / "my private key.pem"  # a path that merely mentions a key is still a path
    odd.write_bytes((tmp_path / "hotline.key.pub").read_bytes())
    code, _, err = scan(keyed, str(tmp_path), "-q", "--publisher-key", str(odd))
    assert "looks like a key itself" not in err


def test_a_shared_identity_file_is_warned_about(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    shared = tmp_path / "shared.txt"
    shared.write_bytes(keyed[0].read_bytes())
    shared.chmod(0o644)
    _, _, err = cli("scan", str(tmp_path / "none"), "-l", str(keyed[1]), "-i", str(shared))
    assert "can be read by other users (mode 644)" in err
    shared.chmod(0o600)
    _, _, err = cli("scan", str(tmp_path / "none"), "-l", str(keyed[1]), "-i", str(shared))
    assert "can be read by other users" not in err


def test_build_checks_its_keys_before_reading_sources(tmp_path: Path) -> None:
    """A wrong option must not wait for a large import: keys are checked first."""
    missing = str(tmp_path / "huge-source-not-read.csv")
    code, _, err = cli("hashlist", "build", missing, "-o", str(tmp_path / "l.libra"))
    assert code == 2 and "no recipient" in err
    code, _, err = cli("hashlist", "build", missing, "-o", str(tmp_path / "l.libra"), "-r", "age1nope")
    assert code == 2 and "is not an age recipient" in err


def _scan_process(
    keyed: tuple[Path, Path], target: Path, redirect: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``libra scan`` as a real process with a shell redirection (``>&-`` closes stdout)."""
    identity, hashlist = keyed
    cmd = [sys.executable, "-m", "libra_cli", "scan", str(target), "-l", str(hashlist), "-i", str(identity), *args]
    return subprocess.run(f"{shlex.join(cmd)} {redirect}", shell=True, capture_output=True, text=True, timeout=120)


def test_closed_stdout_is_one_sentence_and_exit_two(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    shutil.copy(photos / "moon.jpg", tmp_path / "moon.jpg")
    done = _scan_process(keyed, tmp_path, ">&-", "-w", "1")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith("cannot write findings to standard output: it is closed (use -o FILE)")
    assert "Traceback" not in done.stderr


def test_closed_stderr_does_not_change_the_outcome(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(photos / "chelsea.jpg", tree / "cat.jpg")
    out = tmp_path / "f.json"
    done = _scan_process(keyed, tree, "2>&-", "-w", "1", "-o", str(out))
    assert done.returncode == 1  # found, although nothing could be said on stderr
    assert len(records(json.loads(out.read_text()))) == 1


def test_output_naming_a_file_of_the_tree_is_refused(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    """``-o`` pointing at evidence inside the scanned tree must never replace it unscanned."""
    shutil.copy(photos / "chelsea.jpg", tmp_path / "cat.jpg")
    before = (tmp_path / "cat.jpg").read_bytes()
    code, out, err = scan(keyed, str(tmp_path), "-o", str(tmp_path / "cat.jpg"))
    assert code == 2 and out == ""
    assert "refusing to replace" in err and "not a libra findings file" in err
    assert (tmp_path / "cat.jpg").read_bytes() == before


def test_previous_findings_inside_the_tree_are_skipped_and_replaced(
    tmp_path: Path, photos: Path, keyed: tuple[Path, Path]
) -> None:
    shutil.copy(photos / "chelsea.jpg", tmp_path / "cat.jpg")
    out = tmp_path / "findings.json"
    for _ in range(2):  # the second run finds the first run's file in the tree: libra's own, not scanned
        code, _, err = scan(keyed, str(tmp_path), "-q", "-o", str(out))
        assert code == 1, err
        doc = json.loads(out.read_text())
        assert [Path(f["location"]).name for f in records(doc)] == ["cat.jpg"]
        assert doc["summary"]["files"] == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # findings name locations of suspected material


def test_a_list_among_the_targets_is_refused(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    """``-l /etc/libra/*.libra /srv`` expands to ``-l a.libra b.libra /srv``: b.libra must not be scanned."""
    identity, hashlist = keyed
    code, out, err = cli("scan", "-l", str(hashlist), str(hashlist), str(tmp_path), "-i", str(identity))
    assert code == 2 and out == ""
    assert "is a libra hash list, not something to scan; did you mean --list" in err


def test_files_from_and_since(tmp_path: Path, photos: Path, keyed: tuple[Path, Path]) -> None:
    """``--files-from`` names what to scan (a removal event is counted, not scanned); ``--since`` filters."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(photos / "chelsea.jpg", tree / "cat.jpg")
    shutil.copy(photos / "moon.jpg", tree / "old.jpg")
    os.utime(tree / "old.jpg", (1_000_000_000, 1_000_000_000))  # 2001
    removal = {"Records": [{"eventName": "ObjectRemoved:Delete",
                            "s3": {"bucket": {"name": "b"}, "object": {"key": "gone.jpg"}}}]}  # fmt: skip
    names = tmp_path / "names.txt"
    names.write_text(f"{tree / 'cat.jpg'}\n{json.dumps(removal)}\n")
    code, out, err = scan(keyed, "--files-from", str(names), "-q")
    doc = json.loads(out)
    assert code == 1, err
    assert [Path(r["location"]).name for r in records(doc)] == ["cat.jpg"]
    assert doc["summary"]["files"] == 1 and doc["summary"]["filtered"] == {"event_removed": 1}
    code, out, _ = scan(keyed, str(tree), "--since", "2020-01-01T00:00:00Z", "-q")
    doc = json.loads(out)
    assert doc["summary"]["files"] == 1 and doc["summary"]["filtered"] == {"since": 1}


def test_an_unreadable_files_from_list_stops_before_any_findings_are_written(
    tmp_path: Path, keyed: tuple[Path, Path]
) -> None:
    """Findings to stdout start with a header; a ``--files-from`` that cannot be read must be refused before
    it, so a redirected stdout is not left holding half a JSON document."""
    for bad in (tmp_path / "nope.txt", tmp_path):
        code, out, err = scan(keyed, "--files-from", str(bad), "-q")
        assert code == 2 and out == "", out[:200]
        assert "--files-from" in err and "Traceback" not in err
