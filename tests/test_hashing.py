"""The worker function: the hash set's digests, perceptual hashes for media, one plain sentence for bad files."""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
import random
import tempfile
from pathlib import Path

import pytest
from PIL import Image

import imagegen
from libra_cli.errors import ConfigError
from libra_cli.hashers.pdq import DIHEDRAL_VARIANTS
from libra_cli.hashing import check_config, hash_ref
from libra_cli.models import HashConfig, HashResult, HashValues, MediaRef


def ref_for(path: Path) -> MediaRef:
    st = path.stat()
    return MediaRef(str(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


ALL = HashConfig(perceptual=("pdq", "phash", "dhash"))


def values(result: HashResult, hash_type: str) -> HashValues:
    return next(v for v in result.perceptual if v.hash_type == hash_type)


def hexes(result: HashResult, hash_type: str) -> list[str]:
    return [row.tobytes().hex() for row in values(result, hash_type).values]


def write(tmp_path: Path, name: str, data: bytes) -> MediaRef:
    path = tmp_path / name
    path.write_bytes(data)
    return ref_for(path)


def test_jpeg_gets_every_default_hash(tmp_path: Path) -> None:
    data = imagegen.jpeg()
    result = hash_ref(write(tmp_path, "a.jpg", data), ALL)
    assert result.error is None
    assert result.media_type == "image/jpeg"
    assert (result.width, result.height) == (600, 400)
    assert result.digests == {"md5": hashlib.md5(data).digest(), "sha256": hashlib.sha256(data).digest()}
    pdq = values(result, "pdq")
    assert pdq.transforms == DIHEDRAL_VARIANTS and pdq.values.shape == (8, 32)
    assert pdq.quality is not None and set(pdq.quality.tolist()) == {100}
    assert values(result, "phash").values.shape == values(result, "dhash").values.shape == (1, 8)
    assert result.computed == {"md5", "sha256", "pdq", "phash", "dhash"}


def test_media_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    result = hash_ref(write(tmp_path, "notes.txt", imagegen.jpeg()), HashConfig())
    assert result.media_type == "image/jpeg" and result.perceptual


def test_options_select_what_is_computed(tmp_path: Path) -> None:
    ref = write(tmp_path, "a.png", imagegen.encode(imagegen.photo(), "PNG"))
    plain = hash_ref(ref, HashConfig(digests=("sha1", "blake3"), perceptual=("pdq",), dihedral=False))
    assert set(plain.digests) == {"sha1", "blake3"}
    assert values(plain, "pdq").transforms == ("original",)
    robust = hash_ref(ref, HashConfig(perceptual=("pdq",), dihedral=False, robust=True))
    variants = values(robust, "pdq").transforms
    assert variants[0] == "original" and len(variants) == len(set(variants)) > 30
    digests_only = hash_ref(ref, HashConfig(perceptual=()))
    assert digests_only.media_type == "image/png" and not digests_only.perceptual
    assert digests_only.computed == {"md5", "sha256"}


def test_exif_rotated_photo_hashes_like_its_upright_original(tmp_path: Path) -> None:
    upright = hash_ref(write(tmp_path, "up.jpg", imagegen.jpeg()), HashConfig(dihedral=False))
    rotated = hash_ref(write(tmp_path, "side.jpg", imagegen.exif_rotated()), HashConfig(dihedral=False))
    a, b = (hexes(r, "pdq")[0] for r in (upright, rotated))
    assert bin(int(a, 16) ^ int(b, 16)).count("1") <= 10


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (imagegen.truncated_jpeg(), "truncated"),
        (imagegen.png_header_only(9_000, 9_000), "decompression bomb"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "cannot be decoded"),
    ],
    ids=["truncated", "bomb", "heic-damaged"],
)
def test_bad_media_keeps_its_digests(tmp_path: Path, data: bytes, reason: str) -> None:
    result = hash_ref(write(tmp_path, "bad.bin", data), HashConfig())
    assert result.error is not None and reason in result.error and not result.fatal
    assert result.digests["sha256"] == hashlib.sha256(data).digest()
    assert result.media_type is not None and not result.perceptual


@pytest.mark.parametrize("data", [b"", b"plain text, not media\n"], ids=["zero-bytes", "text"])
def test_non_media_gets_digests_only(tmp_path: Path, data: bytes) -> None:
    result = hash_ref(write(tmp_path, "f", data), HashConfig())
    digests = {"md5": hashlib.md5(data).digest(), "sha256": hashlib.sha256(data).digest()}
    assert result == HashResult(result.ref, None, digests, computed=frozenset(digests))


def test_a_fake_video_keeps_its_digests_and_says_it_is_damaged(tmp_path: Path) -> None:
    """A valid container header and nothing playable after it is an error note, never silently clean."""
    data = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 100
    result = hash_ref(write(tmp_path, "clip.bin", data), HashConfig())
    assert result.media_type == "video/mp4" and not result.perceptual and not result.fatal
    assert result.error is not None and "cannot be opened" in result.error
    assert set(result.digests) == {"md5", "sha256"}


def test_unreadable_and_oversized_files_are_errors_not_exceptions(tmp_path: Path) -> None:
    missing = hash_ref(MediaRef(str(tmp_path / "gone.jpg"), 10), HashConfig())
    assert missing.error and "removed" in missing.error and not missing.digests and not missing.fatal
    big = hash_ref(write(tmp_path, "big.jpg", imagegen.jpeg()), HashConfig(max_in_memory=100))
    assert big.error and "limit" in big.error
    assert big.media_type == "image/jpeg" and set(big.digests) == {"md5", "sha256"}  # streamed, still matchable
    assert not big.perceptual


def test_bad_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'sha512'"):
        check_config(HashConfig(digests=("sha512",)))
    with pytest.raises(ConfigError, match="'ahash'"):
        hash_ref(write(tmp_path, "a.jpg", imagegen.jpeg()), HashConfig(perceptual=("ahash",)))


def test_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    samples = {"a.jpg": imagegen.jpeg(), "b.png": imagegen.png16(), "c.gif": imagegen.animated_gif(),
               "d.jpg": imagegen.truncated_jpeg(), "e.txt": b"text"}
    for name, data in samples.items():
        (tree / name).write_bytes(data)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tree.iterdir()}
    empty_tmp = tmp_path / "tmp"
    empty_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(empty_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(empty_tmp))
    monkeypatch.setattr(Image.Image, "save", lambda *a, **k: pytest.fail("the pipeline saved an image"))
    for path in sorted(tree.iterdir()):
        hash_ref(ref_for(path), HashConfig(perceptual=("pdq", "phash", "dhash"), robust=True))
    assert list(empty_tmp.iterdir()) == []
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tree.iterdir()} == before


def test_runs_in_a_spawned_worker_process(tmp_path: Path) -> None:
    ref = write(tmp_path, "a.jpg", imagegen.jpeg())
    config = HashConfig()
    assert pickle.loads(pickle.dumps((ref, config))) == (ref, config)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        remote = pool.apply(hash_ref, (ref, config))
    assert remote == hash_ref(ref, config)


def test_corrupted_files_never_raise(tmp_path: Path) -> None:
    rng = random.Random(3)
    originals = [imagegen.jpeg(), imagegen.encode(imagegen.photo().resize((120, 80)), "PNG"),
                 imagegen.encode(imagegen.photo().resize((120, 80)), "GIF"),
                 imagegen.encode(imagegen.photo().resize((120, 80)), "WEBP")]
    for i in range(60):
        data = bytearray(originals[i % len(originals)])
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(16, len(data))] = rng.randrange(256)
        result = hash_ref(write(tmp_path, f"c{i}", bytes(data)), HashConfig())
        assert result.digests and (result.error is None or "\n" not in result.error)


def test_an_unexpected_hasher_failure_is_one_short_printable_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from libra_cli.hashers import imagehash_family

    def explode(img: Image.Image) -> object:
        raise ValueError("first line\nsecond line \x1b[2J" + "x" * 5000)

    monkeypatch.setattr(imagehash_family.PHASH, "_function", explode)
    data = imagegen.jpeg()
    result = hash_ref(write(tmp_path, "a.jpg", data), ALL)
    assert result.error is not None and "ValueError" in result.error
    assert result.error.isprintable() and len(result.error) < 300
    assert result.digests["sha256"] == hashlib.sha256(data).digest()


def test_decoder_messages_are_printable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    def explode(self: object) -> None:
        raise OSError("decoder said \x1b]0;owned\x07 and more")

    monkeypatch.setattr(ImageFile.ImageFile, "load", explode)
    result = hash_ref(write(tmp_path, "a.png", imagegen.encode(imagegen.photo(), "PNG")), HashConfig())
    assert result.error is not None and result.error.isprintable() and "decoder said" in result.error
