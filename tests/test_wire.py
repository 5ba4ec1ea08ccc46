"""The process boundary: a worker's message is believed only if every field is what the parent asked for."""

from __future__ import annotations

import pickle
from typing import Any

import msgpack
import numpy as np
import pytest

from libra_cli.engine.framing import FrameError, FrameReader, frame
from libra_cli.engine.wire import (
    RESULT,
    WireError,
    decode_message,
    decode_result,
    decode_tasks,
    encode_result,
    encode_tasks,
)
from libra_cli.models import HashConfig, HashResult, HashValues, MediaRef

CONFIG = HashConfig(digests=("md5",), perceptual=("pdq",))
REF = MediaRef("/srv/a.jpg", 10, mtime_ns=5)


def honest() -> HashResult:
    values = HashValues("pdq", np.arange(64, dtype=np.uint8).reshape(2, 32), ("original", "mirror"),
                        np.array([90, 80], dtype=np.uint8))  # fmt: skip
    return HashResult(REF, "image/jpeg", {"md5": bytes(16)}, (values,), frozenset({"md5", "pdq"}), width=4, height=3)


def body_of(result: HashResult) -> dict[str, Any]:
    kind, task_id, body = decode_message(encode_result(3, result))
    assert (kind, task_id) == (RESULT, 3)
    return dict(body)


def test_an_honest_result_round_trips() -> None:
    assert decode_result(body_of(honest()), REF, CONFIG) == honest()
    tasks = [(1, REF), (2, MediaRef("s3://b/k", 1, etag="e", version_id="v"))]
    assert decode_tasks(encode_tasks(tasks)) == tasks


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("d", {"sha512": b"x" * 64}, "invalid sha512 digest"),  # not asked for
        ("d", {"md5": b"short"}, "invalid md5 digest"),  # wrong size
        ("p", [["phash", b"\0" * 8, ["original"], None, None]], "not asked for"),
        ("p", [["pdq", b"\0" * 33, ["original"], None, None]], "wrong size"),
        ("p", [["pdq", b"\0" * 32, ["a", "b"], None, None]], "transform names"),
        ("p", [["pdq", b"\0" * 32, ["bad\nname"], None, None]], "transform names"),
        ("p", [["pdq", b"\0" * 32, ["original"], b"\xff", None]], "above 100"),
        ("p", [["pdq", b"\0" * 32, ["original"], None, np.array([np.nan], "<f4").tobytes()]], "frame times"),
        ("t", "image/jpeg; rm -rf", "media type"),
        ("c", ["md5", "photodna"], "not asked for"),
        ("e", 7, "invalid error"),
        ("f", "yes", "fatal flag"),
        ("w", -1, "invalid number"),
        ("s", [-5, None], "invalid number"),
        ("zz", 1, "unknown fields"),
    ],
)
def test_a_lying_worker_is_caught(field: str, value: Any, why: str) -> None:
    body = body_of(honest())
    body[field] = value
    with pytest.raises(WireError, match=why):
        decode_result(body, REF, CONFIG)


def test_error_text_is_made_printable_and_short() -> None:
    body = body_of(honest())
    body["e"] = "\x1b[2Jowned\n" + "x" * 10_000
    result = decode_result(body, REF, CONFIG)
    assert result.error is not None and result.error.isprintable() and len(result.error) <= 2000


@pytest.mark.parametrize(
    "data",
    [
        pickle.dumps(("R", 0, {})),  # what an exploited worker could send: never unpickled
        msgpack.packb({"not": "a list"}),
        msgpack.packb(["R", "id", {}]),
        msgpack.packb(["Q", 1]),
        b"\xc1",  # never used in msgpack
    ],
)
def test_messages_of_unknown_form_are_refused(data: bytes) -> None:
    with pytest.raises(WireError):
        decode_message(data)


def test_frames_are_bounded_and_split_correctly() -> None:
    import os

    read, write = os.pipe()
    try:
        os.write(write, frame(b"one") + frame(b"") + frame(b"three")[:5])
        reader = FrameReader(read, limit=100)
        reader.feed()
        assert reader.frames() == [b"one", b""]  # the incomplete third waits for more bytes
        os.write(write, frame(b"three")[5:] + (10**6).to_bytes(4, "big"))
        reader.feed()
        with pytest.raises(FrameError, match="over the 100-byte limit"):
            reader.frames()
    finally:
        os.close(read)
        os.close(write)
