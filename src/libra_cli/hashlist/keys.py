"""Key files: age identities and recipients (encryption), Ed25519 publisher keys (signatures).

Keys are read from files or named environment variables only, never from a command-line value, and
never appear in an error message: errors name the file, not its contents.

>>> recipient = generate_identity("host.key")          # doctest: +SKIP
>>> identities = load_identities(["host.key"])         # doctest: +SKIP
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyrage import x25519

from ..errors import KeyFileError
from ..fileio import read_regular

#: Environment variable naming an identity file, used when no ``--identity`` is given.
IDENTITY_ENV = "LIBRA_IDENTITY"

#: Any age identity object pyrage accepts for decryption.
Identity = Any
#: Any age recipient object pyrage accepts for encryption.
Recipient = Any


def fingerprint(key: Ed25519PublicKey) -> str:
    """Short, stable name of a publisher key: first 16 hex digits of SHA-256 of its raw bytes.

    Shown to people and stored in a list's public header; verification always uses the key itself.
    """
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16].upper()


def public_key_b64(key: Ed25519PublicKey) -> str:
    """The raw public key as base64, the form a list header carries."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Inverse of ``public_key_b64``; ``ValueError`` for anything that is not a 32-byte key."""
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


log = logging.getLogger("libra.keys")

#: Key and recipient files are a few lines; anything larger is the wrong file.
MAX_KEY_FILE = 1024 * 1024


#: What a key looks like when it is pasted where the path of its file belongs.
_KEY_MARKERS = ("AGE-SECRET-KEY-1", "AGE-PLUGIN-", "-----BEGIN ")


def _read(path: str, what: str) -> bytes:
    if any(marker in path.upper() for marker in _KEY_MARKERS):
        # Never echo it: error lines end up in cron mail and the journal.
        raise KeyFileError(
            f"the {what} given looks like a key itself, not the path of a file; "
            "libra takes keys only from files (pass the file's path)"
        )
    return read_regular(path, what, "key file", KeyFileError, limit=MAX_KEY_FILE)


def _key_lines(data: bytes, path: str, what: str) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{what} {path}: is not a text key file") from None
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


def _warn_if_shared(path: str) -> None:
    """A secret key others can read is a leak waiting to happen: say so (as ssh does), but go on."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return
    if mode & 0o077:
        log.warning("key file %s can be read by other users (mode %03o); run: chmod 600 %s", path, mode, path)


_PUBLIC_STARTS = ("-----BEGIN PUBLIC KEY", "ssh-", "ecdsa-sha2-", "sk-ssh-", "age1")


def _refuse_wrong_key(path: str, lines: Sequence[str]) -> None:
    """A public key or a signing key given as ``--identity``: say what it is before any other advice
    (asking to ``chmod 600`` a public key would send the user the wrong way)."""
    if any(line.upper().startswith(("AGE-SECRET-KEY-", "AGE-PLUGIN-")) for line in lines):
        return
    if any(line.startswith(_PUBLIC_STARTS) for line in lines) or (path.endswith(".pub") and lines):
        raise KeyFileError(
            f"identity file {path}: this is a public key; --identity needs the private identity file "
            "(AGE-SECRET-KEY-1…, made by 'libra keygen')"
        )
    if any("PRIVATE KEY-----" in line for line in lines):
        raise KeyFileError(
            f"identity file {path}: is a signing key, not an age identity; --identity needs the file made by "
            "'libra keygen' (AGE-SECRET-KEY-1…)"
        )


def load_identities(paths: Sequence[str]) -> list[Identity]:
    """Read age identities (``AGE-SECRET-KEY-1…`` lines; ``#`` comments allowed), as ``age-keygen`` writes.

    >>> load_identities(["host.key"])   # doctest: +SKIP
    [<builtins.Identity object at ...>]
    """
    identities: list[Identity] = []
    for path in paths:
        lines = _key_lines(_read(path, "identity file"), path, "identity file")
        _refuse_wrong_key(path, lines)
        _warn_if_shared(path)  # only for a file that is meant to be secret
        if not lines:
            raise KeyFileError(f"identity file {path}: contains no AGE-SECRET-KEY-1 line")
        for number, line in enumerate(lines, 1):
            try:
                identities.append(x25519.Identity.from_str(line))
            except Exception:
                raise KeyFileError(
                    f"identity file {path}: key {number} is not a valid age identity (AGE-SECRET-KEY-1…)"
                ) from None
    return identities


def resolve_identities(paths: Sequence[str], env: Mapping[str, str] | None = None) -> list[Identity]:
    """Identities from ``--identity`` values, or else from the file named by ``LIBRA_IDENTITY`` (or none)."""
    if paths:
        return load_identities(paths)
    environ = os.environ if env is None else env
    fallback = environ.get(IDENTITY_ENV, "").strip()
    return load_identities([fallback]) if fallback else []


def passphrase_from_env(var: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The passphrase held by environment variable ``var`` (named by ``--passphrase-env``), if one is named.

    A passphrase is never accepted as a command-line value: it would land in shell history and ``ps``.
    """
    if not var:
        return None
    environ = os.environ if env is None else env
    value = environ.get(var)
    if not value:
        raise KeyFileError(f"environment variable {var} (from --passphrase-env) is not set or empty")
    return value


def parse_recipient(text: str, where: str = "recipient", *, echo: bool = True) -> Recipient:
    """One ``age1…`` recipient string; the error names where it came from, not a key.

    A line from a file is never echoed (``echo=False``): the wrong file may hold a secret.
    """
    if text.strip().upper().startswith("AGE-SECRET-KEY-"):
        exposed = "" if not echo else " (and treat the secret as exposed: it was typed on a command line)"
        raise KeyFileError(f"{where}: that is a secret identity, not a recipient; give the age1… public key{exposed}")
    try:
        return x25519.Recipient.from_str(text.strip())
    except Exception:
        if not echo:
            raise KeyFileError(f"{where}: is not an age recipient (age1…)") from None
        shown = text.strip()
        shown = shown if len(shown) <= 80 else shown[:20] + "…"
        raise KeyFileError(f"{where}: {shown!r} is not an age recipient (age1…)") from None


def load_recipients(values: Sequence[str], files: Sequence[str] = ()) -> list[Recipient]:
    """Recipients from ``--recipient`` values and ``--recipients-file`` files (one per line, like ``age -R``)."""
    recipients = [parse_recipient(value) for value in values]
    for path in files:
        lines = _key_lines(_read(path, "recipients file"), path, "recipients file")
        if not lines:
            raise KeyFileError(f"recipients file {path}: contains no age1… recipient")
        for number, line in enumerate(lines, 1):
            recipients.append(parse_recipient(line, f"recipients file {path} entry {number}", echo=False))
    return recipients


def load_signing_key(path: str) -> Ed25519PrivateKey:
    """A publisher's Ed25519 private key: PEM (PKCS#8, as ``libra hashlist keygen`` writes) or OpenSSH."""
    data = _read(path, "signing key")
    key: object
    try:
        if data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY"):
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"signing key {path}: is passphrase-protected, which libra does not support") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"signing key {path}: is not a PEM or OpenSSH private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"signing key {path}: is not an Ed25519 key")
    return key


def load_publisher_keys(paths: Sequence[str]) -> list[Ed25519PublicKey]:
    """Publishers' Ed25519 public keys: PEM (as ``libra hashlist keygen`` writes) or an ``ssh-ed25519`` line."""
    keys: list[Ed25519PublicKey] = []
    for path in paths:
        data = _read(path, "publisher key").strip()
        key: object
        try:
            if data.startswith(b"ssh-"):
                key = serialization.load_ssh_public_key(data)
            else:
                key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            if b"PRIVATE KEY" in data:
                raise KeyFileError(
                    f"publisher key {path}: is a private signing key; give its public half ({path}.pub) "
                    "and keep this file secret"
                ) from None
            raise KeyFileError(f"publisher key {path}: is not a PEM or ssh-ed25519 public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"publisher key {path}: is not an Ed25519 key")
        keys.append(key)
    return keys


def _create_private(path: str, data: bytes) -> None:
    """Write a secret file readable by its owner only, refusing to replace an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; libra never overwrites a key (move it away first)") from None
    except OSError as err:
        raise KeyFileError(f"{path}: cannot be created ({err.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as err:  # a full disk, an interrupt: leave no half-written secret behind
        with contextlib.suppress(OSError):
            os.unlink(path)
        if isinstance(err, OSError):
            raise KeyFileError(f"{path}: cannot be written ({err.strerror or err})") from None
        raise


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def generate_identity(path: str) -> str:
    """Write a new age identity to ``path`` (mode 0600, in ``age-keygen`` format) and return its recipient."""
    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    text = f"# created: {_now()}\n# public key: {recipient}\n{identity}\n"
    _create_private(path, text.encode("ascii"))
    return recipient


def generate_signing_key(path: str) -> tuple[str, str]:
    """Write a publisher key pair: ``path`` (private, PEM, 0600) and ``path.pub`` (public, PEM).

    Returns ``(public key path, fingerprint)``.
    """
    pub_path = path + ".pub"
    if os.path.exists(pub_path):
        raise KeyFileError(f"{pub_path} already exists; libra never overwrites a key (move it away first)")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    _create_private(path, private)
    try:
        with open(pub_path, "xb") as handle:
            handle.write(public)
    except OSError as err:
        os.unlink(path)  # no half-made pair: a private key without its public half is useless
        raise KeyFileError(f"{pub_path}: cannot be created ({err.strerror})") from None
    return pub_path, fingerprint(key.public_key())
