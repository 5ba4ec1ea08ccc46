"""What crosses the process boundary: references to workers, results back, as checked plain data.

Workers parse hostile files; the parent holds the decrypted lists. Were results pickled, a decoder
exploit in a worker could send a pickle that runs code in the parent. So messages are msgpack (bytes,
ints, floats, strings, lists, maps: nothing executable), size-limited while unpacking, and every field
of a result is validated against the hash set the parent asked for before it is believed. A worker
that sends anything else is treated as compromised: killed, and its file reported.

>>> ref = MediaRef("/srv/a.jpg", 10)
>>> decode_tasks(encode_tasks([(7, ref)])) == [(7, ref)]
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import msgpack
import numpy as np

from .. import signals
from ..media.archive import MAX_NAME
from ..models import HashConfig, HashResult, HashValues, MediaRef, Member
from ..textsafe import printable

#: Message kinds: a result, a heartbeat (still working on a long file), a worker-level failure.
RESULT, HEARTBEAT, FAILED = "R", "H", "X"

#: Limits while unpacking a worker's message: far above anything honest, far below harm.
MAX_MESSAGE = 64 * 1024 * 1024
MAX_ROWS = 1_000_000  #: perceptual values of one hash type for one file (video frames x variants)
MAX_TEXT = 2_000
MAX_MEMBERS = 1_000_000  #: archive members of one file
MAX_NESTING = 64  #: names in one member's path (archives inside archives)
_MEDIA_TYPE = re.compile(r"[a-z]{1,16}/[a-z0-9][a-z0-9.+-]{0,63}")
_TRANSFORM = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")


class WireError(Exception):
    """A message from a worker that is not what an honest worker sends."""


def _unpack(data: bytes) -> Any:
    if len(data) > MAX_MESSAGE:
        raise WireError(f"a message of {len(data)} bytes is larger than the {MAX_MESSAGE}-byte limit")
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            unicode_errors="surrogateescape",  # file names that are not UTF-8 travel as Python keeps them
            strict_map_key=True,
            max_str_len=MAX_TEXT * 4,
            max_bin_len=MAX_MESSAGE,
            max_array_len=MAX_ROWS,
            max_map_len=64,
            max_ext_len=0,
        )
    except Exception as err:  # msgpack raises several types for malformed input
        raise WireError(f"the message is not valid msgpack ({type(err).__name__})") from None


def _pack(value: Any) -> bytes:
    data: bytes = msgpack.packb(value, use_bin_type=True, unicode_errors="surrogateescape")
    return data


# -- parent -> worker ---------------------------------------------------------------------------------


def encode_tasks(tasks: list[tuple[int, MediaRef]], parts: Mapping[int, tuple[int, int]] | None = None) -> bytes:
    """A batch of tasks in one message (small files travel many to a message); ``parts``: task id ->
    ``(index, parts)`` for the tasks that are a part of a file shared out between workers."""
    parts = parts or {}
    return _pack(
        [
            [
                i,
                r.uri,
                r.size,
                r.mtime_ns,
                r.inode,
                r.ctime_ns,
                r.etag,
                r.version_id,
                *([list(parts[i])] if i in parts else []),
            ]
            for i, r in tasks
        ]
    )


def decode_tasks(data: bytes, parts: dict[int, tuple[int, int]] | None = None) -> list[tuple[int, MediaRef]]:
    """In the worker (which trusts its parent): the task ids and references of a batch; the parts of
    split files are put in ``parts``."""
    out = []
    for task_id, uri, size, mtime_ns, inode, ctime_ns, etag, version_id, *rest in _unpack(data):
        out.append((int(task_id), MediaRef(uri, size, mtime_ns, inode, ctime_ns, etag, version_id)))
        if rest and parts is not None:
            parts[int(task_id)] = (int(rest[0][0]), int(rest[0][1]))
    return out


# -- worker -> parent ---------------------------------------------------------------------------------


def encode_result(task_id: int, result: HashResult) -> bytes:
    body = _body(result)
    if result.members:  # an archive's members: each its path inside the archive and its own body
        body["m"] = [[list(m.member.path if m.member else ()), _body(m)] for m in result.members]
    return _pack([RESULT, task_id, body])


def _body(result: HashResult) -> dict[str, Any]:
    ref = result.ref
    perceptual = [
        [
            v.hash_type,
            np.ascontiguousarray(v.values, dtype=np.uint8).tobytes(),
            list(v.transforms),
            None if v.quality is None else np.ascontiguousarray(v.quality, dtype=np.uint8).tobytes(),
            None if v.times is None else np.ascontiguousarray(v.times, dtype="<f4").tobytes(),
        ]
        for v in result.perceptual
    ]
    body = {
        "t": result.media_type,
        "d": dict(result.digests),
        "p": perceptual,
        "c": sorted(result.computed),
        "e": result.error,
        "f": result.fatal,
        "w": result.width,
        "h": result.height,
        "u": result.duration,
        "s": [ref.size, ref.mtime_ns],
    }
    return body


def encode_heartbeat(task_id: int) -> bytes:
    return _pack([HEARTBEAT, task_id])


def encode_failure(message: str) -> bytes:
    return _pack([FAILED, message])


def decode_message(data: bytes) -> tuple[str, Any, Any]:
    """``(kind, task_id or message, body)`` of a worker's message, structure checked (not the body)."""
    message = _unpack(data)
    if not isinstance(message, list) or not message or message[0] not in (RESULT, HEARTBEAT, FAILED):
        raise WireError("the message has an unknown form")
    if message[0] == FAILED:
        if len(message) != 2 or not isinstance(message[1], str):
            raise WireError("a failure message has an unknown form")
        return FAILED, _text(message[1]), None
    if message[0] == HEARTBEAT:
        if len(message) != 2 or not _is_int(message[1]):
            raise WireError("a heartbeat has an unknown form")
        return HEARTBEAT, message[1], None
    if len(message) != 3 or not _is_int(message[1]) or not isinstance(message[2], dict):
        raise WireError("a result has an unknown form")
    return RESULT, message[1], message[2]


def decode_result(body: Mapping[str, Any], ref: MediaRef, config: HashConfig) -> HashResult:
    """The checked ``HashResult`` of ``ref`` from a worker's result body (``WireError`` if anything is off).

    Only hash types the parent asked for are accepted, each value of its signal type's exact size. An
    archive's members (``m``) are named by their path inside ``ref``: a worker can only speak of the
    file it was given.
    """
    result = _decode(body, ref, config, config.digests, {"m"})
    members = body.get("m")
    if members is None:
        return result
    if config.archives is None or not isinstance(members, list) or len(members) > MAX_MEMBERS:
        raise WireError("a result has invalid archive members")
    out = []
    for item in members:
        if not isinstance(item, list) or len(item) != 2 or not isinstance(item[1], dict):
            raise WireError("a result has invalid archive members")
        path, member_body = item
        if (
            not isinstance(path, list)
            or not 1 <= len(path) <= MAX_NESTING
            or not all(isinstance(name, str) and len(name) <= MAX_NAME + 8 for name in path)
        ):
            raise WireError("a result has invalid archive member names")
        member = Member(ref.uri, tuple(path), result.ref)
        decoded = _decode(member_body, MediaRef(member.location, 0), config, config.digests, set())
        if decoded.fatal:
            raise WireError("a result has a fatal archive member")
        out.append(replace(decoded, member=member))
    return replace(result, members=tuple(out))


def _decode(
    body: Mapping[str, Any], ref: MediaRef, config: HashConfig, digests_allowed: tuple[str, ...], more: set[str]
) -> HashResult:
    known = {"t", "d", "p", "c", "e", "f", "w", "h", "u", "s"} | more
    if set(body) - known:
        raise WireError("a result has unknown fields")
    media_type = body.get("t")
    if media_type is not None and (not isinstance(media_type, str) or not _MEDIA_TYPE.fullmatch(media_type)):
        raise WireError("a result has an invalid media type")
    digests = _digests(body.get("d"), digests_allowed)
    perceptual = _perceptual(body.get("p"), config)
    computed = body.get("c")
    allowed = set(digests_allowed) | set(config.perceptual)
    if not isinstance(computed, list) or not all(isinstance(c, str) and c in allowed for c in computed):
        raise WireError("a result names hash types that were not asked for")
    error = body.get("e")
    if error is not None and not isinstance(error, str):
        raise WireError("a result has an invalid error")
    fatal = body.get("f")
    if not isinstance(fatal, bool):
        raise WireError("a result has an invalid fatal flag")
    width, height = _count(body.get("w")), _count(body.get("h"))
    duration = body.get("u")
    if duration is not None and (not isinstance(duration, float | int) or not 0 <= duration < 1e9):
        raise WireError("a result has an invalid duration")
    size_time = body.get("s")
    if not isinstance(size_time, list) or len(size_time) != 2:
        raise WireError("a result has an invalid size")
    size, mtime_ns = _count(size_time[0]), size_time[1]
    if size is None or (mtime_ns is not None and not _is_int(mtime_ns)):
        raise WireError("a result has an invalid size or time")
    if size != ref.size or mtime_ns != ref.mtime_ns:  # the file changed in place since the walk
        ref = MediaRef(ref.uri, size, mtime_ns, ref.inode, ref.ctime_ns, ref.etag, ref.version_id)
    return HashResult(
        ref,
        media_type,
        digests,
        perceptual,
        frozenset(computed),
        None if error is None else _text(error),
        width,
        height,
        None if duration is None else float(duration),
        fatal,
    )


def _digests(value: Any, names: tuple[str, ...]) -> dict[str, bytes]:
    if not isinstance(value, dict):
        raise WireError("a result has invalid digests")
    out: dict[str, bytes] = {}
    for name, digest in value.items():
        if name not in names or not isinstance(digest, bytes) or len(digest) != signals.get(name).nbytes:
            raise WireError(f"a result has an invalid {printable(name)[:20]} digest")
        out[name] = digest
    return out


def _perceptual(value: Any, config: HashConfig) -> tuple[HashValues, ...]:
    if not isinstance(value, list) or len(value) > 64:
        raise WireError("a result has invalid perceptual hashes")
    out = []
    for item in value:
        if not isinstance(item, list) or len(item) != 5:
            raise WireError("a result has invalid perceptual hashes")
        hash_type, raw, transforms, quality, times = item
        if hash_type not in config.perceptual or not isinstance(raw, bytes):
            raise WireError("a result has perceptual hashes of a type that was not asked for")
        nbytes = signals.get(hash_type).nbytes
        rows, extra = divmod(len(raw), nbytes)
        if extra or rows > MAX_ROWS:
            raise WireError(f"a result has {hash_type} values of the wrong size")
        if not isinstance(transforms, list) or len(transforms) != rows:
            raise WireError("a result has invalid transform names")
        if not all(isinstance(t, str) and _TRANSFORM.fullmatch(t) for t in transforms):
            raise WireError("a result has invalid transform names")
        if quality is not None and (not isinstance(quality, bytes) or len(quality) != rows):
            raise WireError("a result has invalid quality scores")
        if times is not None and (not isinstance(times, bytes) or len(times) != 4 * rows):
            raise WireError("a result has invalid frame times")
        q = None if quality is None else np.frombuffer(quality, dtype=np.uint8)
        if q is not None and int(q.max(initial=0)) > 100:
            raise WireError("a result has quality scores above 100")
        t = None if times is None else np.frombuffer(times, dtype="<f4").astype(np.float32)
        if t is not None and not np.isfinite(t).all():
            raise WireError("a result has invalid frame times")
        values = np.frombuffer(raw, dtype=np.uint8).reshape(rows, nbytes)
        out.append(HashValues(hash_type, values, tuple(transforms), q, t))
    return tuple(out)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or not 0 <= value < 2**63:
        raise WireError("a result has an invalid number")
    return int(value)


def _text(value: str) -> str:
    return printable(value)[:MAX_TEXT]
