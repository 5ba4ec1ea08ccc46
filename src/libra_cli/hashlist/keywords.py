"""Keyword lists: a hotline's (often licensed) words for file and folder names, in the hash lists' container.

Same file as a hash list (``container.py``: magic line, public header, age ciphertext, Ed25519
signature; encrypt-then-sign) and the same payload (``payload.py``'s ``.npz`` with a ``meta`` record bound
to the public header); only the payload's ``meta.kind`` is ``"keywords"`` and it holds the keywords
instead of hash columns. No new cipher, no new secret format: ``libra hashlist build --keywords
SOURCE.txt`` writes one, ``libra scan --suspected --keywords LIST`` reads it with the host's identity.
A hash list given as a keyword list, or the other way round, is refused in one sentence.

Source: UTF-8 text, one keyword or phrase per line; blank lines and ``#`` comments are skipped.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..context.keywords import KeywordList, words
from ..errors import HashListError, LibraError
from ..fileio import open_regular, read_regular
from . import container, payload
from .build import encrypt, now_utc, write_atomic
from .keys import Identity, Recipient

__all__ = ["KIND", "MAX_KEYWORDS", "load_keywords", "pack_keywords", "read_source", "write_keywords"]

KIND = "keywords"
#: A keyword list holds at most this many keywords (each at most ``MAX_LENGTH`` characters).
MAX_KEYWORDS, MAX_LENGTH = 1_000_000, 200


def read_source(path: str) -> list[str]:
    """The keywords of a text source, in order, without duplicates (as words: ``Holiday-Beach`` = ``holiday beach``)."""
    data = read_regular(path, "keywords", "keyword source", HashListError)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HashListError(f"keywords {path}: is not UTF-8 text") from None
    seen: dict[tuple[str, ...], str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_LENGTH:
            raise HashListError(f"keywords {path}: line {number} is longer than {MAX_LENGTH} characters")
        cut = words(line)
        if not cut:
            raise HashListError(f"keywords {path}: line {number} holds no letters or digits")
        seen.setdefault(cut, " ".join(cut))
    if not seen:
        raise HashListError(f"keywords {path}: holds no keywords")
    if len(seen) > MAX_KEYWORDS:
        raise HashListError(f"keywords {path}: holds more than {MAX_KEYWORDS} keywords")
    return list(seen.values())


def encode(name: str, keywords: Sequence[str], header: dict[str, Any], description: str = "") -> bytes:
    """The payload: ``payload.py``'s layout with ``meta.kind = "keywords"`` and no hash columns."""
    meta = {
        "libra_payload": payload.PAYLOAD_VERSION,
        "kind": KIND,
        "name": name,
        "description": description,
        "header": header,
        "columns": {},
        "keywords": list(keywords),
    }
    out = io.BytesIO()
    np.savez(out, allow_pickle=False, meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), np.uint8))
    return out.getvalue()


def pack_keywords(
    name: str,
    keywords: Sequence[str],
    *,
    recipients: Sequence[Recipient] = (),
    passphrase: str | None = None,
    sign_key: Ed25519PrivateKey | None = None,
    description: str = "",
) -> bytes:
    header = container.public_header(now_utc(), sign_key)
    ciphertext = encrypt(encode(name, keywords, header, description), recipients, passphrase)
    return container.pack(ciphertext, header, sign_key)


def write_keywords(path: str, name: str, keywords: Sequence[str], **keys: Any) -> str:
    """Encrypt, sign and atomically write a keyword list; return the file's SHA-256."""
    import hashlib

    data = pack_keywords(name, keywords, **keys)
    write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def load_keywords(
    path: str,
    *,
    identities: Sequence[Identity] = (),
    passphrase: str | None = None,
    publisher_keys: Sequence[Ed25519PublicKey] = (),
) -> KeywordList:
    """Verify, decrypt (in memory) and read a keyword list; every failure is one sentence naming the file."""
    try:
        return _load(path, identities, passphrase, publisher_keys)
    except LibraError as err:
        text = str(err)
        if text.startswith("hashlist "):
            text = "keyword list " + text[len("hashlist ") :]
        raise type(err)(text) from None


def _load(
    path: str, identities: Sequence[Identity], passphrase: str | None, keys: Sequence[Ed25519PublicKey]
) -> KeywordList:
    from .load import _decrypt

    if container.sniff(path) != "libra":
        raise HashListError(f"hashlist {container.list_name(path)}: is not a libra list file")
    with open_regular(path, "hashlist", "keyword list", HashListError) as handle:
        box = container.read(path, handle=handle)
        container.verify(box, keys)
        reader = container.CiphertextReader(box, handle)
        with reader as stream:
            plaintext = _decrypt(box.name, stream, identities, passphrase)
            reader.check()
    meta = payload.read_meta(plaintext, box.name)
    if meta.get("kind") != KIND:
        raise HashListError(f"hashlist {box.name}: is a hash list, not a keyword list (give it with --list)")
    public = {k: v for k, v in box.header.items() if k != "payload_bytes"}
    if meta.get("header") != public:
        raise HashListError(
            f"hashlist {box.name}: its public header does not match its encrypted contents (the header was altered)"
        )
    found = meta.get("keywords")
    if not isinstance(found, list) or not all(isinstance(k, str) for k in found) or len(found) > MAX_KEYWORDS:
        raise HashListError(f"hashlist {box.name}: its keywords are not a list of words")
    return KeywordList.of(str(meta.get("name") or box.name), found)
