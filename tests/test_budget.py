"""The decode-cost budget refuses files whose structure promises minutes of work, in milliseconds, and never
an ordinary picture: real photos, progressive and optimised JPEGs, animations and multi-page files pass."""

from __future__ import annotations

import functools
import io
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

import hostile
from libra_cli.errors import MediaError
from libra_cli.media.budget import DEFAULT_BUDGET, Budget, check_decode_budget
from libra_cli.media.image import decode
from libra_cli.media.jpeg import survey
from libra_cli.media.sniff import sniff

MAX_PIXELS = 64_000_000


def _check(data: bytes, max_pixels: int = MAX_PIXELS, budget: Budget = DEFAULT_BUDGET) -> None:
    media_type = sniff(data)
    assert media_type is not None
    check_decode_budget(data, media_type, max_pixels=max_pixels, budget=budget)


def _refused(data: bytes, max_pixels: int = MAX_PIXELS, budget: Budget = DEFAULT_BUDGET) -> str:
    with pytest.raises(MediaError) as caught:
        _check(data, max_pixels, budget)
    reason = str(caught.value)
    assert reason.endswith("(decode-cost guard)") and "\n" not in reason
    return reason


def test_the_issue_jpeg_is_refused_in_milliseconds() -> None:
    # Issue 6: 8000x8000 grey, 80,000 full-image scans, 7.7 MB; libjpeg spends ten minutes on it.
    data = hostile.progressive_jpeg(8000, 8000, 80_000)
    assert 7_000_000 < len(data) < 10_000_000
    started = time.perf_counter()
    reason = _refused(data)
    elapsed = time.perf_counter() - started
    assert "megapixel-scans" in reason and "8000x8000" in reason
    assert elapsed < 0.5, f"refusing took {elapsed:.3f} s"  # measured: under 1 ms


#: (name, builder, a phrase of the reason): each file just over, or well over, one limit.
BOMBS: list[tuple[str, Callable[[], bytes], str]] = [
    ("jpeg-20k-scans", lambda: hostile.progressive_jpeg(8000, 8000, 20_000), "megapixel-scans"),
    ("jpeg-refine", lambda: hostile.progressive_jpeg(8000, 8000, 20_000, refine=True), "megapixel-scans"),
    ("jpeg-arithmetic", lambda: hostile.progressive_jpeg(8000, 8000, 100_000, arithmetic=True), "arithmetic-coded"),
    ("jpeg-tiny-many-scans", lambda: hostile.progressive_jpeg(8, 8, 100_000), "more than 1000 scans"),
    ("jpeg-segments", lambda: hostile.jpeg_with_segments(20_000), "marker segments"),
    ("jpeg-junk", lambda: hostile.jpeg_with_junk(2 << 20), "stray bytes"),
    ("png-chunks-after", lambda: hostile.png_chunk_flood(200_000), "chunks"),
    ("png-chunks-before", lambda: hostile.png_chunk_flood(200_000, after=False), "chunks"),
    ("png-empty-idats", lambda: hostile.png_empty_idats(200_000), "chunks"),
    ("apng-frames", lambda: hostile.apng(20_000), "frames"),
    ("gif-frames", lambda: hostile.gif(100_000), "frames"),
    ("gif-blocks", lambda: hostile.gif(1, extensions=70_000), "blocks"),
    ("gif-junk", lambda: hostile.gif(1)[:-1] + b"\x00" * (2 << 20) + b";", "stray bytes"),
    ("tiff-pages", lambda: hostile.tiff(pages=20_000), "pages"),
    ("tiff-loop", lambda: hostile.tiff(pages=3, loop=True), "loops"),
    ("tiff-tiles", lambda: hostile.tiff(8000, 8000, tile=16), "tiles"),
    ("webp-frames", lambda: hostile.webp(20_000), "frames"),
    ("bmp-runs", lambda: hostile.bmp_rle(2100, 2100), "run-length"),
    ("qoi-ops", lambda: hostile.qoi(2048, 1024, ops=2048 * 1024), "QOI"),
    ("psd-rows", lambda: hostile.psd_rows(1_000_001), "rows"),
]


@pytest.mark.parametrize(("build", "phrase"), [b[1:] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_cost_bombs_are_refused_quickly(build: Callable[[], bytes], phrase: str) -> None:
    data = build()
    started = time.perf_counter()
    reason = _refused(data)
    assert time.perf_counter() - started < 1.0
    assert phrase in reason


# ------------------------------------------------------------------------------------------- the boundaries


def test_jpeg_budget_is_pixel_scans_per_pixel_of_the_limit() -> None:
    # 64x64 grey: the DC scan plus k AC scans cost (k + 1) x 4096 pixel-scans; the budget at a 4096-pixel
    # limit is 64 passes, so 63 AC scans fit and 64 do not.
    limit = 64 * 64
    _check(hostile.progressive_jpeg(64, 64, 63), max_pixels=limit)
    assert "megapixel-scans" in _refused(hostile.progressive_jpeg(64, 64, 64), max_pixels=limit)
    # The same file at a larger limit passes: the budget scales with the limit, not with the file.
    _check(hostile.progressive_jpeg(64, 64, 64), max_pixels=limit * 2)


def test_arithmetic_scans_weigh_eight_times() -> None:
    limit = 64 * 64
    _check(hostile.progressive_jpeg(64, 64, 7, arithmetic=True), max_pixels=limit)
    assert "arithmetic-coded" in _refused(hostile.progressive_jpeg(64, 64, 8, arithmetic=True), max_pixels=limit)


def test_scan_count_limit_holds_whatever_the_size() -> None:
    _check(hostile.progressive_jpeg(8, 8, 999))  # 1,000 scans with the DC scan
    assert "1000 scans" in _refused(hostile.progressive_jpeg(8, 8, 1_000))


def test_components_and_subsampling_are_counted() -> None:
    # A 4:2:0 colour JPEG: Y is full size, Cb and Cr a quarter each, so the interleaved scan is 1.5 passes.
    data = _pillow(Image.new("RGB", (64, 64), (200, 30, 40)), "JPEG", subsampling=2, progressive=True)
    shape = survey(data)
    assert shape.components == 3 and shape.progressive
    assert 6 <= shape.scans <= 12
    assert 4 * 4096 < shape.pixel_scans < 12 * 4096
    assert survey(_pillow(Image.new("RGB", (64, 64)), "JPEG", subsampling=2)).pixel_scans == 4096 * 3 // 2


@pytest.mark.parametrize(
    ("under", "over"),
    [
        (lambda: hostile.png_chunk_flood(100_000 - 3), lambda: hostile.png_chunk_flood(100_000 - 2)),
        (lambda: hostile.gif(10_000), lambda: hostile.gif(10_001)),
        (lambda: hostile.apng(10_000), lambda: hostile.apng(10_001)),
        (lambda: hostile.webp(10_000), lambda: hostile.webp(10_001)),
        (lambda: hostile.tiff(pages=10_000), lambda: hostile.tiff(pages=10_001)),
        (lambda: hostile.psd_rows(1_000_000), lambda: hostile.psd_rows(1_000_001)),
        (lambda: hostile.jpeg_with_segments(10_000 - 5), lambda: hostile.jpeg_with_segments(10_000 - 4)),
    ],
    ids=["png-chunks", "gif-frames", "apng-frames", "webp-frames", "tiff-pages", "psd-rows", "jpeg-segments"],
)
def test_limits_are_exact(under: Callable[[], bytes], over: Callable[[], bytes]) -> None:
    _check(under())
    _refused(over())


def test_a_bomb_is_left_to_the_pixel_guard() -> None:
    # A JPEG of 65,000 x 65,000 pixels costs more than the budget in one scan, but the pixel guard names it.
    _check(hostile.progressive_jpeg(65_000, 65_000, 1))
    with pytest.raises(MediaError, match="decompression bomb guard"):
        decode(hostile.progressive_jpeg(65_000, 65_000, 1), max_pixels=MAX_PIXELS)


# ------------------------------------------------------------------------------------ ordinary files pass


def _pillow(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _photo(name: str = "coffee", size: tuple[int, int] | None = None) -> Image.Image:
    img = Image.open(hostile_photos() / f"{name}.jpg").convert("RGB")
    return img.resize(size, Image.Resampling.BILINEAR) if size else img


def hostile_photos() -> Path:
    return Path(__file__).parent / "data" / "photos"


def _frames(count: int, size: tuple[int, int] = (96, 64)) -> list[Image.Image]:
    base = _photo("chelsea", size)
    return [base.rotate(i * 360 / count) for i in range(count)]


def _gif(count: int) -> bytes:
    frames = _frames(count)
    palette = frames[0].quantize(64)  # one palette: Pillow quantising 300 RGB frames takes seconds
    indexed = [frame.quantize(palette=palette) for frame in frames]
    return _pillow(indexed[0], "GIF", save_all=True, append_images=indexed[1:])


@functools.cache
def _ordinary() -> list[tuple[str, bytes]]:
    photo = _photo()
    big = _photo("rocket").resize((4000, 3000), Image.Resampling.NEAREST)
    files = [(p.name, p.read_bytes()) for p in sorted(hostile_photos().glob("*.jpg"))]
    files += [
        ("progressive 4:2:0", _pillow(photo, "JPEG", progressive=True)),
        ("progressive optimised 4:4:4", _pillow(photo, "JPEG", progressive=True, optimize=True, subsampling=0)),
        ("progressive grey", _pillow(photo.convert("L"), "JPEG", progressive=True, optimize=True)),
        ("progressive CMYK", _pillow(photo.convert("CMYK"), "JPEG", progressive=True)),
        ("progressive 12 megapixels", _pillow(big, "JPEG", progressive=True, optimize=True, quality=92)),
        ("baseline 12 megapixels with restarts", _pillow(big, "JPEG", restart_marker_blocks=1)),
        ("animated GIF, 300 frames", _gif(300)),
        ("APNG, 100 frames", _pillow(_frames(1)[0], "PNG", save_all=True, append_images=_frames(100))),
        ("animated WebP, 100 frames", _pillow(_frames(1)[0], "WEBP", save_all=True, append_images=_frames(100))),
        ("TIFF, 20 pages", _pillow(_frames(1)[0], "TIFF", save_all=True, append_images=_frames(20))),
        ("TIFF, tiled", _pillow(photo, "TIFF", tile=(64, 64))),
        ("TIFF, LZW", _pillow(photo, "TIFF", compression="tiff_lzw")),
        ("PNG, interlaced", _pillow(photo, "PNG", optimize=True)),
        ("BMP", _pillow(photo, "BMP")),
        ("ICO", _pillow(photo, "ICO", sizes=[(16, 16), (64, 64), (256, 256)])),
        ("QOI", _pillow(photo.resize((256, 256)), "QOI")),
        ("WebP", _pillow(photo, "WEBP")),
        ("JPEG 2000", _pillow(photo, "JPEG2000")),
        ("realistic progression", hostile.progressive_jpeg(4000, 3000, 10)),
    ]
    return files


def test_ordinary_pictures_pass() -> None:
    files = _ordinary()
    for name, data in files:
        _check(data)  # raises on refusal: the test names the file
        assert not survey(data).stopped or sniff(data) != "image/jpeg", name


def test_the_check_is_cheap_next_to_decoding() -> None:
    # Side by side, the best of three runs each (the machine is shared), compared as a ratio.
    files = [(n, d) for n, d in _ordinary() if sniff(d) in ("image/jpeg", "image/png", "image/gif")]
    check_time = decode_time = 0.0
    for _name, data in files:
        check_time += min(_timed(lambda data=data: _check(data)) for _ in range(3))
        decode_time += min(_timed(lambda data=data: decode(data, max_pixels=MAX_PIXELS)) for _ in range(3))
    assert check_time < 0.1 * decode_time, (check_time, decode_time)


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------------ damaged files


#: Small, valid instances of every structure the check walks: the seeds that are cut and flipped.
SEEDS: list[Callable[[], bytes]] = [
    lambda: hostile.progressive_jpeg(16, 16, 5),
    lambda: hostile.progressive_jpeg(16, 16, 5, arithmetic=True, refine=True),
    lambda: hostile.baseline_jpeg(16, 16),
    lambda: hostile.jpeg_with_segments(10),
    lambda: hostile.png_chunk_flood(10),
    lambda: hostile.apng(4),
    lambda: hostile.gif(4, extensions=2),
    lambda: hostile.tiff(pages=3),
    lambda: hostile.tiff(pages=3, loop=True),
    lambda: hostile.tiff(64, 64, tile=16),
    lambda: hostile.webp(3),
    lambda: hostile.bmp_rle(8, 8),
    lambda: hostile.psd_rows(8),
    lambda: hostile.qoi(),
    lambda: hostile.encoded("ICO"),
    lambda: hostile.encoded("TIFF", compression="tiff_lzw"),
]


def test_damaged_structures_only_ever_raise_media_error() -> None:
    rnd = random.Random(6)
    tried = 0
    for build in SEEDS:
        data = build()
        media_type = sniff(data)
        assert media_type is not None
        variants = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 40))]
        for _ in range(40):
            flipped = bytearray(data)
            for _ in range(rnd.randrange(1, 6)):
                flipped[rnd.randrange(len(flipped))] = rnd.randrange(256)
            variants.append(bytes(flipped))
        for variant in variants:
            tried += 1
            try:
                check_decode_budget(variant, media_type, max_pixels=MAX_PIXELS)
            except MediaError as err:
                assert str(err).endswith("(decode-cost guard)")
    assert tried > 1000


# ------------------------------------------------------------------------------------- through the worker


def test_a_refused_file_keeps_its_digests(tmp_path: Path) -> None:
    from libra_cli.hashing import hash_ref
    from libra_cli.models import HashConfig, MediaRef

    path = tmp_path / "scans.jpg"
    path.write_bytes(hostile.progressive_jpeg(500, 500, 1_500))  # over the 1,000-scan limit, cheap to decode
    result = hash_ref(MediaRef(str(path), path.stat().st_size), HashConfig())
    assert result.error is not None and "decode-cost guard" in result.error
    assert set(result.digests) == set(HashConfig().digests) and not result.perceptual
