"""Open a list: check structure and signature first, then decrypt in memory only, then rebuild the columns.

>>> hashlist = load_hashlist("ncmec.libra", identities=load_identities(["host.key"]),
...                          publisher_keys=load_publisher_keys(["ncmec.pub"]))     # doctest: +SKIP

A plain age file (made by the stock ``age`` tool from a source such as a CSV or VICS JSON) loads too:
after decryption its content is recognised by the importers.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Sequence
from dataclasses import replace

import pyrage
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import HashListError, KeyFileError, LibraError, SignatureError
from ..fileio import open_regular, read_regular
from ..textsafe import one_line
from . import container, payload
from .build import dedupe
from .importers import decode_text, import_text
from .keys import Identity
from .table import HashList, ListInfo

_NEED_KEY = "give --identity FILE (or set LIBRA_IDENTITY), or --passphrase-env VAR for a passphrase list"


def _stanza_kind(head: bytes) -> str:
    """``'scrypt'`` for a passphrase-encrypted age file, else ``'recipients'`` (from the age header).

    An armored file (``age -a``) is base64 inside PEM-style lines: its first lines are decoded to look.
    """
    if head.lstrip().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
        lines = head.lstrip().split(b"\n")[1:-1]
        text = b"".join(line.strip() for line in lines if not line.startswith(b"-----"))
        try:
            head = base64.b64decode(text[: len(text) // 4 * 4])
        except ValueError:
            return "recipients"
    return "scrypt" if b"\n-> scrypt " in head else "recipients"


def _decrypt_error(name: str, err: Exception, kind: str) -> LibraError:
    text = str(err).lower()
    if "no matching keys" in text:
        if kind == "scrypt":
            return KeyFileError(f"hashlist {name}: is passphrase-encrypted; give --passphrase-env VAR")
        return KeyFileError(
            f"hashlist {name}: none of the given identities can decrypt it (it was encrypted to other recipients)"
        )
    if kind == "scrypt" and "decryption failed" in text:
        return KeyFileError(f"hashlist {name}: the passphrase does not decrypt it")
    return HashListError(f"hashlist {name}: its encrypted contents are damaged or truncated (age: {one_line(err)})")


def _decrypt(
    name: str,
    source: io.BufferedReader | bytes,
    identities: Sequence[Identity],
    passphrase: str | None,
) -> bytes:
    """Decrypt into memory; never to disk. ``source`` streams from the file or is the whole age file."""
    head = source[:4096] if isinstance(source, bytes) else source.peek(4096)[:4096]
    kind = _stanza_kind(head)
    if kind == "scrypt" and passphrase is None:
        raise KeyFileError(f"hashlist {name}: is passphrase-encrypted; give --passphrase-env VAR")
    if kind == "recipients" and not identities:
        if passphrase is not None:
            raise KeyFileError(f"hashlist {name}: is encrypted to age recipients, not a passphrase; give --identity")
        raise KeyFileError(f"hashlist {name}: needs a key to decrypt; {_NEED_KEY}")
    try:
        if kind == "scrypt":
            data = source if isinstance(source, bytes) else source.read()
            return bytes(pyrage.passphrase.decrypt(data, passphrase or ""))
        if isinstance(source, bytes):
            return bytes(pyrage.decrypt(source, list(identities)))
        out = io.BytesIO()
        pyrage.decrypt_io(source, out, list(identities))
        return out.getvalue()
    except (pyrage.DecryptError, pyrage.IdentityError) as err:
        raise _decrypt_error(name, err, kind) from None
    except (ValueError, OSError) as err:
        reason = one_line(err)
        raise HashListError(f"hashlist {name}: its encrypted contents are damaged or truncated ({reason})") from None


def _load_libra(
    path: str,
    identities: Sequence[Identity],
    passphrase: str | None,
    keys: Sequence[Ed25519PublicKey],
    display: str = "",
) -> HashList:
    # One open file from the structure check to the decryption: if ``libra hashlist update`` renames a new
    # version into place meanwhile, this load still reads the version it opened, whole (the old inode
    # lives while it is open), and a scan keeps the list it loaded for its whole run.
    with open_regular(path, "hashlist", "hash list", HashListError) as handle:
        box = container.read(path, handle=handle, display=display)
        signer = container.verify(box, keys)
        reader = container.CiphertextReader(box, handle)
        with reader as stream:
            plaintext = _decrypt(box.name, stream, identities, passphrase)
            reader.check()
    if not payload.is_payload(plaintext):
        raise HashListError(f"hashlist {box.name}: its decrypted contents are not a libra payload")
    hashlist, bound = payload.decode(plaintext, box.name)
    del plaintext
    public = {k: v for k, v in box.header.items() if k != "payload_bytes"}
    if bound != public:
        raise HashListError(
            f"hashlist {box.name}: its public header does not match its encrypted contents (the header was altered)"
        )
    status = "unsigned" if signer is None else ("verified" if keys else "unverified")
    info = replace(
        hashlist.info,
        format_version=container.FORMAT_VERSION,
        signer=signer,
        sha256=box.sha256,
        path=path,
        signature_status=status,
        expires=box.expires or "",
    )
    return HashList(info, hashlist.columns)


def _load_age(
    path: str, identities: Sequence[Identity], passphrase: str | None, keys: Sequence[Ed25519PublicKey]
) -> HashList:
    name = container.list_name(path)
    if keys:
        raise SignatureError(
            f"hashlist {name}: is a plain age file, which carries no publisher signature "
            "(publish with 'libra hashlist build --sign-key' to sign it)"
        )
    data = read_regular(path, "hashlist", "hash list", HashListError)
    digest = hashlib.sha256(data).hexdigest()
    plaintext = _decrypt(name, data, identities, passphrase)
    del data
    if payload.is_payload(plaintext):
        hashlist, _ = payload.decode(plaintext, name)
        info = hashlist.info
    else:
        entries = dedupe(import_text(decode_text(plaintext, name), name))
        if not entries:
            raise HashListError(f"hashlist {name}: its decrypted contents hold no entries")
        info = ListInfo(name=name.rsplit(".", 1)[0] if name.endswith(".age") else name)
        hashlist = HashList.from_entries(info, entries)
    info = replace(info, format_version=0, sha256=digest, path=path, signer=None, signature_status="unsigned")
    return HashList(info, hashlist.columns)


def load_hashlist(
    path: str,
    *,
    identities: Sequence[Identity] = (),
    passphrase: str | None = None,
    publisher_keys: Sequence[Ed25519PublicKey] = (),
    display: str = "",
) -> HashList:
    """Load, verify and decrypt the list at ``path`` (a ``.libra`` file or a plain age file).

    With ``publisher_keys``, the list must carry a valid signature by one of them (``SignatureError``
    otherwise). Every failure is a ``HashListError``/``SignatureError``/``KeyFileError`` whose message is one
    sentence naming the file (``display``, when given, names a ``.libra`` file in errors instead of its path,
    e.g. a new version under a temporary name). ``info.format_version`` is 0 for a plain age file.
    """
    kind = container.sniff(path)
    if kind == "age":
        return _load_age(path, identities, passphrase, publisher_keys)
    return _load_libra(path, identities, passphrase, publisher_keys, display)


def inspect(path: str, publisher_keys: Sequence[Ed25519PublicKey] = ()) -> container.Container | None:
    """Structure and signature of a list without decrypting it (``None`` for a plain age file)."""
    if container.sniff(path) == "age":
        if publisher_keys:
            raise SignatureError(
                f"hashlist {container.list_name(path)}: is a plain age file, which carries no publisher signature"
            )
        return None
    box = container.read(path)
    container.verify(box, publisher_keys)
    return box
