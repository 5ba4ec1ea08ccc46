"""The built-in signal types: four exact digests, PDQ (stills and video frames), pHash, dHash, PhotoDNA.

Thresholds and floors are PDQ's published defaults. The 64-bit hashes only corroborate: real photos are
far from uniform in 64 bits (on a held-out set of real photos, 15 of 2,516 unrelated photos came within 6
bits of an 80-photo list), so against a 5M-entry list a pHash or dHash match alone would be expected
hundreds of times per file; beside a PDQ or exact match of the same listed item, one confirms it
(docs/matching.md has the arithmetic).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..hashers.base import Hasher

from .base import DigestSignal, PerceptualSignal, Role, UnsupportedSignal, register


class Md5(DigestSignal):
    name: ClassVar[str] = "md5"
    nbytes: ClassVar[int] = 16
    hasher_name: ClassVar[str | None] = "md5"


class Sha1(DigestSignal):
    name: ClassVar[str] = "sha1"
    nbytes: ClassVar[int] = 20
    hasher_name: ClassVar[str | None] = "sha1"


class Sha256(DigestSignal):
    name: ClassVar[str] = "sha256"
    nbytes: ClassVar[int] = 32
    hasher_name: ClassVar[str | None] = "sha256"


class Blake3(DigestSignal):
    name: ClassVar[str] = "blake3"
    nbytes: ClassVar[int] = 32
    hasher_name: ClassVar[str | None] = "blake3"


class Pdq(PerceptualSignal):
    """PDQ of a still image (and, on the query side, of sampled video frames)."""

    name: ClassVar[str] = "pdq"
    nbytes: ClassVar[int] = 32
    family: ClassVar[str] = "pdq"
    default_threshold: ClassVar[int] = 31
    quality_floor: ClassVar[int | None] = 50
    media: ClassVar[frozenset[str]] = frozenset({"image", "video"})
    hasher_name: ClassVar[str | None] = "pdq"


class Vpdq(PerceptualSignal):
    """PDQ of one sampled video frame (Meta's vPDQ): the same kind of value as ``pdq``, one index."""

    name: ClassVar[str] = "vpdq"
    nbytes: ClassVar[int] = 32
    family: ClassVar[str] = "pdq"
    default_threshold: ClassVar[int] = 31
    quality_floor: ClassVar[int | None] = 50
    media: ClassVar[frozenset[str]] = frozenset({"video"})
    hasher_name: ClassVar[str | None] = "pdq"


class Phash(PerceptualSignal):
    """pHash (64 bits): reported beside a PDQ or exact match of the same item, never alone."""

    name: ClassVar[str] = "phash"
    nbytes: ClassVar[int] = 8
    family: ClassVar[str] = "phash"
    default_threshold: ClassVar[int] = 6
    role: ClassVar[Role] = "corroborate"
    hasher_name: ClassVar[str | None] = "phash"


class Dhash(PerceptualSignal):
    """dHash (64 bits): reported beside a PDQ or exact match of the same item, never alone."""

    name: ClassVar[str] = "dhash"
    nbytes: ClassVar[int] = 8
    family: ClassVar[str] = "dhash"
    default_threshold: ClassVar[int] = 6
    role: ClassVar[Role] = "corroborate"
    hasher_name: ClassVar[str | None] = "dhash"


class PhotoDna(UnsupportedSignal):
    """Microsoft's PhotoDNA: licensed, not computable here; lists may carry it."""

    name: ClassVar[str] = "photodna"


for _signal in (Md5(), Sha1(), Sha256(), Blake3(), Pdq(), Vpdq(), Phash(), Dhash(), PhotoDna()):
    register(_signal)


class Scene(PerceptualSignal):
    """Scene windows (76 x 64 bits, ``hashers/scene.py``): rank suspected files by crop-tolerant likeness to a
    match. Computed only with ``--suspected``; a list's scene column is never indexed, so it never matches."""

    name: ClassVar[str] = "scene"
    nbytes: ClassVar[int] = 8
    family: ClassVar[str] = "scene"
    role: ClassVar[Role] = "context"

    def hasher(self) -> Hasher:
        from ..hashers.scene import SCENE  # image libraries: only where hashing happens

        return SCENE


register(Scene())
