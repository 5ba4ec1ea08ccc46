"""The gzip reader of compressed TARs (zlib fed directly): what ``gzip`` accepts it reads alike, and a stream
that is cut, corrupt or followed by garbage is reported, members before the damage kept."""

from __future__ import annotations

import gzip
import hashlib
import struct

from libra_cli.media.archive import scan
from libra_cli.models import ArchiveLimits
from test_archives import LISTED, OTHER, tar_bytes


def walk(data: bytes) -> tuple[list[tuple[str, ...]], list[str | None], str | None]:
    paths: list[tuple[str, ...]] = []
    digests: list[str | None] = []

    def visit(path: tuple[str, ...], body: bytes | None, size: int, when: int | None, problem: str | None) -> None:
        paths.append(path)
        digests.append(None if body is None else hashlib.md5(body).hexdigest())

    return paths, digests, scan(data, "gzip", ArchiveLimits(), visit)


def test_members_one_after_another_and_nul_padding_read_as_gzip_reads_them() -> None:
    tar = tar_bytes({"a.jpg": LISTED, "b.jpg": OTHER})
    half = len(tar) // 2
    split = gzip.compress(tar[:half]) + gzip.compress(tar[half:]) + bytes(700)  # two members, then padding
    assert gzip.decompress(split) == tar
    paths, digests, error = walk(split)
    assert error is None and paths == [("a.jpg",), ("b.jpg",)]
    assert digests == [hashlib.md5(LISTED).hexdigest(), hashlib.md5(OTHER).hexdigest()]
    single = walk(gzip.compress(LISTED) + gzip.compress(b"more"))  # not a TAR: one member, both parts
    assert single[2] is None and single[1] == [hashlib.md5(LISTED + b"more").hexdigest()]


def test_cut_corrupt_and_trailing_garbage_are_reported_keeping_what_came_before() -> None:
    tgz = gzip.compress(tar_bytes({"a.jpg": LISTED, "b.jpg": OTHER, "c.jpg": LISTED + b"c"}))
    cut = walk(tgz[: len(tgz) * 2 // 3])
    assert cut[0][0] == ("a.jpg",) and cut[1][0] == hashlib.md5(LISTED).hexdigest()
    assert "the gzip stream is truncated or corrupt" in (cut[2] or "")
    crc = bytearray(tgz)
    crc[-8:-4] = struct.pack("<I", (struct.unpack("<I", crc[-8:-4])[0] + 1) & 0xFFFFFFFF)  # the trailer's CRC
    bad = walk(bytes(crc))
    assert "truncated or corrupt" in (bad[2] or "")
    garbage = walk(tgz + b"this is not gzip")  # after the TAR's end: never read, as with ``gzip``
    assert garbage[2] is None and len(garbage[0]) == 3
    after_photo = walk(gzip.compress(LISTED) + b"this is not gzip")  # the photo is whole: kept, as before
    assert after_photo == ([("-",)], [hashlib.md5(LISTED).hexdigest()], None)
