"""Exact digests (MD5, SHA-1, SHA-256, BLAKE3), all computed in one pass over the bytes.

Exact digests are what most industry lists carry, and they need no decoding, so they are computed
for every file, media or not, decodable or not. MD5 is created with ``usedforsecurity=False`` so it
works on FIPS-mode systems: here it identifies files, it protects nothing.

>>> digest_all(b"abc", ("md5", "sha256"))["md5"]
'900150983cd24fb0d6963f7d28e17f72'
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import cast

import blake3 as _blake3

from .base import Digest, ExactHasher, Example, exact, register

#: Bytes fed to every digest per step: small enough to stay in CPU cache while each digest reads it.
CHUNK_SIZE = 1 << 20


class _Exact(ExactHasher):
    def __init__(self, name: str, factory: Callable[[], Digest], vectors: dict[bytes, str]) -> None:
        self.name = name  # type: ignore[misc]  # set per instance: one class serves four digests
        self._factory = factory
        self._vectors = vectors

    def new(self) -> Digest:
        return self._factory()

    def examples(self) -> Sequence[Example]:
        return [Example(repr(data), _constant(data), hexdigest) for data, hexdigest in self._vectors.items()]


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


# Published test vectors (RFC 1321, FIPS 180, the BLAKE3 reference).
MD5 = register(
    _Exact(
        "md5",
        lambda: hashlib.md5(usedforsecurity=False),
        {b"": "d41d8cd98f00b204e9800998ecf8427e", b"abc": "900150983cd24fb0d6963f7d28e17f72"},
    )
)
SHA1 = register(
    _Exact(
        "sha1",
        lambda: hashlib.sha1(usedforsecurity=False),
        {b"": "da39a3ee5e6b4b0d3255bfef95601890afd80709", b"abc": "a9993e364706816aba3e25717850c26c9cd0d89d"},
    )
)
SHA256 = register(
    _Exact(
        "sha256",
        hashlib.sha256,
        {
            b"": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            b"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        },
    )
)
BLAKE3 = register(
    _Exact(
        "blake3",
        lambda: cast(Digest, _blake3.blake3()),
        {
            b"": "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
            b"abc": "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
        },
    )
)


def digest_all(data: bytes, names: Iterable[str]) -> dict[str, str]:
    """Every digest in ``names`` over ``data`` as hex (for people and list sources)."""
    return {name: value.hex() for name, value in raw_digests(data, names).items()}


def raw_digests(data: bytes | memoryview, names: Iterable[str]) -> dict[str, bytes]:
    """Every digest in ``names`` over ``data``, feeding each chunk to all of them before the next."""
    if len(data) <= CHUNK_SIZE:  # most files: one update each, no chunking (a per-file cost on every scan)
        out: dict[str, bytes] = {}
        for name, hasher in _hashers(names):
            digest = hasher.new()
            digest.update(data)
            out[name] = digest.digest()
        return out
    view = memoryview(data)
    return raw_digests_of_chunks((view[start : start + CHUNK_SIZE] for start in range(0, len(view), CHUNK_SIZE)), names)


_HASHERS: dict[tuple[str, ...], tuple[tuple[str, ExactHasher], ...]] = {}


def _hashers(names: Iterable[str]) -> tuple[tuple[str, ExactHasher], ...]:
    """The hashers of ``names``, looked up once per hash set (a registry look-up per file adds up)."""
    key = names if isinstance(names, tuple) else tuple(names)
    found = _HASHERS.get(key)
    if found is None:
        found = _HASHERS[key] = tuple((name, exact(name)) for name in key)
    return found


def raw_digests_of_chunks(chunks: Iterable[bytes | memoryview], names: Iterable[str]) -> dict[str, bytes]:
    """Every digest in ``names`` over a stream of chunks (a file too large to hold in memory), raw."""
    digests = {name: exact(name).new() for name in names}
    if not digests:
        for _ in chunks:  # still read it all: the caller may be hashing the same bytes another way
            pass
        return {}
    for chunk in chunks:
        for digest in digests.values():
            digest.update(chunk)
    return {name: digest.digest() for name, digest in digests.items()}
