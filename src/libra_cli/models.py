"""Frozen value types that flow source -> engine -> match stage -> sinks.

Everything here is small and immutable. A worker receives a ``MediaRef`` and a ``HashConfig`` and
sends back what becomes a ``HashResult``: raw digests and perceptual hash arrays (hex appears only at
the output edge). None of them ever holds media bytes or pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Where a file is, and what identifies its current version. Never its bytes.

    ``uri`` is an absolute local path or a ``scheme://`` URI (``s3://bucket/key``). Local files are
    identified by inode, size, ``mtime_ns`` and ``ctime_ns`` (not the device number, which changes
    across remounts and network-filesystem clients); objects by ETag and version id.
    """

    uri: str
    size: int
    mtime_ns: int | None = None
    inode: int | None = None
    ctime_ns: int | None = None
    etag: str | None = None
    version_id: str | None = None

    @property
    def mtime(self) -> float | None:
        """Modification time in seconds since the epoch (for people and filters)."""
        return None if self.mtime_ns is None else self.mtime_ns / 1e9


@dataclass(frozen=True)
class StorageOptions:
    """How to reach storage: endpoint and credentials for object stores. Frozen and picklable, so each
    worker process builds its own backend (one client) from it."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    path_style: bool = False  #: ``https://host/bucket/key`` addressing (MinIO, Ceph)
    all_versions: bool = False  #: noncurrent object versions too (a "deleted" upload lingers in them)
    extra: tuple[tuple[str, str], ...] = ()  #: options of plug-in backends, as (key, value) pairs


@dataclass(frozen=True)
class ArchiveLimits:
    """Bomb guards for archives opened in memory (``media/archive.py``), ClamAV's kind of limits.

    Every limit counts over one archive file as a whole, nested archives included: ``max_members``
    members, ``max_size`` inflated bytes, nesting ``max_depth`` archives deep; a member above
    ``max_member_size`` or compressed more than ``max_ratio`` to one is listed, never inflated.
    """

    max_depth: int = 5
    max_members: int = 10_000
    max_size: int = 1024**3
    max_member_size: int = 256 * 1024**2
    max_ratio: int = 100


@dataclass(frozen=True)
class HashConfig:
    """What a worker computes. Frozen and picklable: it is sent to every worker process once.

    ``digests`` and ``perceptual`` name signal types (see ``libra_cli.signals``): the hash set.
    """

    digests: tuple[str, ...] = ("md5", "sha256")
    perceptual: tuple[str, ...] = ("pdq",)
    dihedral: bool = True  #: also compute the 7 mirrored/rotated PDQ variants (query side)
    robust: bool = False  #: list-side robust variants (``libra hash --robust``)
    #: Query-side region hashes besides the whole picture's (``--deep``): the picture inside a larger
    #: one and the four corner windows (hashers/regions.py). Borders are trimmed in every mode.
    deep: bool = False
    #: Files up to this size are read whole into memory; larger ones are streamed (digests in one
    #: sequential pass; video decoders read the stream), so a 4 GB video is never held whole.
    max_in_memory: int = 256 * 1024 * 1024
    max_pixels: int = 64_000_000  #: decompression-bomb guard
    video_fps: float = 1.0  #: sampled video frames per second (vPDQ's convention), plus the first frame
    max_frames: int = 7200  #: at most this many kept frames per video
    #: Modules that register plug-ins (signal types, storage backends) from outside the package: worker
    #: processes import them at start, so a plug-in registered in the parent works in every worker.
    plugins: tuple[str, ...] = ()
    storage: StorageOptions = field(default_factory=StorageOptions)  #: how workers open references
    #: ZIP and TAR files are opened in memory and their members hashed too (``None``: plain files).
    archives: ArchiveLimits | None = None


@dataclass(frozen=True)
class PerceptualHash:
    """One perceptual hash as a hasher computes it (hex); the worker packs them into ``HashValues``."""

    hash_type: str
    value: str
    quality: int | None = None
    frame_time: float | None = None
    variant: str = "original"  #: the transform applied to the picture before hashing (``mirror``, ...)


@dataclass(frozen=True, eq=False)
class HashValues:
    """Every value of one perceptual hash type for one file: an image and its variants, or video frames.

    ``values`` is ``(k, nbytes)`` raw bytes; ``quality`` (0-100) and ``times`` (seconds into a video)
    are ``(k,)`` or ``None``; ``transforms`` names what was done to the file before hashing each row
    (``original``, ``mirror``, ``rot90``, a region, ...).
    """

    hash_type: str
    values: U8
    transforms: tuple[str, ...]
    quality: U8 | None = None
    times: F32 | None = None

    def __len__(self) -> int:
        return len(self.values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HashValues):
            return NotImplemented
        return (
            self.hash_type == other.hash_type
            and self.transforms == other.transforms
            and np.array_equal(self.values, other.values)
            and _same(self.quality, other.quality)
            and _same(self.times, other.times)
        )

    __hash__ = None  # type: ignore[assignment]  # arrays inside: compared by value, never hashed


def _same(a: npt.NDArray[np.generic] | None, b: npt.NDArray[np.generic] | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


@dataclass(frozen=True)
class Member:
    """Where an archive member is: the archive file's location, and the member names from it inward.

    ``Member("/srv/a.zip", ("b.tar", "c.jpg"))`` is shown as ``/srv/a.zip!b.tar!c.jpg``. The names
    are names only (``../../etc/x``): libra never uses them as paths.
    """

    archive: str
    path: tuple[str, ...]
    #: The archive file as the worker read it: the parent opens it again (identity checked) only to
    #: complete a finding's digests.
    ref: MediaRef | None = field(default=None, compare=False)

    @property
    def location(self) -> str:
        return "!".join((self.archive, *self.path))


@dataclass(frozen=True)
class HashResult:
    """What a worker learned about one file. ``error`` says why it could not be fully hashed.

    ``computed`` is the hash set this result holds (the names of every type computed), so stored
    results can tell which future lists they can serve. ``ref`` is the file as the worker found it
    (its size and times may be newer than the walk's).
    """

    ref: MediaRef
    media_type: str | None
    digests: Mapping[str, bytes] = field(default_factory=dict)
    perceptual: tuple[HashValues, ...] = ()
    computed: frozenset[str] = frozenset()
    error: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None  #: seconds, for videos
    #: ``True`` when the file could not be covered at all (unreadable, gone, hung): exit code 2.
    fatal: bool = False
    #: An archive's members, nested ones included, each a result of its own (``media/archive.py``).
    members: tuple[HashResult, ...] = ()
    #: Set on a member's result: which archive holds it, and the names leading to it.
    member: Member | None = None

    def hex_digests(self) -> dict[str, str]:
        return {name: value.hex() for name, value in self.digests.items()}


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
    #: Which hash of the listed picture this is (``libra hash --robust`` lists many per picture):
    #: ``original``, ``real-mirror``, ``crop5-center``, ``region:tl75``, ... ``None``: the list does not say.
    variant: str | None = None
    #: A frame of a listed video (``vpdq``): its time in seconds and PDQ quality. Rows of one video share
    #: the entry ``id``; the video rule (match/video.py) compares them as a timeline, not one by one.
    time: float | None = None
    quality: int | None = None


@dataclass(frozen=True)
class VideoEvidence:
    """Why a scanned video matched a listed video (``match.video.compare``): shares of matching frames on
    both sides, and the first and last matching times (seconds) in the file and in the listed video."""

    query_share: float
    listed_share: float
    first_time: float
    last_time: float
    listed_first_time: float
    listed_last_time: float
    speed: float  #: listed seconds per file second along the alignment (2.0: the file runs at half speed)
    matched_frames: int  #: the file's frames matched along the alignment


@dataclass(frozen=True)
class Match:
    """A file hash that matched one list entry.

    ``transform`` says how the file relates to the listed picture, both sides' variants composed
    (``mirror``: the file is the listed picture mirrored; ``rot90``: turned a quarter
    counter-clockwise); ``original`` when it is as listed, up to the edits ``list_variant`` and
    ``query_variant`` name. ``query_variant`` is which of the file's hashes matched (``original``, a
    dihedral variant, ``trim``, ``inset``, ``region:tl75``), ``list_variant`` which of the listed
    picture's (``None`` when the list does not record it).
    """

    method: str  #: ``exact`` or ``perceptual``
    hash_type: str
    distance: int
    list: str
    entry: Entry
    frame_time: float | None = None
    transform: str = "original"
    quality: int | None = None
    query_variant: str | None = None
    list_variant: str | None = None
    video: VideoEvidence | None = None  #: set when a video matched a listed video by the video rule


@dataclass(frozen=True)
class Finding:
    """One location that matched (or is suspected): what a findings file records. Never media."""

    ref: MediaRef
    media_type: str | None
    digests: Mapping[str, bytes]
    matches: tuple[Match, ...]
    suspected: Mapping[str, object] | None = None  #: ``{"score", "reasons"}`` from context signals
    warning: str | None = None  #: a non-fatal problem with the same file (undecodable: digests only)
    member: Member | None = None  #: set when the location is a member of an archive

    @property
    def location(self) -> str:
        return self.ref.uri


@dataclass(frozen=True)
class ScanError:
    """A location the scan could not fully cover, and why (one plain sentence).

    ``fatal`` errors (unreadable, unreachable, hung) mean the file was not covered at all and make the
    exit code 2; non-fatal ones (undecodable image, vanished mid-scan) are listed but do not.
    """

    location: str
    reason: str
    fatal: bool = True


@dataclass(frozen=True)
class Skip:
    """A file the scan saw but did not look at, and why.

    ``listed`` skips (over the size limit, not a regular file, a symlink not followed) are written to
    the findings one by one, so an auditor can see every file that was not hashed. The rest are the
    user's own filters (``--exclude``, ``--since``, unchanged since the last run): counted per ``rule``.
    """

    location: str
    reason: str
    rule: str
    listed: bool = True
