"""Every hasher's known examples, the registry's rules, and agreement with the reference libraries."""

from __future__ import annotations

import hashlib

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image

import imagegen
from libra_cli import signals
from libra_cli.errors import ConfigError
from libra_cli.hashers import base, digest_all, exact, get, hashers, perceptual
from libra_cli.hashers.pdq import DIHEDRAL_VARIANTS, PDQ, pdq_hex
from libra_cli.hashers.robust import robust_hashes

BUILTIN = [s for s in signals.all_types() if type(s).__module__.startswith("libra_cli")]
DIGEST_SIZES = {s.name: s.nbytes for s in BUILTIN if s.kind == "digest"}
PERCEPTUAL_BITS = {s.name: s.bits for s in BUILTIN if s.kind == "perceptual"}

EXAMPLES = [(h, e) for h in hashers() for e in h.examples()]


def distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


@pytest.mark.parametrize(("hasher", "example"), EXAMPLES, ids=[f"{h.name}-{e.label}" for h, e in EXAMPLES])
def test_known_examples(hasher: base.Hasher, example: base.Example) -> None:
    assert hasher.hash_example(example) == example.expected


def test_every_hasher_has_examples_and_a_unique_name() -> None:
    names = [h.name for h in hashers()]
    assert len(names) == len(set(names))
    assert all(h.examples() for h in hashers())
    assert {h.name for h in hashers("exact")} == set(DIGEST_SIZES)
    assert {h.name for h in hashers("perceptual")} == set(PERCEPTUAL_BITS) - {"vpdq", "scene"}  # scene: context only


def test_registering_a_name_twice_fails() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        base.register(PDQ)


def test_lookups_name_the_bad_value() -> None:
    with pytest.raises(ConfigError, match="'sha512'"):
        get("sha512")
    with pytest.raises(ConfigError, match="perceptual"):
        exact("pdq")
    with pytest.raises(ConfigError, match="exact digest"):
        perceptual("md5")


def test_digests_match_hashlib_across_chunks() -> None:
    data = bytes(range(256)) * 9000  # > 2 chunks of 1 MiB
    found = digest_all(data, ("md5", "sha1", "sha256", "blake3"))
    assert found["md5"] == hashlib.md5(data).hexdigest()
    assert found["sha1"] == hashlib.sha1(data).hexdigest()
    assert found["sha256"] == hashlib.sha256(data).hexdigest()
    assert {k: len(v) for k, v in found.items()} == {k: 2 * n for k, n in DIGEST_SIZES.items()}


def test_md5_is_fips_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    real = hashlib.md5

    def md5(*args: object, **kwargs: object) -> object:
        seen.append(kwargs.get("usedforsecurity"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hashlib, "md5", md5)
    digest_all(b"abc", ("md5",))
    assert seen == [False]


@pytest.mark.parametrize("name", imagegen.PHOTO_NAMES)
def test_fast_pdq_agrees_with_pdqhash(name: str) -> None:
    grey = imagegen.photo(name).convert("L")
    pixels = np.asarray(grey)
    bits, quality = pdqhash.compute(np.ascontiguousarray(np.broadcast_to(pixels[:, :, None], (*pixels.shape, 3))))
    reference = np.packbits(bits.astype(np.uint8)).tobytes().hex()
    value, fast_quality = pdq_hex(grey)
    assert distance(value, reference) <= 2
    assert abs(fast_quality - quality) <= 2


ODD_SIZES = [(5, 700), (37, 23), (64, 64), (129, 1000), (3000, 520), (12000, 9), (7, 9000), (100_000, 6)]


@pytest.mark.parametrize("size", ODD_SIZES)
def test_fast_pdq_agrees_with_pdqhash_at_odd_sizes(size: tuple[int, int]) -> None:
    grey = imagegen.photo("chelsea").convert("L").resize(size)
    pixels = np.asarray(grey)
    bits, _ = pdqhash.compute(np.ascontiguousarray(np.broadcast_to(pixels[:, :, None], (*pixels.shape, 3))))
    assert distance(pdq_hex(grey)[0], np.packbits(bits.astype(np.uint8)).tobytes().hex()) <= 2


def test_pdq_dihedral_variants_match_real_transforms() -> None:
    grey = imagegen.photo("coffee").convert("L")
    variants = {h.variant: h for h in PDQ.hash_dihedral(grey)}
    assert tuple(variants) == DIHEDRAL_VARIANTS
    assert variants["original"].value == PDQ.hash_image(grey)[0].value
    for name, method in [("mirror", Image.Transpose.FLIP_LEFT_RIGHT), ("rot90", Image.Transpose.ROTATE_90),
                         ("rot180", Image.Transpose.ROTATE_180), ("flip", Image.Transpose.FLIP_TOP_BOTTOM)]:
        real = PDQ.hash_image(grey.transpose(method))[0].value
        assert distance(variants[name].value, real) <= 20, name


def test_pdq_quality_is_low_for_a_flat_image() -> None:
    assert (PDQ.hash_image(Image.new("L", (300, 200), 128))[0].quality or 0) < 50
    assert PDQ.hash_image(Image.new("L", (3, 3), 128))[0].quality == 0


@pytest.mark.parametrize("name", ["phash", "dhash"])
def test_imagehash_family_agrees_with_imagehash_on_the_full_image(name: str) -> None:
    full = imagegen.photo("retina").resize((1632, 1224))
    reference = str(getattr(imagehash, name)(full))
    ours = perceptual(name).hash_image(full.convert("L").reduce(2))[0].value
    assert distance(ours, reference) <= 4


def test_robust_variants_are_named_uniquely_and_catch_a_crop() -> None:
    grey = imagegen.photo("rocket").convert("L")
    robust = robust_hashes(grey)
    names = [h.variant for h in robust]
    assert len(names) == len(set(names)) >= 30
    assert all(h.hash_type == "pdq" and len(h.value) == 64 for h in robust)
    w, h = grey.size
    cropped = PDQ.hash_image(grey.crop((w // 20, h // 20, w - w // 20, h - h // 20)))[0].value
    original = PDQ.hash_image(grey)[0].value
    assert distance(cropped, original) > 31  # plain PDQ misses a 5% crop ...
    assert min(distance(cropped, r.value) for r in robust) <= 31  # ... the robust list catches it


def test_fast_pdq_memory_stays_near_the_image_size_on_extreme_panoramas() -> None:
    # A 1,000,000 x 16 PNG is a few kilobytes on disk; its PDQ must not cost gigabytes.
    import tracemalloc

    wide = Image.new("L", (1_000_000, 16), 0)
    wide.paste(255, (0, 0, 300_000, 16))
    tracemalloc.start()
    try:
        pdq_hex(wide)
        pdq_hex(wide.transpose(Image.Transpose.TRANSPOSE))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1024 * 1024  # the image itself is 16 MB


def test_tiny_images_never_reach_pdqhash_at_full_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # pdqhash copies the whole image into float buffers before it finds a side under 5 pixels.
    seen: list[tuple[int, ...]] = []
    real = pdqhash.compute

    def compute(arr: np.ndarray) -> object:
        seen.append(arr.shape)
        return real(arr)

    monkeypatch.setattr(pdqhash, "compute", compute)
    value, quality = pdq_hex(Image.new("L", (200_000, 4), 200))
    assert quality == 0 and value == "0" * 64
    assert all(np.prod(shape) <= 64 * 64 * 3 for shape in seen)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (1, 300), (300, 1), (4, 4), (5, 5), (6, 2000), (9000, 7)])
def test_every_perceptual_hash_survives_tiny_and_thin_images(size: tuple[int, int]) -> None:
    img = imagegen.photo("coins").convert("L").resize(size)
    for hasher in hashers("perceptual"):
        assert isinstance(hasher, base.PerceptualHasher)
        (found,) = hasher.hash_image(img)
        assert len(found.value) in (16, 64)
    variants = PDQ.hash_dihedral(img)
    assert len(variants) == 8
    if min(size) < 5:
        assert all(h.quality == 0 for h in variants)
