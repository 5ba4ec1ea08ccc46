"""The worker function: one reference in, its hashes out. Pure, top-level, picklable, and it never writes.

``hash_ref`` runs in worker processes (or in-process as the single-worker fallback). It reads the
file's bytes into memory, digests them (always: exact lists still match undecodable and non-media
files), recognises the media by magic bytes, decodes images as little as the hashes need and
computes the perceptual hashes. A bad file never raises: it comes back with ``error`` set to one
plain sentence and whatever digests could be computed.

>>> from libra_cli.models import HashConfig, MediaRef
>>> result = hash_ref(MediaRef("/srv/a.jpg", 1234), HashConfig())  # doctest: +SKIP
>>> result.media_type, [h.variant for h in result.perceptual][:2]  # doctest: +SKIP
('image/jpeg', ['original', 'rot90'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .errors import ConfigError, FileTooLarge, LibraError
from .hashers import exact, perceptual
from .hashers.exact import digest_all, digest_chunks
from .hashers.pdq import PDQ
from .hashers.robust import robust_hashes
from .media.image import decode, one_line
from .media.sniff import sniff
from .models import HashConfig, HashResult, MediaRef, PerceptualHash
from .storage import open_ref, read_ref

#: Perceptual hash types that only apply to video frames; images skip them.
VIDEO_ONLY: frozenset[str] = frozenset({"vpdq"})


@dataclass(frozen=True)
class _MediaHashes:
    perceptual: tuple[PerceptualHash, ...] = ()
    width: int | None = None
    height: int | None = None
    error: str | None = None


def check_config(config: HashConfig) -> None:
    """Raise ``ConfigError`` naming the first hash type in ``config`` that libra cannot compute.

    Call it once in the parent: a bad config is the caller's mistake, not a bad file.
    """
    for name in config.digests:
        exact(name)
    for name in config.perceptual:
        if name not in VIDEO_ONLY:
            perceptual(name)


def _image_hashes(data: bytes, config: HashConfig) -> _MediaHashes:
    """Decode once to grey, then run every requested perceptual hasher over the same pixels."""
    decoded = decode(data, max_pixels=config.max_pixels)
    img = decoded.image
    found: list[PerceptualHash] = []
    for name in config.perceptual:
        if name in VIDEO_ONLY:
            continue
        if name == PDQ.name and config.dihedral:
            found.extend(PDQ.hash_dihedral(img))
        else:
            found.extend(perceptual(name).hash_image(img))
    if config.robust:
        found.extend(robust_hashes(img))
    return _MediaHashes(tuple(found), decoded.width, decoded.height)


def _video_hashes(data: bytes, config: HashConfig) -> _MediaHashes:
    """Hook for video: frame sampling (vPDQ) plugs in here. For now videos get their digests only."""
    return _MediaHashes()


#: Perceptual hashing per top-level media type. A new kind of media is one function and one line here.
MEDIA_HASHERS: dict[str, Callable[[bytes, HashConfig], _MediaHashes]] = {
    "image": _image_hashes,
    "video": _video_hashes,
}


def hash_ref(ref: MediaRef, config: HashConfig) -> HashResult:
    """Hash one file: digests always, perceptual hashes when it is decodable media.

    Raises only ``ConfigError`` for a hash type libra does not know (see ``check_config``).
    """
    check_config(config)
    try:
        if ref.size > config.max_in_memory:
            return _hash_streamed(ref, config)
        data = read_ref(ref, config.max_in_memory)
    except FileTooLarge:  # it grew since the walk saw it
        return _hash_streamed(ref, config)
    except LibraError as err:
        return HashResult(ref, None, error=str(err))
    except (OSError, MemoryError) as err:
        return HashResult(ref, None, error=f"the file cannot be read: {err}")
    digests = digest_all(data, config.digests)
    media_type = sniff(data)
    if media_type is None:
        return HashResult(ref, None, digests)
    media_hasher = MEDIA_HASHERS.get(media_type.partition("/")[0])
    if media_hasher is None or not (config.perceptual or config.robust):
        return HashResult(ref, media_type, digests)
    try:
        found = media_hasher(data, config)
    except ConfigError:
        raise
    except LibraError as err:
        found = _MediaHashes(error=str(err))
    except MemoryError:
        found = _MediaHashes(error="the file is too large to decode in memory")
    except Exception as err:  # a decoder bug on a hostile file must cost one file, never the scan
        found = _MediaHashes(error=f"the file cannot be hashed ({type(err).__name__}: {one_line(err)})")
    return HashResult(
        ref,
        media_type,
        digests,
        perceptual=found.perceptual,
        error=found.error,
        width=found.width,
        height=found.height,
    )


#: Bytes per read when streaming a large file: big enough for throughput, small enough for a worker.
STREAM_CHUNK = 8 * 1024 * 1024


def _hash_streamed(ref: MediaRef, config: HashConfig) -> HashResult:
    """A file above ``max_in_memory``: exact digests over a stream, media type from its first bytes.

    No decoder sees it (holding it whole is what the limit prevents), so an image this large is
    reported, not fatally: its exact digests still match.
    """
    head = b""

    def chunks(handle: BinaryIO) -> Iterator[bytes]:
        nonlocal head
        while chunk := handle.read(STREAM_CHUNK):
            if not head:
                head = chunk[:4096]
            yield chunk

    try:
        with open_ref(ref) as handle:
            digests = digest_chunks(chunks(handle), config.digests)
    except LibraError as err:
        return HashResult(ref, None, error=str(err))
    except OSError as err:
        return HashResult(ref, None, error=f"the file cannot be read: {one_line(err)}")
    media_type = sniff(head)
    error = None
    if media_type is not None and media_type.startswith("image/") and (config.perceptual or config.robust):
        limit = config.max_in_memory // (1024 * 1024)
        error = f"larger than the {limit} MiB decode limit: exact digests only, no perceptual hashes"
    return HashResult(ref, media_type, digests, error=error)
