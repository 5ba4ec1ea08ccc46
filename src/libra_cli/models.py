"""Frozen value types that flow storage -> worker -> matcher -> findings.

Everything here is small, immutable and picklable: workers receive a ``MediaRef`` and a
``HashConfig`` and send back a ``HashResult``. None of them ever holds media bytes or pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Exact digests and their sizes in bytes.
DIGEST_SIZES: Mapping[str, int] = {"md5": 16, "sha1": 20, "sha256": 32, "blake3": 32}
#: Perceptual hashes and their sizes in bits. ``vpdq`` is a PDQ hash of one sampled video frame.
PERCEPTUAL_BITS: Mapping[str, int] = {"pdq": 256, "phash": 64, "dhash": 64, "vpdq": 256}
#: Hash types a list may carry but libra cannot compute (kept, counted, reported as unsupported).
UNSUPPORTED_TYPES: frozenset[str] = frozenset({"photodna"})
#: Every hash type a list entry may name.
HASH_TYPES: frozenset[str] = frozenset(DIGEST_SIZES) | frozenset(PERCEPTUAL_BITS) | UNSUPPORTED_TYPES


def hash_nbytes(hash_type: str) -> int:
    """Size in bytes of one value of ``hash_type`` (``KeyError`` for unsupported types)."""
    if hash_type in DIGEST_SIZES:
        return DIGEST_SIZES[hash_type]
    return PERCEPTUAL_BITS[hash_type] // 8


@dataclass(frozen=True)
class MediaRef:
    """Where a file is, and what identifies its current version. Never its bytes.

    ``uri`` is an absolute local path or a ``scheme://`` URI (``s3://bucket/key``).
    """

    uri: str
    size: int
    mtime: float | None = None
    etag: str | None = None
    inode: int | None = None
    device: int | None = None


@dataclass(frozen=True)
class HashConfig:
    """What a worker computes. Frozen and picklable: it is sent to every worker process once."""

    digests: tuple[str, ...] = ("md5", "sha256")
    perceptual: tuple[str, ...] = ("pdq", "phash", "dhash")
    dihedral: bool = True  #: also compute the 7 mirrored/rotated PDQ variants (query side)
    robust: bool = False  #: list-side robust variants (``libra hash --robust``)
    #: Files up to this size are read whole into memory and decoded; larger ones are streamed for their
    #: exact digests only (no decoder sees them), so a 4 GB video still matches an MD5 list.
    max_in_memory: int = 256 * 1024 * 1024
    max_pixels: int = 64_000_000  #: decompression-bomb guard


@dataclass(frozen=True)
class PerceptualHash:
    """One perceptual hash of an image or of one video frame, as lowercase hex."""

    hash_type: str
    value: str
    quality: int | None = None
    frame_time: float | None = None
    variant: str = "original"  #: e.g. ``mirror``, ``rot90``, ``crop5-center``


@dataclass(frozen=True)
class HashResult:
    """What a worker learned about one file. ``error`` says why decoding failed, if it did."""

    ref: MediaRef
    media_type: str | None
    digests: Mapping[str, str] = field(default_factory=dict)
    perceptual: tuple[PerceptualHash, ...] = ()
    error: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Entry:
    """One hash-list entry. ``value`` is normalised lowercase hex (or the raw value for unsupported types)."""

    hash_type: str
    value: str
    id: str | None = None
    label: str | None = None
    category: str | None = None
    source: str | None = None
    allow: bool = False


@dataclass(frozen=True)
class Match:
    """A file hash that matched one list entry."""

    method: str  #: ``exact`` or ``perceptual``
    hash_type: str
    distance: int
    list: str
    entry: Entry
    frame_time: float | None = None
    variant: str = "original"
    quality: int | None = None


@dataclass(frozen=True)
class Finding:
    """One location that matched (or is suspected): what a findings file records. Never media."""

    location: str
    size: int
    mtime: float | None
    media_type: str | None
    digests: Mapping[str, str]
    matches: tuple[Match, ...]
    suspected: bool = False


@dataclass(frozen=True)
class ScanError:
    """A location the scan could not fully cover, and why (one plain sentence).

    ``fatal`` errors (unreadable, unreachable) mean the file was not covered at all and make the
    exit code 2; non-fatal ones (undecodable image) still had their exact digests matched.
    """

    location: str
    reason: str
    fatal: bool = True
