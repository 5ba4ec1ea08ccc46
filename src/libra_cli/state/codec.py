"""What a stored result holds, and whether it can stand in for hashing a file again.

The hashes are stored in the engine's own wire format (``engine/wire.py``: msgpack of raw digests and
perceptual arrays), so a stored row decodes through the same size checks as a worker's answer, and an
image with PDQ and its seven dihedral variants costs about 300 bytes.

A stored result serves a run when the file is unchanged (same identity), it holds every hash type the
run needs for that kind of media (perceptual types carry their algorithm version: ``pdq@1``), and, if
the run needs perceptual hashes, they were computed with the same parameters (``fingerprint``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable

import numpy as np

from .. import signals
from ..engine import wire
from ..models import HashConfig, HashResult, MediaRef

#: Bump when a hasher's output changes for the same file and parameters: every stored perceptual hash
#: is then computed again on the next run. A signal type may also carry its own ``version`` attribute.
ALGORITHMS = 1

Identity = tuple[int, int | None, int | None, int | None, str | None, str | None]


def identity(ref: MediaRef) -> Identity:
    """What says a file is unchanged: size, times and inode (not the device), or an object's ETag/version."""
    return (ref.size, ref.mtime_ns, ref.inode, ref.ctime_ns, ref.etag, ref.version_id)


#: The ``fingerprint`` of an archive's row: its own hashes are kept (and ``rematch`` matches them), its
#: members are not, so a scan always reads an archive again and ``rematch`` names it as not covered.
ARCHIVE = "archive"


def fingerprint(config: HashConfig) -> str:
    """The parameters perceptual hashes depend on (``deep``, ``robust``, dihedral variants, video sampling)."""
    params = {
        "algorithms": ALGORITHMS,
        "dihedral": config.dihedral,
        "deep": config.deep,
        "robust": config.robust,
        "video_fps": config.video_fps,
        "max_frames": config.max_frames,
    }
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def version(name: str) -> int:
    return int(getattr(signals.get(name), "version", 1))


def token(name: str) -> str:
    """``md5`` for digests (they depend on nothing), ``pdq@1`` for perceptual types (versioned)."""
    signal = signals.find(name)
    return f"{name}@{version(name)}" if signal is not None and signal.kind == "perceptual" else name


def computed_text(names: Iterable[str]) -> str:
    return ",".join(sorted(token(n) for n in names))


def needed(config: HashConfig, media_type: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The digests and perceptual types this run computes for a file of ``media_type``."""
    kind = (media_type or "").partition("/")[0]
    perceptual = tuple(n for n in config.perceptual if kind and kind in signals.get(n).media)
    return config.digests, perceptual


def covers(stored: str, config: HashConfig, media_type: str | None) -> bool:
    """Whether a row holding ``stored`` (``computed_text``) has every hash this run needs for the file."""
    held = set(stored.split(",")) if stored else set()
    digests, perceptual = needed(config, media_type)
    return all(token(n) in held for n in (*digests, *perceptual))


@functools.lru_cache(maxsize=4)
def _any_config(names: tuple[str, ...]) -> HashConfig:
    """A config naming every registered type: decoding checks each value's size, not the run's needs."""
    return HashConfig(
        digests=tuple(n for n in names if signals.get(n).kind == "digest"),
        perceptual=tuple(n for n in names if signals.get(n).kind == "perceptual"),
    )


def encode(result: HashResult) -> bytes:
    return wire.encode_result(0, result)


#: The hash types whose values a row also keeps in columns of their own (``h_md5``, ..., ``h_pdq``; schema 4):
#: the types hash lists are made of, read by a rematch in one query (``state/bulk.py``).
COLUMN_TYPES = ("md5", "sha1", "sha256", "blake3", "pdq")
COLUMNS = tuple(f"h_{name}" for name in COLUMN_TYPES)


def column_values(result: HashResult) -> tuple[bytes | None, ...]:
    """``result``'s values for ``COLUMNS``: a digest, or every PDQ row joined; ``None`` where it has none."""
    out: list[bytes | None] = []
    for name in COLUMN_TYPES:
        if name == "pdq":
            rows = [v.values for v in result.perceptual if v.hash_type == name]
            out.append(b"".join(np.ascontiguousarray(r, np.uint8).tobytes() for r in rows) if rows else None)
        else:
            out.append(result.digests.get(name))
    return tuple(out)


def decode(blob: bytes, ref: MediaRef, config: HashConfig | None = None) -> HashResult:
    """The stored result for ``ref``; ``wire.WireError`` if the blob is not one libra wrote.

    ``config``: ``any_config()`` computed once by a caller decoding many rows (rematch)."""
    kind, _, body = wire.decode_message(bytes(blob))
    if kind != wire.RESULT:
        raise wire.WireError("a stored result has an unknown form")
    return wire.decode_result(body, ref, config or _any_config(signals.names()))


def any_config() -> HashConfig:
    """The config ``decode`` checks stored rows against (every registered type)."""
    return _any_config(signals.names())


@functools.lru_cache(maxsize=256)
def missing(stored: str, config: HashConfig, media_type: str | None) -> tuple[str, ...]:
    """The hash types this run needs for a file of ``media_type`` that a row holding ``stored`` lacks."""
    held = set(stored.split(",")) if stored else set()
    digests, perceptual = needed(config, media_type)
    return tuple(n for n in (*digests, *perceptual) if token(n) not in held)
