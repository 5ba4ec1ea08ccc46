"""The worker function: one reference in, its hashes out. Pure, top-level, and it never writes.

``hash_ref`` runs in worker processes (or in-process for one worker). It opens the reference through
its storage backend (checked to be what the walk saw), reads it into memory when it fits, computes
the exact digests of the hash set (always: exact lists match undecodable and non-media files too),
recognises the media by magic bytes, decodes as little as the perceptual hashes need, and returns
raw bytes. Files too large for memory are streamed: digests in one sequential pass, and a media
hasher that can read a stream (video) gets its own stream. A bad file never raises: it comes back with
``error`` set to one plain sentence and whatever digests could be computed.

>>> from libra_cli.models import HashConfig, MediaRef
>>> result = hash_ref(MediaRef("/srv/a.jpg", 1234), HashConfig())  # doctest: +SKIP
>>> result.media_type, result.perceptual[0].transforms[:2]  # doctest: +SKIP
('image/jpeg', ('original', 'rot90'))
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import numpy as np

from . import signals
from .errors import ConfigError, FileTooLarge, LibraError
from .hashers.exact import raw_digests, raw_digests_of_chunks
from .media.sniff import HEAD_SIZE, sniff
from .models import ArchiveLimits, HashConfig, HashResult, HashValues, MediaRef, Member, PerceptualHash
from .storage import Changed, Gone, storage_for
from .textsafe import one_line
from .variants import AS_STORED

#: Image types that may hold several frames: each distinct frame is hashed with its time.
ANIMATED = frozenset({"image/gif", "image/webp", "image/png"})
#: Bytes per read when streaming a large file: big enough for throughput, small enough for a worker.
STREAM_CHUNK = 8 * 1024 * 1024

Heartbeat = Callable[[], None]


@dataclass(frozen=True)
class MediaSource:
    """What a media hasher reads: the bytes in memory, or a way to open a seekable stream of them."""

    ref: MediaRef
    media_type: str
    data: bytes | None
    opener: Callable[[], BinaryIO]
    heartbeat: Heartbeat | None = None

    def stream(self) -> BinaryIO:
        """A seekable stream over the media (in memory when it was read whole)."""
        return io.BytesIO(self.data) if self.data is not None else self.opener()


@dataclass(frozen=True)
class MediaHashes:
    """What a media hasher found: perceptual values, the picture's size, and a problem if there was one."""

    perceptual: tuple[HashValues, ...] = ()
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    error: str | None = None


class MediaHasher:
    """Computes perceptual hashes for one kind of media (``image``, ``video``).

    ``streams``: it can read a file too large to hold in memory (video decoders can, image decoders
    cannot). A new kind of media is one subclass and one ``register_media_hasher`` line.
    """

    kind: str = ""
    streams: bool = False

    def wants(self, config: HashConfig) -> tuple[str, ...]:
        """The perceptual types of ``config`` that apply to this kind of media."""
        return tuple(n for n in config.perceptual if self.kind in signals.get(n).media)

    def hash(self, source: MediaSource, config: HashConfig, types: tuple[str, ...]) -> MediaHashes:
        raise NotImplementedError


def pack(hashes: list[PerceptualHash]) -> tuple[HashValues, ...]:
    """Hashers' hex values grouped by type into raw ``HashValues`` arrays (one per hash type)."""
    by_type: dict[str, list[PerceptualHash]] = {}
    for h in hashes:
        by_type.setdefault(h.hash_type, []).append(h)
    out = []
    for hash_type, group in by_type.items():
        values = np.frombuffer(b"".join(bytes.fromhex(h.value) for h in group), dtype=np.uint8)
        quality = [h.quality for h in group]
        times = [h.frame_time for h in group]
        out.append(
            HashValues(
                hash_type,
                values.reshape(len(group), -1),
                tuple(h.variant for h in group),
                None if any(q is None for q in quality) else np.array(quality, dtype=np.uint8),
                None if any(t is None for t in times) else np.array(times, dtype=np.float32),
            )
        )
    return tuple(out)


class ImageHasher(MediaHasher):
    """Decode once to grey, as small as the hashes allow, then run every requested hasher on the pixels."""

    kind = "image"

    def hash(self, source: MediaSource, config: HashConfig, types: tuple[str, ...]) -> MediaHashes:
        # Decoders are imported here, not at the top: a process that only digests never loads them.
        from .hashers import regions
        from .hashers.pdq import PDQ
        from .hashers.robust import robust_hashes
        from .media.image import decode

        assert source.data is not None
        decoded = decode(source.data, max_pixels=config.max_pixels, media_type=source.media_type or None)
        img = decoded.image
        found: list[PerceptualHash] = []
        for name in types:
            signal = signals.get(name)
            if name == PDQ.name and config.dihedral:
                found.extend(PDQ.hash_dihedral(img))
                if decoded.orientation != 1:
                    # Meta's tools, python-threatexchange and HMA hash the pixels as stored, ignoring
                    # EXIF orientation: one more hash lets lists they made match rotated phone photos.
                    found.extend(replace(h, variant=AS_STORED) for h in PDQ.hash_image(decoded.as_stored()))
            else:
                hasher = signal.hasher()
                if hasher is not None and hasattr(hasher, "hash_image"):
                    found.extend(hasher.hash_image(img))
            if name == PDQ.name and not config.robust:
                found.extend(regions.query_hashes(img, deep=config.deep))
        if config.robust:
            found.extend(robust_hashes(img))
        values = pack(found)
        if source.media_type in ANIMATED and any(signals.get(n).index_family == "pdq" for n in types):
            values = self._with_frames(values, source, config)
        return MediaHashes(values, decoded.width, decoded.height)

    @staticmethod
    def _with_frames(values: tuple[HashValues, ...], source: MediaSource, config: HashConfig) -> tuple[HashValues, ...]:
        """An animation's later frames too (a benign first frame must not hide a listed one), with times."""
        from .media.animated import animated_frames
        from .media.video import sample_options

        frames = animated_frames(
            source.data or b"", source.media_type, sample_options(config), max_pixels=config.max_pixels
        )
        if frames is None or len(frames.pdq) == 0:
            return values
        rows = HashValues(
            "pdq",
            np.ascontiguousarray(frames.pdq, dtype=np.uint8),
            ("original",) * len(frames.pdq),
            np.asarray(frames.quality, dtype=np.uint8),
            np.asarray(frames.times, dtype=np.float32),
        )
        return (*values, rows)


class VideoHasher(MediaHasher):
    """Sampled frames of a video (one per second and the first), read from a stream, never written."""

    kind = "video"
    streams = True

    def hash(self, source: MediaSource, config: HashConfig, types: tuple[str, ...]) -> MediaHashes:
        from .media.video import hash_values, sample_options, sample_video

        with source.stream() as stream:
            frames = sample_video(stream, source.media_type, sample_options(config))
        problems = "; ".join(x for x in (frames.error, frames.stopped) if x) or None
        return MediaHashes(hash_values(frames, types), frames.width, frames.height, frames.duration, problems)


_MEDIA_HASHERS: dict[str, MediaHasher] = {}


def register_media_hasher(hasher: MediaHasher) -> None:
    """Add the perceptual hasher for one kind of media (the part of a media type before ``/``)."""
    if hasher.kind in _MEDIA_HASHERS:
        raise ValueError(f"a media hasher for {hasher.kind!r} is registered twice")
    _MEDIA_HASHERS[hasher.kind] = hasher


register_media_hasher(ImageHasher())
register_media_hasher(VideoHasher())


@functools.lru_cache(maxsize=8)
def check_config(config: HashConfig) -> None:
    """Raise ``ConfigError`` naming the first hash type in ``config`` that libra cannot compute.

    Call it once in the parent: a bad config is the caller's mistake, not a bad file.
    """
    signals.import_plugins(config.plugins)
    for name in (*config.digests, *config.perceptual):
        signal = signals.find(name)
        if signal is None:
            raise ConfigError(f"{name!r} is not a known hash type (known: {', '.join(signals.names())})")
        if not signals.computable(name):
            raise ConfigError(f"libra cannot compute {name!r} hashes")
        expected = "digest" if name in config.digests else "perceptual"
        if signal.kind != expected:
            raise ConfigError(f"{name!r} is a {signal.kind} type, not a {expected} one")


def _fatal(ref: MediaRef, reason: str) -> HashResult:
    return HashResult(ref, None, error=reason, fatal=True)


#: The config ``hash_ref`` checked last (``check_config`` per file would hash the whole config each time).
_checked: HashConfig | None = None


def hash_ref(
    ref: MediaRef, config: HashConfig, heartbeat: Heartbeat | None = None, part: tuple[int, int] | None = None
) -> HashResult:
    """Hash one file: the hash set's digests always, perceptual hashes when it is decodable media.

    ``heartbeat`` is called while long files are read, so a deadline measures lack of progress, not
    size. ``part``: ``(index, parts)`` of a large file handed to several workers (``merge_parts`` puts
    their results together): an archive's members are shared out between them (``archive.SPLITS``);
    anything else, and the file's own digests, is the first part's. Raises only ``ConfigError`` for a
    hash type libra does not know (see ``check_config``).
    """
    global _checked
    if config is not _checked:  # the same config object comes with every file of a run
        check_config(config)
        _checked = config
    if part is not None and part[0] > 0:
        return _other_part(ref, config, heartbeat, part)
    try:
        backend = storage_for(ref.uri, config.storage)
        if ref.size > config.max_in_memory:
            return _hash_streamed(ref, config, heartbeat, part)
        data, ref = backend.read(ref, config.max_in_memory)
    except FileTooLarge:  # it grew past the limit since the walk saw it
        return _hash_streamed(ref, config, heartbeat, part)
    except (Gone, Changed) as err:  # a race with the uploader: reported, not a coverage failure
        return HashResult(ref, None, error=str(err))
    except LibraError as err:
        return _fatal(ref, str(err))
    except MemoryError:
        return _fatal(ref, "the file is too large to read into memory")
    except Exception as err:  # a storage backend's bug costs one file, never the scan
        return _fatal(ref, f"the storage backend failed ({type(err).__name__}: {one_line(err)})")
    digests = raw_digests(data, config.digests)
    media_type = sniff(data)
    if media_type is None:
        if config.archives is not None:
            kind = archive_kind(data[:HEAD_SIZE])
            if kind is not None:
                return _with_archive(ref, config, digests, kind, data, heartbeat, _share(kind, part))
        return HashResult(ref, None, digests, computed=frozenset(digests))  # most files of a tree
    source = MediaSource(ref, media_type or "", data, lambda: backend.open(ref), heartbeat)
    return _with_media(ref, config, digests, media_type, source)


def _share(kind: str, part: tuple[int, int] | None) -> tuple[int, int] | None:
    """The part of an archive's members to hash: all of them when its kind is not shared out."""
    from .media.archive import SPLITS

    return part if part is not None and kind in SPLITS else None


def _other_part(ref: MediaRef, config: HashConfig, heartbeat: Heartbeat | None, part: tuple[int, int]) -> HashResult:
    """A later part of a large file: its share of an archive's members, or nothing (the first part does
    the rest). The first bytes are read on their own, so a large video is not read once per part."""
    empty = HashResult(ref, None)
    try:
        backend = storage_for(ref.uri, config.storage)
        with backend.open(ref) as stream:
            head = stream.read(HEAD_SIZE)
        kind = archive_kind(head) if config.archives is not None and sniff(head) is None else None
        if _share(kind or "", part) is None or kind is None:
            return empty
        if ref.size > config.max_in_memory:
            return _with_archive(ref, config, {}, kind, lambda: backend.open(ref), heartbeat, part)
        data, ref = backend.read(ref, config.max_in_memory)
    except FileTooLarge:
        return _with_archive(ref, config, {}, kind or "", lambda: backend.open(ref), heartbeat, part)
    except (Gone, Changed) as err:
        return HashResult(ref, None, error=str(err))
    except LibraError as err:
        return _fatal(ref, str(err))
    except MemoryError:
        return _fatal(ref, "the file is too large to read into memory")
    except Exception as err:
        return _fatal(ref, f"the storage backend failed ({type(err).__name__}: {one_line(err)})")
    return _with_archive(ref, config, {}, kind, data, heartbeat, part)


def merge_parts(parts: list[HashResult]) -> HashResult:
    """One file's result from the results of its parts (``hash_ref``'s ``part``), in part order.

    The first part holds the file's digests and media; the archive's members are every part's, put
    together in the archive's order. A part that failed fatally (its worker died or hung) fails the file,
    as it would have unsplit; other problems are the file's problems (the parts' archive-level problems
    are the same sentence, said once).
    """
    fatal = next((p for p in parts if p.fatal), None)
    if fatal is not None:
        return replace(fatal, ref=parts[0].ref)
    errors = list(dict.fromkeys(e for p in parts if p.error for e in p.error.split("; ")))
    members = tuple(m for p in parts for m in p.members)
    return replace(parts[0], members=members, error="; ".join(errors) or None)


_kind_of: Callable[[bytes], str | None] | None = None
_archive_firsts: frozenset[bytes] = frozenset()


def archive_kind(head: bytes) -> str | None:
    """The archive kind of a file's first bytes (``zip``, ``tar``, ``gzip``, ...), or ``None``.

    The archive module is imported on first use (a plain scan never loads it), then kept: an import
    statement run per file costs more than the check itself.
    """
    global _kind_of, _archive_firsts
    if _kind_of is None:
        from .media.archive import first_bytes, kind_of

        _kind_of, _archive_firsts = kind_of, first_bytes()
    if head[:1] not in _archive_firsts and head[257:262] != b"ustar":  # most files: no archive magic at all
        return None
    return _kind_of(head)


def _with_archive(
    ref: MediaRef,
    config: HashConfig,
    digests: dict[str, bytes],
    kind: str,
    source: bytes | Callable[[], BinaryIO],
    heartbeat: Heartbeat | None,
    part: tuple[int, int] | None = None,
) -> HashResult:
    """An archive: its own digests, and every member hashed like a file (``media/archive.py``), in memory."""
    from .media.archive import scan

    assert config.archives is not None
    members: list[HashResult] = []

    def visit(path: tuple[str, ...], data: bytes | None, size: int, mtime_ns: int | None, problem: str | None) -> None:
        member = Member(ref.uri, path, ref)
        mref = MediaRef(member.location, size if data is None else len(data), mtime_ns)
        if data is None:
            members.append(HashResult(mref, None, error=problem, member=member))
        else:
            media_type = sniff(data)
            found = MediaSource(mref, media_type or "", data, lambda: io.BytesIO(data), heartbeat)
            result = _with_media(mref, config, raw_digests(data, config.digests), media_type, found)
            error = "; ".join(e for e in (result.error, problem) if e) or None
            members.append(replace(result, member=member, error=error))
        if heartbeat is not None:
            heartbeat()

    if isinstance(source, bytes):
        error = scan(source, kind, config.archives, visit, part=part)
    else:
        try:
            with source() as stream:
                error = scan(stream, kind, config.archives, visit, part=part)
        except (LibraError, OSError) as err:
            error = f"the archive cannot be opened again to read its members: {one_line(err)}"
    return HashResult(ref, None, digests, computed=frozenset(digests), error=error, members=tuple(members))


def _with_media(
    ref: MediaRef, config: HashConfig, digests: dict[str, bytes], media_type: str | None, source: MediaSource
) -> HashResult:
    computed = frozenset(digests)
    if media_type is None:
        return HashResult(ref, None, digests, computed=computed)
    hasher = _MEDIA_HASHERS.get(media_type.partition("/")[0])
    types = hasher.wants(config) if hasher is not None else ()
    if hasher is None or not (types or config.robust):
        return HashResult(ref, media_type, digests, computed=computed)
    if source.data is None and not hasher.streams:
        limit = config.max_in_memory // (1024 * 1024)
        error = f"larger than the {limit} MiB decode limit: exact digests only, no perceptual hashes"
        return HashResult(ref, media_type, digests, computed=computed, error=error)
    try:
        found = hasher.hash(source, config, types)
    except ConfigError:
        raise
    except LibraError as err:
        found = MediaHashes(error=str(err))
    except MemoryError:
        found = MediaHashes(error="the file is too large to decode in memory")
    except Exception as err:  # a decoder bug on a hostile file must cost one file, never the scan
        found = MediaHashes(error=f"the file cannot be hashed ({type(err).__name__}: {one_line(err)})")
    if found.error is None:
        computed |= frozenset(types)
    return HashResult(
        ref,
        media_type,
        digests,
        perceptual=found.perceptual,
        computed=computed,
        error=found.error,
        width=found.width,
        height=found.height,
        duration=found.duration,
    )


def member_digests(
    archive: MediaRef, paths: set[tuple[str, ...]], names: tuple[str, ...], config: HashConfig
) -> dict[tuple[str, ...], dict[str, bytes]]:
    """Digests ``names`` of the members at ``paths`` of one archive, from one more walk of it in memory.

    The parent calls it for the few members that matched or are suspected (a finding reports MD5, SHA-1
    and SHA-256 whatever the lists use), so the workers hash every member with only the hash set. It
    reads under the same limits as the scan, never decodes media, and raises ``LibraError`` if the
    archive cannot be opened again.
    """
    from .media.archive import kind_of, scan

    found: dict[tuple[str, ...], dict[str, bytes]] = {}

    def visit(path: tuple[str, ...], data: bytes | None, size: int, mtime_ns: int | None, problem: str | None) -> None:
        if data is not None and path in paths:
            found[path] = raw_digests(data, names)

    with storage_for(archive.uri, config.storage).open(archive) as stream:
        if stream.seek(0, io.SEEK_END) != archive.size or _touched(stream, archive):
            raise Changed("the archive changed since it was scanned")
        stream.seek(0)
        kind = kind_of(stream.read(HEAD_SIZE))
        stream.seek(0)
        if kind is not None:
            scan(stream, kind, config.archives or ArchiveLimits(), visit, only=paths)
    return found


def _touched(stream: Any, ref: MediaRef) -> bool:
    """Whether a local file was written since it was scanned (same size, new mtime or ctime): the digests
    of other bytes must never be attached to a finding. Objects are pinned by their ETag when opened."""
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False  # not a local file: its backend pinned the version it opened
    return (ref.mtime_ns is not None and info.st_mtime_ns != ref.mtime_ns) or (
        ref.ctime_ns is not None and info.st_ctime_ns != ref.ctime_ns
    )


def _hash_streamed(
    ref: MediaRef, config: HashConfig, heartbeat: Heartbeat | None, part: tuple[int, int] | None = None
) -> HashResult:
    """A file above ``max_in_memory``: digests over one sequential pass, media type from its first bytes.

    Image decoders need the whole file, so a still this large keeps its digests only (reported, not
    fatally); a media hasher that reads streams (video) opens the file again and reads what it needs.
    """
    head = b""
    size = 0

    def chunks(handle: BinaryIO) -> Iterator[bytes]:
        nonlocal head, size
        while chunk := handle.read(STREAM_CHUNK):
            if len(head) < HEAD_SIZE:
                head += chunk[: HEAD_SIZE - len(head)]
            size += len(chunk)
            if heartbeat is not None:
                heartbeat()
            yield chunk

    try:
        backend = storage_for(ref.uri, config.storage)
        with backend.open(ref) as handle:
            digests = raw_digests_of_chunks(chunks(handle), config.digests)
    except (Gone, Changed) as err:
        return HashResult(ref, None, error=str(err))
    except LibraError as err:
        return _fatal(ref, str(err))
    except OSError as err:
        return _fatal(ref, f"the file cannot be read: {one_line(err)}")
    except Exception as err:
        return _fatal(ref, f"the storage backend failed ({type(err).__name__}: {one_line(err)})")
    if size != ref.size:
        ref = replace(ref, size=size)
    media_type = sniff(head)
    if media_type is None and config.archives is not None:
        kind = archive_kind(head)
        if kind is not None:
            return _with_archive(ref, config, digests, kind, lambda: backend.open(ref), heartbeat, _share(kind, part))
    source = MediaSource(ref, media_type or "", None, lambda: backend.open(ref), heartbeat)
    return _with_media(ref, config, digests, media_type, source)
