"""The ``.libra`` file: magic line, public JSON header, age ciphertext, optional Ed25519 signature.

Encrypt-then-sign, so ``libra hashlist verify`` checks a publisher's signature without any decryption key,
and a damaged or altered file is refused before a single byte is decrypted. See docs/hashlist-format.md.

    libra-hashlist v1\\n
    {"created":…,"encryption":"age","format":1,"payload_bytes":N,"signature":"ed25519",…}\\n
    <N bytes of age ciphertext>
    \\nsignature ed25519 <base64 of 64 bytes>\\n        (signed lists only)
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import HashListError, SignatureError
from ..fileio import open_regular
from .keys import fingerprint, public_key_b64, public_key_from_b64

FORMAT_VERSION = 1
MAGIC_PREFIX = b"libra-hashlist v"
MAGIC = MAGIC_PREFIX + str(FORMAT_VERSION).encode() + b"\n"
#: Signed message = this context string + SHA-256 of everything before the signature block.
SIGNATURE_CONTEXT = b"libra-hashlist signature v1\n"
SIG_PREFIX = b"\nsignature ed25519 "
SIG_LEN = len(SIG_PREFIX) + 88 + 1  # base64 of 64 bytes, then a newline
MAX_HEADER = 64 * 1024
AGE_MAGICS = (b"age-encryption.org/", b"-----BEGIN AGE ENCRYPTED FILE-----")
_CHUNK = 1 << 20
REQUIRED_FIELDS = frozenset({"format", "encryption", "payload_bytes", "signature", "signer", "signer_key"})


def list_name(path: str) -> str:
    """How errors name a list: its file name (``ncmec.libra``)."""
    return os.path.basename(path) or path


@dataclass(frozen=True)
class Container:
    """A parsed, structurally sound list file. The ciphertext stays on disk until it is decrypted."""

    path: str
    header: Mapping[str, Any]
    cipher_offset: int
    cipher_length: int
    signature: bytes | None
    signed_digest: bytes  #: SHA-256 of magic + header line + ciphertext
    sha256: str  #: SHA-256 of the whole file
    display: str = ""  #: how errors name the list when ``path`` is a temporary name (an update in progress)

    @property
    def name(self) -> str:
        return self.display or list_name(self.path)

    @property
    def created(self) -> str | None:
        value = self.header.get("created")
        return value if isinstance(value, str) else None

    @property
    def expires(self) -> str | None:
        """When the publisher says the list stops being current (ISO 8601), if it says so."""
        value = self.header.get("expires")
        return value if isinstance(value, str) else None

    @property
    def signer(self) -> str | None:
        value = self.header.get("signer")
        return value if isinstance(value, str) else None


def _header_line(header: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(header), sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"


def _message(digest: bytes) -> bytes:
    return SIGNATURE_CONTEXT + digest


def pack(ciphertext: bytes, header: Mapping[str, Any], sign_key: Ed25519PrivateKey | None) -> bytes:
    """The complete file bytes for ``ciphertext`` under ``header`` (``payload_bytes`` is filled in here)."""
    full = dict(header)
    full["payload_bytes"] = len(ciphertext)
    body = MAGIC + _header_line(full) + ciphertext
    if sign_key is None:
        return body
    signature = sign_key.sign(_message(hashlib.sha256(body).digest()))
    return body + SIG_PREFIX + base64.b64encode(signature) + b"\n"


def public_header(created: str, sign_key: Ed25519PrivateKey | None, expires: str | None = None) -> dict[str, Any]:
    """The public header of a new list (everything but ``payload_bytes``). Never holds a list's contents.

    ``expires`` (ISO 8601) is optional and left out when not given, so a list without it is byte-for-byte
    what earlier libra versions wrote; readers that predate it ignore it (unknown fields are allowed).
    """
    header: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "encryption": "age",
        "created": created,
        "signature": None,
        "signer": None,
        "signer_key": None,
    }
    if expires is not None:
        header["expires"] = expires
    if sign_key is not None:
        public = sign_key.public_key()
        header.update(signature="ed25519", signer=fingerprint(public), signer_key=public_key_b64(public))
    return header


def sniff(path: str) -> str:
    """``'libra'``, ``'age'`` (a plain age file, e.g. from the stock ``age`` tool) or an error."""
    name = list_name(path)
    with open_regular(path, "hashlist", "hash list", HashListError) as handle:
        head = handle.read(64)
    if head.startswith(MAGIC):
        return "libra"
    if head.startswith(MAGIC_PREFIX):
        version = head[len(MAGIC_PREFIX) :].split(b"\n", 1)[0][:10].decode("ascii", "replace")
        raise HashListError(
            f"hashlist {name}: is in format version {version!r}; this libra reads version {FORMAT_VERSION} "
            "(upgrade libra)"
        )
    if head.lstrip().startswith(AGE_MAGICS):
        return "age"
    if not head:
        raise HashListError(f"hashlist {name}: is empty")
    raise HashListError(f"hashlist {name}: is not a libra hash list or an age-encrypted file")


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from a header as an aware UTC ``datetime`` (a bare date is its midnight UTC), else None.

    >>> parse_time("2025-02-01")
    datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    if not (isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable()):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _check_header(header: Any, name: str) -> dict[str, Any]:
    def bad(why: str) -> HashListError:
        return HashListError(f"hashlist {name}: its header is damaged ({why})")

    if not isinstance(header, dict):
        raise bad("not a JSON object")
    missing = sorted(REQUIRED_FIELDS - set(header))
    if missing:
        raise bad(f"missing {', '.join(missing)}")
    if header.get("format") != FORMAT_VERSION:
        raise bad(f"format {header.get('format')!r} does not match the magic line")
    if header.get("encryption") != "age":
        raise bad(f"unknown encryption {header.get('encryption')!r}")
    created = header.get("created")
    if created is not None and not (isinstance(created, str) and len(created) <= 64 and created.isprintable()):
        raise bad("created is not a time")  # printed before any check of who wrote it: no terminal escapes
    if "expires" in header and parse_time(header["expires"]) is None:
        raise bad("expires is not a time")
    length = header.get("payload_bytes")
    if not isinstance(length, int) or isinstance(length, bool) or length <= 0:
        raise bad("payload_bytes is not a positive number")
    signature = header.get("signature")
    if signature is None:
        if header.get("signer") is not None or header.get("signer_key") is not None:
            raise bad("it names a signer but no signature")
    elif signature == "ed25519":
        try:
            key = public_key_from_b64(str(header.get("signer_key")))
        except ValueError:
            raise bad("signer_key is not an Ed25519 public key") from None
        if fingerprint(key) != header.get("signer"):
            raise bad("signer does not match signer_key")
    else:
        raise bad(f"unknown signature algorithm {signature!r}")
    return header


def read(path: str, *, handle: BinaryIO | None = None, display: str = "") -> Container:
    """Parse and hash a ``.libra`` file without decrypting it (streams: memory stays small).

    With ``handle`` (an open file of ``path``), that file is read from its start and left open: a loader
    that keeps one handle from here to the decryption reads one version of the list, even if an update
    renames a new version into place meanwhile. ``display`` names the list in errors instead of ``path``.
    """
    if handle is None:
        with open_regular(path, "hashlist", "hash list", HashListError) as own:
            return _read(own, path, display)
    handle.seek(0)
    return _read(handle, path, display)


def _read(handle: BinaryIO, path: str, display: str) -> Container:
    name = display or list_name(path)
    size = os.fstat(handle.fileno()).st_size
    magic = handle.readline(len(MAGIC))
    if magic != MAGIC:
        raise HashListError(f"hashlist {name}: is not a libra hash list (bad magic line)")
    line = handle.readline(MAX_HEADER)
    if not line.endswith(b"\n"):
        raise HashListError(f"hashlist {name}: its header is damaged or truncated")
    try:
        header = _check_header(json.loads(line.decode("utf-8")), name)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise HashListError(f"hashlist {name}: its header is damaged (not JSON)") from None
    offset = len(magic) + len(line)
    length = int(header["payload_bytes"])
    signed = header["signature"] is not None
    expected = offset + length + (SIG_LEN if signed else 0)
    if size < expected:
        raise HashListError(f"hashlist {name}: is truncated ({size} of {expected} bytes)")
    if size > expected:
        raise HashListError(f"hashlist {name}: has {size - expected} unexpected bytes after its end")
    whole = hashlib.sha256(magic + line)
    body = hashlib.sha256(magic + line)
    remaining = length
    while remaining:
        chunk = handle.read(min(_CHUNK, remaining))
        if not chunk:
            raise HashListError(f"hashlist {name}: is truncated")
        whole.update(chunk)
        body.update(chunk)
        remaining -= len(chunk)
    signature: bytes | None = None
    if signed:
        block = handle.read(SIG_LEN)
        whole.update(block)
        if not (block.startswith(SIG_PREFIX) and block.endswith(b"\n")):
            raise SignatureError(f"hashlist {name}: its signature block is damaged")
        text = block[len(SIG_PREFIX) : -1]
        try:
            signature = base64.b64decode(text, validate=True)
        except ValueError:
            raise SignatureError(f"hashlist {name}: its signature block is damaged (not base64)") from None
        if base64.b64encode(signature) != text:  # base64 has spare bits: one signature, one spelling
            raise SignatureError(f"hashlist {name}: its signature block is damaged (not canonical base64)")
    return Container(path, header, offset, length, signature, body.digest(), whole.hexdigest(), display)


def verify(container: Container, publisher_keys: Sequence[Ed25519PublicKey] = ()) -> str | None:
    """Check the signature; return the signer's fingerprint (``None`` for an unsigned list without keys).

    The signature is always checked against the key the header names, so an altered file is refused
    even when no ``--publisher-key`` is given. With keys, the list must be signed by one of them.
    """
    name = container.name
    wanted = ", ".join(fingerprint(k) for k in publisher_keys)
    if container.signature is None:
        if publisher_keys:
            raise SignatureError(f"hashlist {name}: is not signed, but publisher key {wanted} is required")
        return None
    embedded = public_key_from_b64(str(container.header["signer_key"]))
    message = _message(container.signed_digest)
    try:
        embedded.verify(container.signature, message)
    except InvalidSignature:
        raise SignatureError(
            f"hashlist {name}: signature is invalid (the file was altered after signing by {container.signer})"
        ) from None
    if not publisher_keys:
        return container.signer
    for key in publisher_keys:
        try:
            key.verify(container.signature, message)
        except InvalidSignature:
            continue
        return fingerprint(key)
    raise SignatureError(
        f"hashlist {name}: signature does not match publisher key {wanted} (it was signed by {container.signer})"
    )


class _Window(io.RawIOBase):
    """A read-only view of ``length`` bytes of an open file that hashes what it hands out, so age streams
    the ciphertext from disk and the loader can prove it decrypted exactly the bytes it verified."""

    def __init__(self, handle: BinaryIO, length: int, digest: Any) -> None:
        self.handle = handle
        self.remaining = length
        self.digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self.remaining)
        if want <= 0:
            return 0
        data = self.handle.read(want)
        view[: len(data)] = data
        self.digest.update(data)
        self.remaining -= len(data)
        return len(data)


class CiphertextReader:
    """Context manager over a list's ciphertext; ``check()`` after decryption refuses a file that changed
    between the signature check and the decryption (the ciphertext is re-hashed as it streams)."""

    def __init__(self, container: Container, handle: BinaryIO | None = None) -> None:
        self.container = container
        self.digest = hashlib.sha256()
        self.given = handle  #: an open file the caller keeps (and closes): the very file ``read`` parsed
        self.handle: BinaryIO | None = None
        self.window: _Window | None = None

    def __enter__(self) -> io.BufferedReader:
        if self.given is not None:
            self.handle = self.given
            self.handle.seek(0)
        else:
            try:
                self.handle = open(self.container.path, "rb")
            except OSError as err:
                raise HashListError(f"hashlist {self.container.name}: cannot be read ({err.strerror})") from None
        self.digest.update(self.handle.read(self.container.cipher_offset))
        self.window = _Window(self.handle, self.container.cipher_length, self.digest)
        return io.BufferedReader(self.window, _CHUNK)

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None and self.given is None:
            self.handle.close()

    def check(self) -> None:
        if self.window is not None:  # age may stop before the end: hash what it did not read
            while self.window.read(_CHUNK):
                pass
        complete = self.window is not None and self.window.remaining == 0
        if not complete or self.digest.digest() != self.container.signed_digest:
            raise HashListError(f"hashlist {self.container.name}: changed on disk while it was being read")
