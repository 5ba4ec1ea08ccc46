"""Lists the way hosts keep them: folders of lists, expiry, and ``update``/``rollback`` (pinned publisher key,
no downgrade, atomic swap, previous version kept), fetched from a file or from https on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import ipaddress
import logging
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pyrage
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from libra_cli.cli.lists import load_lists
from libra_cli.errors import ConfigError, HashListError, KeyFileError, SignatureError
from libra_cli.hashlist import HashList, ListInfo, load_hashlist, load_publisher_keys, write_hashlist
from libra_cli.hashlist import container as container_module
from libra_cli.hashlist.expiry import expired_lists, expiry_text, parse_expiry
from libra_cli.hashlist.locate import expand_list_paths, looks_like_list
from libra_cli.hashlist.update import (
    DowngradeError,
    pinned_key_files,
    previous_path,
    resolve_target,
    rollback_list,
    update_list,
)
from libra_cli.models import Entry

ROOT = Path(__file__).parent.parent
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # made-up values, never real list entries


class Keys:
    def __init__(self, root: Path) -> None:
        self.identity = pyrage.x25519.Identity.generate()
        self.recipient = self.identity.to_public()
        self.publisher = Ed25519PrivateKey.generate()
        self.other = Ed25519PrivateKey.generate()
        self.pub = root / "publisher.pub"
        self.pub.write_bytes(
            self.publisher.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        self.pins = load_publisher_keys([str(self.pub)])

    def make(
        self,
        path: Path,
        created: str,
        *,
        values: tuple[str, ...] = ("a",),
        expires: str = "",
        sign: Ed25519PrivateKey | None = None,
        name: str | None = None,
    ) -> Path:
        """Write a signed list of made-up md5 values, created at ``created``, named ``name`` (default: the stem)."""
        entries = [Entry("md5", md5(v), id=v) for v in values]
        info = ListInfo(name=name or path.stem, created=created, expires=expires)
        write_hashlist(
            HashList.from_entries(info, entries),
            str(path),
            recipients=[self.recipient],
            sign_key=sign or self.publisher,
        )
        return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


def installed(tmp_path: Path, keys: Keys) -> Path:
    """A list folder with ncmec.libra (created 2025-01) installed and its publisher key pinned beside it."""
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "ncmec.pub").write_bytes(keys.pub.read_bytes())
    keys.make(lists / "ncmec.libra", "2025-01-01T00:00:00+00:00", values=("old",))
    return lists / "ncmec.libra"


def values(path: Path, keys: Keys) -> set[str]:
    hashlist = load_hashlist(str(path), identities=[keys.identity], publisher_keys=keys.pins)
    return {e.id or "" for e in hashlist.entries()}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- folders of lists, and a target that is a list ---------------------------------------------------------


def test_a_folder_expands_to_its_lists_sorted(tmp_path: Path, keys: Keys) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    for name in ("b.libra", "a.libra", "a.libra.previous", ".a.libra.1234.part", "notes.txt"):
        (folder / name).write_bytes(b"x")
    (folder / "sub.libra").mkdir()  # a folder named like a list is not a list
    extra = tmp_path / "extra.age"
    extra.write_bytes(b"x")
    assert expand_list_paths([str(folder), str(extra), str(folder / "a.libra")]) == [
        str(folder / "a.libra"),
        str(folder / "b.libra"),
        str(extra),  # a file is taken as given, whatever its name; a.libra named twice is loaded once
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError) as err:
        expand_list_paths([str(empty)])
    assert str(err.value) == f"list folder {empty} holds no *.libra file"


def test_load_lists_reads_every_list_of_a_folder(tmp_path: Path, keys: Keys) -> None:
    folder = tmp_path / "lists"
    folder.mkdir()
    keys.make(folder / "iwf.libra", "2025-01-01T00:00:00+00:00", values=("i",))
    keys.make(folder / "ncmec.libra", "2025-01-01T00:00:00+00:00", values=("n",))
    identity = tmp_path / "host.key"
    identity.write_text(f"{keys.identity}\n")
    identity.chmod(0o600)
    loaded = load_lists([str(folder)], identities=[str(identity)], passphrase_env=None, publisher_keys=[str(keys.pub)])
    assert [h.info.name for h in loaded] == ["iwf", "ncmec"]
    assert [h.info.signature_status for h in loaded] == ["verified", "verified"]


def test_looks_like_list_reads_the_magic_line_only(tmp_path: Path, keys: Keys, photos: Path) -> None:
    libra = keys.make(tmp_path / "renamed.jpg", "2025-01-01T00:00:00+00:00")
    age = tmp_path / "plain.libra"
    age.write_bytes(pyrage.encrypt(b"md5," + md5("x").encode(), [keys.recipient]))
    assert looks_like_list(str(libra))  # by content, not by name
    assert not looks_like_list(str(age))
    assert not looks_like_list(str(photos / "chelsea.jpg"))
    assert not looks_like_list(str(tmp_path))
    assert not looks_like_list(str(tmp_path / "missing.libra"))
    assert not looks_like_list("s3://bucket/list.libra")


# --- expiry ----------------------------------------------------------------------------------------------


def test_expiry_travels_in_the_signed_header_and_is_flagged(
    tmp_path: Path, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    stale = keys.make(tmp_path / "stale.libra", "2025-01-01T00:00:00+00:00", expires=parse_expiry("2025-03-01"))
    fresh = keys.make(tmp_path / "fresh.libra", "2025-01-01T00:00:00+00:00", expires=parse_expiry("2026-01-01"))
    forever = keys.make(tmp_path / "forever.libra", "2025-01-01T00:00:00+00:00")
    box = container_module.read(str(stale))
    assert box.header["expires"] == "2025-03-01T00:00:00+00:00"  # public: 'hashlist info' shows it without a key
    assert "expires" not in container_module.read(str(forever)).header  # unset: the header is as before
    loaded = [load_hashlist(str(p), identities=[keys.identity]) for p in (stale, fresh, forever)]
    assert [h.info.expires for h in loaded] == ["2025-03-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", ""]
    assert expired_lists(loaded, NOW) == [
        "list stale (stale.libra) expired on 2025-03-01T00:00:00+00:00; install a newer version (libra hashlist update)"
    ]
    assert expired_lists(loaded, dt.datetime(2025, 2, 28, tzinfo=dt.timezone.utc)) == []
    assert expiry_text(loaded[0].info, NOW).startswith("2025-03-01T00:00:00+00:00 (EXPIRED 92 days ago")
    assert expiry_text(loaded[1].info, NOW) == "2026-01-01T00:00:00+00:00 (in 214 days)"
    identity = tmp_path / "host.key"
    identity.write_text(f"{keys.identity}\n")
    identity.chmod(0o600)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("libra")  # the CLI's logger may not propagate to the root (a scan set it up)
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.WARNING, logger="libra"):
            load_lists(
                [str(stale), str(fresh)], identities=[str(identity)], passphrase_env=None, publisher_keys=[], now=NOW
            )
    finally:
        logger.removeHandler(handler)
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    expired = [w for w in warnings if w.startswith("list expired ")]
    assert len(expired) == 1 and expired[0].startswith("list expired name=stale ")


def test_expiry_cannot_be_moved_without_breaking_the_signature(tmp_path: Path, keys: Keys) -> None:
    path = keys.make(tmp_path / "x.libra", "2025-01-01T00:00:00+00:00", expires="2025-03-01T00:00:00+00:00")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"2025-03-01T00", b"2099-03-01T00", 1))
    with pytest.raises(SignatureError, match="signature is invalid"):
        load_hashlist(str(path), identities=[keys.identity])


def test_lists_without_expiry_still_load_and_a_bad_expiry_is_damage(tmp_path: Path) -> None:
    demo = load_hashlist(
        str(ROOT / "hashlists" / "demo.libra"),
        identities=[pyrage.x25519.Identity.from_str(_demo_identity())],
    )
    assert demo.info.expires == "" and expired_lists([demo], NOW) == []
    with pytest.raises(ConfigError, match="is not a date"):
        parse_expiry("next tuesday")
    header = dict(container_module.public_header("2025-01-01T00:00:00+00:00", None), expires="soon")
    bad = tmp_path / "bad.libra"
    bad.write_bytes(container_module.pack(b"age-encryption.org/v1\n", header, None))
    with pytest.raises(HashListError, match=r"its header is damaged \(expires is not a time\)"):
        container_module.read(str(bad))


def _demo_identity() -> str:
    lines = (ROOT / "hashlists" / "demo-identity.txt").read_text().splitlines()
    return next(line for line in lines if line.startswith("AGE-SECRET-KEY-"))


# --- update and rollback from a file ---------------------------------------------------------------------


def test_update_installs_a_newer_version_and_keeps_the_previous(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    old_bytes = target.read_bytes()
    new = keys.make(tmp_path / "new.libra", "2025-02-01T00:00:00+00:00", values=("new",), name="ncmec")
    result = update_list(str(target), str(new), publisher_keys=keys.pins, identities=[keys.identity])
    assert (result.status, result.created, result.replaced_created) == (
        "updated",
        "2025-02-01T00:00:00+00:00",
        "2025-01-01T00:00:00+00:00",
    )
    assert result.decrypt_checked
    assert target.read_bytes() == new.read_bytes()
    assert Path(previous_path(str(target))).read_bytes() == old_bytes
    assert leftovers(target.parent) == []
    again = update_list(str(target), str(new), publisher_keys=keys.pins)
    assert again.status == "unchanged" and Path(previous_path(str(target))).read_bytes() == old_bytes


def test_update_refuses_a_list_signed_by_another_key(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    before = target.read_bytes()
    forged = keys.make(tmp_path / "forged.libra", "2025-03-01T00:00:00+00:00", sign=keys.other)
    with pytest.raises(SignatureError) as err:
        update_list(str(target), str(forged), publisher_keys=keys.pins)
    assert str(err.value).startswith("hashlist ncmec.libra (new version): signature does not match publisher key ")
    assert target.read_bytes() == before
    assert not os.path.exists(previous_path(str(target))) and leftovers(target.parent) == []


def test_update_refuses_a_downgrade(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    before = target.read_bytes()
    older = keys.make(tmp_path / "older.libra", "2024-12-01T00:00:00+00:00", values=("older",))
    with pytest.raises(DowngradeError) as err:
        update_list(str(target), str(older), publisher_keys=keys.pins)
    assert str(err.value) == (
        "hashlist ncmec.libra (new version): was created 2024-12-01T00:00:00+00:00, before the installed version "
        "(2025-01-01T00:00:00+00:00); refusing a downgrade (use 'libra hashlist rollback' to go back on purpose)"
    )
    same_time = keys.make(tmp_path / "same.libra", "2025-01-01T00:00:00+00:00", values=("other",))
    with pytest.raises(DowngradeError, match="has the installed version's creation time"):
        update_list(str(target), str(same_time), publisher_keys=keys.pins)
    assert target.read_bytes() == before and leftovers(target.parent) == []


def test_update_refuses_another_list_and_an_expired_version_unless_forced(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    before = target.read_bytes()
    other = keys.make(tmp_path / "iwf.libra", "2025-04-01T00:00:00+00:00", values=("iwf",))  # another list
    with pytest.raises(HashListError) as err:
        update_list(str(target), str(other), publisher_keys=keys.pins, identities=[keys.identity])
    assert str(err.value) == (
        "hashlist ncmec.libra (new version): is the list 'iwf', but ncmec.libra holds the list 'ncmec'; refusing "
        "to replace one list with another (give --force if that is meant)"
    )
    assert target.read_bytes() == before and leftovers(target.parent) == []
    stale = keys.make(
        tmp_path / "stale.libra", "2025-02-01T00:00:00+00:00", name="ncmec", expires=parse_expiry("2025-03-01")
    )
    with pytest.raises(HashListError) as err:
        update_list(str(target), str(stale), publisher_keys=keys.pins, now=NOW)
    assert str(err.value) == (
        "hashlist ncmec.libra (new version): expired on 2025-03-01T00:00:00+00:00, so it would be stale once "
        "installed; refusing it (ask the publisher for a current version, or give --force to install it anyway)"
    )
    assert target.read_bytes() == before and leftovers(target.parent) == []
    # current on the day (``now``) it is installed: fine
    assert update_list(str(target), str(stale), publisher_keys=keys.pins, now=NOW - dt.timedelta(days=100)).status
    forced = update_list(str(target), str(other), publisher_keys=keys.pins, identities=[keys.identity], force=True)
    assert forced.status == "updated" and target.read_bytes() == other.read_bytes()


def test_update_refuses_a_version_this_host_cannot_decrypt(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    before = target.read_bytes()
    stranger = pyrage.x25519.Identity.generate()
    entries = [Entry("md5", md5("x"))]
    unreadable = tmp_path / "unreadable.libra"
    info = ListInfo(name="ncmec", created="2025-05-01T00:00:00+00:00")
    write_hashlist(
        HashList.from_entries(info, entries),
        str(unreadable),
        recipients=[stranger.to_public()],
        sign_key=keys.publisher,
    )
    with pytest.raises(KeyFileError, match=r"ncmec\.libra \(new version\): none of the given identities"):
        update_list(str(target), str(unreadable), publisher_keys=keys.pins, identities=[keys.identity])
    assert target.read_bytes() == before and leftovers(target.parent) == []


def test_first_install_and_rollback_swaps_both_ways(tmp_path: Path, keys: Keys) -> None:
    target = tmp_path / "iwf.libra"
    v1 = keys.make(tmp_path / "v1.libra", "2025-01-01T00:00:00+00:00", values=("one",))
    v2 = keys.make(tmp_path / "v2.libra", "2025-02-01T00:00:00+00:00", values=("two",))
    with pytest.raises(HashListError, match="has no previous version to roll back to"):
        rollback_list(str(target))
    assert update_list(str(target), str(v1), publisher_keys=keys.pins).status == "installed"
    with pytest.raises(HashListError, match="has no previous version"):
        rollback_list(str(target))
    update_list(str(target), str(v2), publisher_keys=keys.pins)
    assert values(target, keys) == {"two"}
    back = rollback_list(str(target))
    assert (back.created, back.replaced_created) == ("2025-01-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00")
    assert values(target, keys) == {"one"} and values(Path(previous_path(str(target))), keys) == {"two"}
    rollback_list(str(target))  # again: undo
    assert values(target, keys) == {"two"} and values(Path(previous_path(str(target))), keys) == {"one"}
    assert leftovers(tmp_path) == []


def test_a_reader_holding_the_old_file_reads_it_whole(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    old_bytes = target.read_bytes()
    new = keys.make(tmp_path / "new.libra", "2025-02-01T00:00:00+00:00", values=("new",))
    with open(target, "rb") as reader:
        head = reader.read(10)
        update_list(str(target), str(new), publisher_keys=keys.pins)
        assert head + reader.read() == old_bytes  # the old inode lives while it is open
    assert target.read_bytes() == new.read_bytes()


def test_a_load_in_progress_during_the_swap_keeps_the_version_it_opened(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap lands between the loader's signature check and its decryption: the loader still gets the
    old version whole (one open file throughout), not a mix and not an error."""
    target = installed(tmp_path, keys)
    new = keys.make(tmp_path / "new.libra", "2025-02-01T00:00:00+00:00", values=("new",))
    real_verify = container_module.verify
    swapped = []

    def verify_then_swap(box: container_module.Container, publisher_keys: object = ()) -> str | None:
        signer = real_verify(box, publisher_keys)  # type: ignore[arg-type]
        if not swapped and box.path == str(target):
            swapped.append(update_list(str(target), str(new), publisher_keys=keys.pins))
        return signer

    monkeypatch.setattr(container_module, "verify", verify_then_swap)
    during = load_hashlist(str(target), identities=[keys.identity], publisher_keys=keys.pins)
    assert swapped and swapped[0].status == "updated"
    assert {e.id for e in during.entries()} == {"old"}
    assert during.info.sha256 == hashlib.sha256(Path(previous_path(str(target))).read_bytes()).hexdigest()
    monkeypatch.undo()
    assert values(target, keys) == {"new"}  # the next scan loads the new version


def test_pinned_key_order_and_resolving_a_name(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    beside = str(target.parent / "ncmec.pub")
    assert pinned_key_files(str(target), ["given.pub"], ["conf.pub"]) == ["given.pub"]
    assert pinned_key_files(str(target), [], ["conf.pub"]) == [beside]
    assert pinned_key_files(str(tmp_path / "iwf.libra"), [], ["conf.pub"]) == ["conf.pub"]
    with pytest.raises(SignatureError) as err:
        pinned_key_files(str(tmp_path / "iwf.libra"), [], [])
    assert str(err.value) == (
        f"no publisher key is pinned for iwf.libra: put the publisher's public key at {tmp_path / 'iwf.pub'} "
        "or give --publisher-key"
    )
    assert resolve_target("ncmec", [str(target.parent)]) == str(target)
    assert resolve_target("ncmec", [str(tmp_path / "x.libra"), str(target)]) == str(target)
    assert resolve_target("./new.libra", []) == "./new.libra"
    with pytest.raises(HashListError, match="no list named 'iwf' among the configured lists"):
        resolve_target("iwf", [str(target)])


def test_an_unsigned_or_plain_age_new_version_is_refused(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    plain = tmp_path / "plain.age"
    plain.write_bytes(pyrage.encrypt(b"md5," + md5("x").encode(), [keys.recipient]))
    with pytest.raises(SignatureError, match="is a plain age file, which carries no publisher signature"):
        update_list(str(target), str(plain), publisher_keys=keys.pins)
    unsigned = tmp_path / "unsigned.libra"
    info = ListInfo(name="u", created="2025-06-01T00:00:00+00:00")
    write_hashlist(HashList.from_entries(info, [Entry("md5", md5("u"))]), str(unsigned), recipients=[keys.recipient])
    with pytest.raises(SignatureError, match="is not signed, but publisher key"):
        update_list(str(target), str(unsigned), publisher_keys=keys.pins)
    assert leftovers(target.parent) == []


# --- https on 127.0.0.1 -----------------------------------------------------------------------------------


class Site:
    """An https server on 127.0.0.1 with a self-signed certificate made here."""

    def __init__(self, root: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256())
        )
        self.cafile = root / "ca.pem"
        self.cafile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        keyfile = root / "key.pem"
        keyfile.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path in site.redirects:
                    self.send_response(302)
                    self.send_header("Location", site.redirects[self.path])
                    self.end_headers()
                    return
                body = site.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cafile, keyfile)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = Site(tmp_path_factory.mktemp("site"))
    yield server
    server.close()


def test_update_from_https(tmp_path: Path, keys: Keys, site: Site) -> None:
    target = installed(tmp_path, keys)
    new = keys.make(tmp_path / "new.libra", "2025-02-01T00:00:00+00:00", values=("new",))
    site.files["/lists/ncmec.libra"] = new.read_bytes()
    result = update_list(
        str(target), f"{site.url}/lists/ncmec.libra", publisher_keys=keys.pins, cafile=str(site.cafile), timeout=5
    )
    assert result.status == "updated" and target.read_bytes() == new.read_bytes()
    forged = keys.make(tmp_path / "forged.libra", "2025-04-01T00:00:00+00:00", sign=keys.other)
    site.files["/lists/forged.libra"] = forged.read_bytes()
    with pytest.raises(SignatureError, match="signature does not match publisher key"):
        update_list(str(target), f"{site.url}/lists/forged.libra", publisher_keys=keys.pins, cafile=str(site.cafile))
    assert target.read_bytes() == new.read_bytes() and leftovers(target.parent) == []


@pytest.mark.parametrize(
    ("path", "kwargs", "message"),
    [
        ("/missing.libra", {}, "/missing.libra: the server answered HTTP 404 Not Found"),
        (
            "/lists/big.libra",
            {"max_bytes": 100},
            "/lists/big.libra is larger than 100 bytes (the size cap); refusing it",
        ),
        ("/to-http", {}, "/to-http redirects to http://127.0.0.1/x.libra, which is not https"),
        ("/lists/big.libra?token=secret", {"cafile": None}, "its TLS certificate does not verify"),
    ],
)
def test_https_failures_are_one_sentence(
    tmp_path: Path, keys: Keys, site: Site, path: str, kwargs: dict[str, object], message: str
) -> None:
    target = installed(tmp_path, keys)
    site.files["/lists/big.libra"] = b"x" * 1000
    site.redirects["/to-http"] = "http://127.0.0.1/x.libra"
    options: dict[str, object] = {"cafile": str(site.cafile), "timeout": 5, **kwargs}
    with pytest.raises(HashListError) as err:
        update_list(str(target), site.url + path, publisher_keys=keys.pins, **options)  # type: ignore[arg-type]
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "secret" not in str(err.value)  # a token in the query never reaches an error line
    assert leftovers(target.parent) == []


def test_unreachable_and_plain_http_urls(tmp_path: Path, keys: Keys) -> None:
    target = installed(tmp_path, keys)
    with pytest.raises(HashListError) as err:
        update_list(str(target), "https://127.0.0.1:9/x.libra", publisher_keys=keys.pins, timeout=5)
    assert str(err.value).startswith("https://127.0.0.1:9/x.libra: unreachable (")
    with pytest.raises(HashListError, match=r"only https:// URLs are fetched"):
        update_list(str(target), "http://127.0.0.1:9/x.libra", publisher_keys=keys.pins)
    assert leftovers(target.parent) == []


# --- a scan honours the key pinned beside a list ---------------------------------------------------------


def _scan_lists(tmp_path: Path, keys: Keys, photos: Path, lists: Path, *extra: str) -> tuple[int, str, str]:
    from scanhelp import cli

    identity = tmp_path / "host.key"
    identity.write_text(f"{keys.identity}\n")
    identity.chmod(0o600)
    uploads = tmp_path / "uploads"
    uploads.mkdir(exist_ok=True)
    (uploads / "a.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    return cli("scan", str(uploads), "-l", str(lists), "--identity", str(identity), "-w", "1", *extra)


def test_scan_refuses_a_list_not_signed_by_its_pinned_key(tmp_path: Path, keys: Keys, photos: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    keys.make(lists / "hot.libra", "2025-01-01T00:00:00+00:00", sign=keys.other)  # signed by someone else
    (lists / "hot.pub").write_bytes(keys.pub.read_bytes())  # ... than the publisher pinned for it
    code, out, err = _scan_lists(tmp_path, keys, photos, lists)
    assert code == 2 and out == ""
    assert err.startswith("libra: hashlist hot.libra: signature does not match publisher key ")
    assert err.rstrip().endswith(f"its publisher key is pinned in {lists / 'hot.pub'}") and err.count("\n") == 1
    # the right signer passes, with no key on the command line and no warning about verification
    keys.make(lists / "hot.libra", "2025-01-01T00:00:00+00:00")
    code, out, err = _scan_lists(tmp_path, keys, photos, lists, "-o", str(tmp_path / "f.json"))
    assert code == 0, err
    assert "not verified" not in err


def test_scan_warns_once_per_list_checked_against_no_key(tmp_path: Path, keys: Keys, photos: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    entries = [Entry("md5", md5("u"), id="u")]
    write_hashlist(
        HashList.from_entries(ListInfo(name="plain"), entries), str(lists / "plain.libra"), recipients=[keys.recipient]
    )
    keys.make(lists / "signed.libra", "2025-01-01T00:00:00+00:00")  # signed, but no key to check it against
    code, _, err = _scan_lists(tmp_path, keys, photos, lists, "-o", str(tmp_path / "f.json"))
    assert code == 0, err
    warned = [line for line in err.splitlines() if "list not verified against a publisher key" in line]
    assert len(warned) == 2 and all(" WARNING " in line for line in warned), err
    assert "name=plain " in warned[0] and "signature=unsigned" in warned[0]
    assert "name=signed " in warned[1] and "signature=unverified" in warned[1]
