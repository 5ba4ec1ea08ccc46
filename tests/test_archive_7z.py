"""7z archives (issue 15): read in memory with py7zr when it is installed (``libra-cli[7z]``), members hashed
like files, names only names, the limits applied from the header before inflating, nothing written."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import zlib
from pathlib import Path

import pytest

from libra_cli.hashing import hash_ref
from libra_cli.media import sevenzip
from libra_cli.models import ArchiveLimits, HashConfig, MediaRef
from test_archives import CONFIG, LISTED, OTHER, PHOTOS, _bounded, by_path, hashed, tar_bytes, zip_bytes

py7zr = pytest.importorskip("py7zr")


def seven(members: dict[str, bytes], renames: dict[str, str] | None = None, **options: object) -> bytes:
    """A real 7z archive written by py7zr. ``renames``: names py7zr refuses to write (``../x``), patched
    into the (then unencoded) header in place of same-length stand-ins, its CRCs made right again."""
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w", **options) as archive:
        archive.set_encoded_header_mode(not renames)
        for name, data in members.items():
            archive.writestr(data, name)
    data = bytearray(buffer.getvalue())
    if renames:
        offset, size = struct.unpack("<QQ", data[12:28])
        header = bytes(data[32 + offset : 32 + offset + size])
        for old, new in renames.items():
            assert len(old) == len(new) and old.encode("utf-16-le") in header
            header = header.replace(old.encode("utf-16-le"), new.encode("utf-16-le"))
        data[32 + offset : 32 + offset + size] = header
        data[28:32] = struct.pack("<I", zlib.crc32(header))
        data[8:12] = struct.pack("<I", zlib.crc32(bytes(data[12:32])))
    return bytes(data)


def test_members_of_a_7z_are_hashed_like_the_files_themselves(tmp_path: Path) -> None:
    result = hashed(seven({"inner/coffee.jpg": LISTED, "moon.jpg": OTHER, "notes.txt": b"hello"}), tmp_path, "a.7z")
    plain = hash_ref(MediaRef(str(PHOTOS / "coffee.jpg"), len(LISTED)), CONFIG)
    found = by_path(result)
    assert result.error is None and set(found) == {"inner/coffee.jpg", "moon.jpg", "notes.txt"}
    coffee = found["inner/coffee.jpg"]
    assert coffee.ref.uri == f"{tmp_path / 'a.7z'}!inner/coffee.jpg" and coffee.perceptual == plain.perceptual
    assert coffee.digests == plain.digests and coffee.ref.mtime_ns is not None
    assert found["notes.txt"].digests["md5"] == hashlib.md5(b"hello").digest()
    solid_off = hashed(seven({"a.jpg": LISTED, "b.jpg": OTHER}, filters=[{"id": py7zr.FILTER_COPY}]), tmp_path, "b.7z")
    assert [m.digests["md5"] for m in solid_off.members] == [hashlib.md5(LISTED).digest(), hashlib.md5(OTHER).digest()]


def test_nested_7z_and_zip_are_walked_both_ways(tmp_path: Path) -> None:
    inner = seven({"c.jpg": LISTED})
    result = hashed(zip_bytes({"in.7z": inner}), tmp_path)
    assert list(by_path(result)) == ["in.7z!c.jpg", "in.7z"]
    outer = hashed(seven({"d.tar.gz": tar_bytes({"e.jpg": LISTED}, "w:gz")}), tmp_path, "o.7z")
    assert list(by_path(outer)) == ["d.tar.gz!e.jpg", "d.tar.gz"]


def test_traversal_names_in_a_7z_are_only_names_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool, cwd, data = tmp_path / "tmp", tmp_path / "cwd", tmp_path / "data"
    for folder in (spool, cwd, data):
        folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool))
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.chdir(cwd)
    blob = seven(
        {"xx/xx/etc/x.jpg": LISTED, "xabs/y.jpg": OTHER, "big.bin": os.urandom(3 * 1024 * 1024)},
        {"xx/xx/etc/x.jpg": "../../etc/x.jpg", "xabs/y.jpg": "/abs/y.jpg"},
    )
    result = hashed(blob, data, "a.7z")
    assert result.error is None and set(by_path(result)) == {"../../etc/x.jpg", "/abs/y.jpg", "big.bin"}
    assert by_path(result)["../../etc/x.jpg"].digests["md5"] == hashlib.md5(LISTED).digest()
    assert list(spool.iterdir()) == [] and list(cwd.iterdir()) == [] and [p.name for p in data.iterdir()] == ["a.7z"]
    assert not Path("/etc/x.jpg").exists() and not Path("/abs").exists()


def test_an_encrypted_7z_is_recorded_not_guessed(tmp_path: Path) -> None:
    for options in ({"password": "secret"}, {"password": "secret", "header_encryption": True}):
        blob = seven({"coffee.jpg": LISTED}, **options)
        result = hashed(blob, tmp_path, "a.7z")
        assert result.error == "encrypted archive, members not hashed" and result.members == ()
        assert result.digests["md5"] == hashlib.md5(blob).digest()  # the archive itself is still matched


def test_a_truncated_or_corrupt_7z_is_reported(tmp_path: Path) -> None:
    whole = seven({"coffee.jpg": LISTED, "moon.jpg": OTHER})
    cut = hashed(whole[: len(whole) // 2], tmp_path, "cut.7z")
    assert "truncated" in (cut.error or "") and cut.members == ()
    tiny = hashed(b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(10), tmp_path, "tiny.7z")
    assert "truncated" in (tiny.error or "") and tiny.members == ()
    flipped = bytearray(whole)
    flipped[100] ^= 0xFF  # inside the packed data: the member's CRC cannot match
    bad = hashed(bytes(flipped), tmp_path, "bad.7z")
    assert "corrupt" in (bad.error or "") and not any(m.digests for m in bad.members)
    assert bad.members[0].error and "cannot be read" in bad.members[0].error


def test_a_7z_bomb_is_refused_from_its_header_fast(tmp_path: Path) -> None:
    bomb = seven({"coffee.jpg": LISTED, "zeros.bin": bytes(300 * 1024 * 1024), "after.jpg": OTHER})
    assert len(bomb) < 1024 * 1024
    result, took, peak = _bounded(bomb, tmp_path, "bomb.7z")
    found = by_path(result)
    assert "above the 100 to 1 limit" in (found["coffee.jpg"].error or "")  # its solid block's ratio
    assert "after a refused member" in (found["after.jpg"].error or "") and not any(m.digests for m in result.members)
    assert took < 5 and peak < 64 * 1024 * 1024
    many = seven({f"f{i}": str(i).encode() for i in range(2000)})
    refused, took, _ = _bounded(many, tmp_path, "many.7z", ArchiveLimits(max_members=10))
    assert refused.error == "declares more than 10 members (--archive-max-members): no member hashed"
    assert refused.members == () and took < 5
    big = seven({"a.bin": os.urandom(300_000), "b.jpg": LISTED})
    limited, _, _ = _bounded(big, tmp_path, "big.7z", ArchiveLimits(max_member_size=100_000))
    assert "member limit" in (by_path(limited)["a.bin"].error or "") and by_path(limited)["b.jpg"].error


def test_without_py7zr_a_7z_is_recorded_with_how_to_read_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sevenzip, "available", lambda: False)
    result = hashed(seven({"coffee.jpg": LISTED}), tmp_path, "a.7z")
    assert result.members == () and result.error is not None
    assert result.error.startswith("7z archive, members not hashed") and "libra-cli[7z]" in result.error


def test_a_7z_member_finding_gets_its_report_digests(tmp_path: Path) -> None:
    from libra_cli.hashing import member_digests

    path = tmp_path / "a.7z"
    path.write_bytes(seven({"x.jpg": OTHER, "coffee.jpg": LISTED}))
    ref = MediaRef(str(path), path.stat().st_size)
    config = HashConfig(digests=("md5",), perceptual=(), archives=ArchiveLimits())
    found = member_digests(ref, {("coffee.jpg",)}, ("sha1", "sha256"), config)
    digests = {"sha1": hashlib.sha1(LISTED).digest(), "sha256": hashlib.sha256(LISTED).digest()}
    assert found == {("coffee.jpg",): digests}
