"""Files above the in-memory limit are streamed: same digests, no decoding, never a fatal error."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import blake3

from libra_cli.hashing import STREAM_CHUNK, hash_ref
from libra_cli.models import HashConfig, MediaRef

ALL = ("md5", "sha1", "sha256", "blake3")


def expected(data: bytes) -> dict[str, bytes]:
    return {
        "md5": hashlib.md5(data).digest(),
        "sha1": hashlib.sha1(data).digest(),
        "sha256": hashlib.sha256(data).digest(),
        "blake3": blake3.blake3(data).digest(),
    }


def test_streamed_digests_equal_whole_file_digests(tmp_path: Path) -> None:
    data = os.urandom(2 * STREAM_CHUNK + 12345)  # several chunks, the last one partial
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    ref = MediaRef(str(path), len(data))
    streamed = hash_ref(ref, HashConfig(digests=ALL, max_in_memory=1024))
    whole = hash_ref(ref, HashConfig(digests=ALL))
    assert streamed.digests == whole.digests == expected(data)
    assert streamed.error is None and streamed.media_type is None


def test_a_large_image_keeps_its_type_and_digests(tmp_path: Path, photos: Path) -> None:
    data = (photos / "coffee.jpg").read_bytes()
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    result = hash_ref(MediaRef(str(path), len(data)), HashConfig(max_in_memory=10_000))
    assert result.media_type == "image/jpeg" and not result.perceptual
    assert result.digests["sha256"] == hashlib.sha256(data).digest()
    assert result.error and "decode limit" in result.error  # reported, not fatal: digests are there


def test_a_file_that_grew_since_the_walk_is_streamed(tmp_path: Path) -> None:
    data = os.urandom(50_000)
    path = tmp_path / "growing.bin"
    path.write_bytes(data)
    stale = MediaRef(str(path), 100)  # the walk saw 100 bytes
    result = hash_ref(stale, HashConfig(digests=("sha256",), max_in_memory=1_000))
    assert result.error is None and result.digests == {"sha256": hashlib.sha256(data).digest()}
    assert result.ref.size == len(data)  # the result says what was read, not what the walk saw


def test_a_vanished_file_is_reported_as_gone_not_uncovered(tmp_path: Path) -> None:
    result = hash_ref(MediaRef(str(tmp_path / "gone.bin"), 10**9), HashConfig(max_in_memory=10))
    assert result.error and "removed during the scan" in result.error
    assert not result.digests and not result.fatal
