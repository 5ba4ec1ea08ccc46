"""Safe decode: awkward images decode to the same picture, bad ones fail with one plain sentence."""

from __future__ import annotations

import functools
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

import imagegen
from libra_cli.errors import MediaError
from libra_cli.hashers.pdq import pdq_hex
from libra_cli.media.image import decode

LIMIT = 64_000_000


def distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def pdq_of(data: bytes) -> str:
    return pdq_hex(decode(data, max_pixels=LIMIT).image)[0]


REFERENCE = pdq_of(imagegen.jpeg("coffee"))

# Each awkward encoding of the coffee photo must hash like the plain JPEG of it.
AWKWARD: dict[str, Callable[[], bytes]] = {
    "cmyk-jpeg": imagegen.cmyk_jpeg,
    "16-bit-png": imagegen.png16,
    "palette-with-transparency": imagegen.palette_with_transparency,
    "rgba-png": imagegen.rgba_png,
    "exif-rotated-6": lambda: imagegen.exif_rotated(orientation=6),
    "exif-rotated-8": lambda: imagegen.exif_rotated(orientation=8),
    "exif-rotated-3": lambda: imagegen.exif_rotated(orientation=3),
    "animated-gif": imagegen.animated_gif,
}


@pytest.mark.parametrize("make", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_images_hash_like_the_original(make: Callable[[], bytes]) -> None:
    decoded = decode(make(), max_pixels=LIMIT)
    assert decoded.image.mode == "L"
    assert (decoded.width, decoded.height) == (600, 400)  # upright size, even when stored sideways
    assert distance(pdq_hex(decoded.image)[0], REFERENCE) <= 10


def test_animated_gif_uses_the_first_frame() -> None:
    first = pdq_of(imagegen.animated_gif("coffee", "rocket"))
    second_only = pdq_of(imagegen.encode(imagegen.photo("rocket").resize((600, 400)), "GIF"))
    assert distance(first, REFERENCE) <= 10
    assert distance(first, second_only) > 64


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    img = decode(imagegen.png16(), max_pixels=LIMIT).image
    low, high = img.getextrema()  # type: ignore[misc]
    assert high - low > 100  # clipping 16-bit values to 8 bits would leave almost everything at 255


def test_jpeg_is_dct_scaled_but_not_below_512() -> None:
    decoded = decode(imagegen.large_jpeg(size=(2400, 1600)), max_pixels=LIMIT)
    assert (decoded.width, decoded.height) == (2400, 1600)
    assert 512 <= min(decoded.image.size) < 1600  # decoded at a fraction of the size


def test_large_png_is_reduced_to_about_512() -> None:
    data = imagegen.encode(imagegen.photo().resize((2048, 1536)), "PNG", compress_level=1)
    decoded = decode(data, max_pixels=LIMIT)
    assert 512 <= min(decoded.image.size) < 1024


def test_truncated_file_fails_cleanly() -> None:
    with pytest.raises(MediaError, match="truncated"):
        decode(imagegen.truncated_jpeg(), max_pixels=LIMIT)


@pytest.mark.parametrize("side", [9_000, 100_000])
def test_decompression_bomb_is_refused_from_the_header(side: int) -> None:
    # 9000^2 is over libra's limit but under Pillow's; 100000^2 trips Pillow's own guard too.
    with pytest.raises(MediaError, match="decompression bomb"):
        decode(imagegen.png_header_only(side, side), max_pixels=LIMIT)


def test_max_pixels_is_honoured() -> None:
    with pytest.raises(MediaError, match="240000 pixels"):
        decode(imagegen.jpeg(), max_pixels=1000)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_garbage_fails_cleanly(data: bytes) -> None:
    with pytest.raises(MediaError) as info:
        decode(data, max_pixels=LIMIT)
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message


def test_never_saves(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("decode tried to save an image")

    monkeypatch.setattr(Image.Image, "save", refuse)
    for make in AWKWARD.values():
        monkeypatch.undo()
        data = make()
        monkeypatch.setattr(Image.Image, "save", refuse)
        decode(data, max_pixels=LIMIT)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK",
                                  "YCbCr", "LAB", "HSV", "I", "I;16", "I;16B", "F"])
def test_every_pillow_mode_becomes_grey(mode: str) -> None:
    from libra_cli.media.image import _to_grey

    assert _to_grey(Image.new(mode, (8, 8))).mode == "L"


PLAIN_PNG = pdq_of(imagegen.encode(imagegen.photo(), "PNG"))
_chunk, _bomb = imagegen.png_chunk, imagegen.text_bomb
# Metadata a browser ignores must not stop libra from hashing the picture: each would let an uploader
# dodge perceptual matching by adding one chunk (Pillow refuses them, libpng skips them).
PNG_METADATA: dict[str, Callable[[], tuple[bytes, bytes]]] = {
    "ztxt-bomb": lambda: (_chunk(b"zTXt", b"k\x00\x00" + _bomb()), b""),
    "iccp-bomb": lambda: (_chunk(b"iCCP", b"icc\x00\x00" + _bomb()), b""),
    "itxt-bomb": lambda: (_chunk(b"iTXt", b"k\x00\x01\x00\x00\x00" + _bomb()), b""),
    "ztxt-bomb-after-idat": lambda: (b"", _chunk(b"zTXt", b"k\x00\x00" + _bomb())),
    "text-over-max-text-memory": lambda: (b"".join(_chunk(b"tEXt", b"k\x00" + bytes(1 << 20)) for _ in range(65)), b""),
    "bad-crc-text": lambda: (_chunk(b"tEXt", b"Comment\x00hi", crc=0), b""),
    "bad-crc-private": lambda: (_chunk(b"prVt", b"\x00" * 16, crc=1), b""),
    "garbage-exif": lambda: (_chunk(b"eXIf", b"garbage, not TIFF"), b""),
}


@pytest.mark.parametrize("chunks", PNG_METADATA.values(), ids=PNG_METADATA.keys())
def test_png_metadata_never_stops_the_decode(chunks: Callable[[], tuple[bytes, bytes]]) -> None:
    before, after = chunks()
    assert pdq_of(imagegen.png_with_chunks(before, after)) == PLAIN_PNG


def test_png_keeps_its_exif_orientation_when_other_metadata_is_dropped() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = imagegen.encode(imagegen.photo().transpose(Image.Transpose.ROTATE_90), "PNG", exif=exif.tobytes())
    ihdr_end = 8 + 12 + 13
    data = sideways[:ihdr_end] + _chunk(b"zTXt", b"k\x00\x00" + _bomb()) + sideways[ihdr_end:]
    decoded = decode(data, max_pixels=LIMIT)
    assert (decoded.width, decoded.height) == (600, 400)
    assert distance(pdq_hex(decoded.image)[0], PLAIN_PNG) <= 10


class _Decoded(BaseException):
    """Raised by a patched ``load``: pixels were about to be decoded (not an Exception, so nothing swallows it)."""


def _small(fmt: str) -> bytes:
    return imagegen.encode(imagegen.photo().resize((300, 200)), fmt)


OVER_LIMIT = {
    "png": lambda: _small("PNG"),
    "gif": lambda: _small("GIF"),
    "tiff": lambda: _small("TIFF"),
    "bmp": lambda: _small("BMP"),
    "webp": lambda: _small("WEBP"),
    "jpeg": lambda: _small("JPEG"),
    "ico-embedding-a-bigger-png": lambda: imagegen.ico_embedding_png(300, 200),
    "gif-frame-bigger-than-its-screen": lambda: _gif_with_screen(_small("GIF"), 8, 8),
}


def _gif_with_screen(data: bytes, width: int, height: int) -> bytes:
    return data[:6] + width.to_bytes(2, "little") + height.to_bytes(2, "little") + data[10:]


@pytest.mark.parametrize("make", OVER_LIMIT.values(), ids=OVER_LIMIT.keys())
def test_pixel_limit_is_checked_before_any_pixel_is_decoded(
    make: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageFile

    data = make()

    def refuse(*args: object, **kwargs: object) -> None:
        raise _Decoded

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)
    with pytest.raises(MediaError, match="pixel limit"):
        decode(data, max_pixels=50_000)


def test_mpo_is_dct_scaled_like_jpeg() -> None:
    # Phones write MPO (JPEG plus depth or preview pictures); Pillow calls it "MPO", not "JPEG".
    big = imagegen.photo().resize((2400, 1600))
    mpo = imagegen.encode(big, "MPO", save_all=True, append_images=[big.resize((600, 400))])
    jpeg = imagegen.encode(big, "JPEG")
    assert decode(mpo, max_pixels=LIMIT).image.size == decode(jpeg, max_pixels=LIMIT).image.size == (1200, 800)


def test_only_the_sniffed_format_plugin_parses_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    # A file libra took for one format is never handed to Pillow's other ~40 plugins (EPS runs Ghostscript).
    seen: list[object] = []
    real = Image.open

    def spy(fp: object, mode: str = "r", formats: object = None) -> Image.Image:
        seen.append(formats)
        return real(fp, mode, formats)  # type: ignore[arg-type]

    monkeypatch.setattr(Image, "open", spy)
    decode(imagegen.jpeg(), max_pixels=LIMIT)
    assert seen == [("JPEG",)]
    with pytest.raises(MediaError, match="not a supported image"):
        decode(b"P5\n2 2\n255\n\x00\x00\x00\x00", max_pixels=LIMIT)  # PGM: Pillow reads it, libra never sniffs it


def test_pil_globals_and_warning_filters_are_never_changed() -> None:
    # A host process that chose its own Pillow settings keeps them; libra's dependencies flip nothing either.
    import subprocess
    import sys

    script = """
import warnings
from PIL import Image, ImageFile
ImageFile.LOAD_TRUNCATED_IMAGES = True
Image.MAX_IMAGE_PIXELS = 12345678
import libra_cli.pipeline, libra_cli.hashing, libra_cli.engine.worker
from libra_cli.errors import MediaError
from libra_cli.media.image import decode
filters = list(warnings.filters)  # after the imports: numpy and scipy add their own at import
for data in (b"\\\\x89PNG\\\\r\\\\n\\\\x1a\\\\n" + bytes(40), b"GIF89a" + bytes(20)):
    try:
        decode(data, max_pixels=1000)
    except MediaError:
        pass
assert ImageFile.LOAD_TRUNCATED_IMAGES is True, "LOAD_TRUNCATED_IMAGES changed"
assert Image.MAX_IMAGE_PIXELS == 12345678, "MAX_IMAGE_PIXELS changed"
assert list(warnings.filters) == filters, "warning filters changed"
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_dependencies_leave_truncated_images_refused() -> None:
    import subprocess
    import sys

    script = "import libra_cli.pipeline, libra_cli.hashing, libra_cli.cli\nfrom PIL import ImageFile\n" \
             "assert ImageFile.LOAD_TRUNCATED_IMAGES is False"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# --- HEIC and AVIF, what recent phones write -----------------------------------------------------


def _heic(img: Image.Image, **options: object) -> bytes:
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(img).save(buffer, quality=85, enc_params={"preset": "ultrafast"}, **options)
    return buffer.getvalue()


@functools.cache
def heic_photo(name: str = "coffee") -> bytes:
    return _heic(imagegen.photo(name))


@functools.cache
def avif_photo(name: str = "coffee") -> bytes:
    return imagegen.encode(imagegen.photo(name), "AVIF", quality=85, speed=10)


@pytest.mark.parametrize("make", [heic_photo, avif_photo], ids=["heic", "avif"])
def test_phone_formats_hash_like_the_jpeg_original(make: Callable[[], bytes]) -> None:
    decoded = decode(make(), max_pixels=LIMIT)
    assert decoded.image.mode == "L" and (decoded.width, decoded.height) == (600, 400)
    assert distance(pdq_hex(decoded.image)[0], REFERENCE) <= 6


def test_heic_rotation_is_applied_once() -> None:
    # A phone stores the sensor's pixels and a rotation: libheif turns them upright, and the EXIF
    # orientation pillow-heif leaves behind (1) must not turn them again.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _heic(imagegen.photo().transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())
    decoded = decode(data, max_pixels=LIMIT)
    assert (decoded.width, decoded.height) == decoded.image.size == (600, 400)
    assert distance(pdq_hex(decoded.image)[0], REFERENCE) <= 6


def test_large_heic_is_reduced_to_grey_near_512_and_keeps_the_reference_hash() -> None:
    import numpy as np
    import pdqhash
    import pillow_heif

    from libra_cli.media.image import SOURCE_GRID, SourceGrid

    data = _heic(imagegen.photo("rocket").resize((1100, 1030)))
    decoded = decode(data, max_pixels=LIMIT)
    assert decoded.image.mode == "L" and decoded.image.size == (550, 515)
    assert decoded.image.info[SOURCE_GRID] == SourceGrid(1100, 1030, 2)
    full = np.asarray(pillow_heif.open_heif(data).to_pillow().convert("RGB"))  # what a reference tool hashes
    bits, _ = pdqhash.compute(np.ascontiguousarray(full))
    assert distance(pdq_hex(decoded.image)[0], np.packbits(bits.astype(np.uint8)).tobytes().hex()) <= 2


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.02], ids=["half", "most", "header-only"])
def test_truncated_heic_fails_cleanly(keep: float) -> None:
    data = heic_photo()
    with pytest.raises(MediaError) as info:
        decode(data[: int(len(data) * keep)], max_pixels=LIMIT)
    message = str(info.value)
    assert message.startswith("the image") and "\n" not in message and len(message) < 260


@pytest.mark.parametrize("make", [heic_photo, avif_photo], ids=["heic", "avif"])
def test_phone_formats_check_the_pixel_limit_before_decoding(
    make: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import AvifImagePlugin
    from pillow_heif import HeifImageFile

    def refuse(*args: object, **kwargs: object) -> None:
        raise _Decoded

    monkeypatch.setattr(HeifImageFile, "load", refuse)
    monkeypatch.setattr(AvifImagePlugin.AvifImageFile, "load", refuse)
    with pytest.raises(MediaError, match="pixel limit"):
        decode(make(), max_pixels=50_000)


def test_heic_is_decoded_without_registering_anything_with_pillow() -> None:
    import pillow_heif

    options = {k: v for k, v in vars(pillow_heif.options).items() if k.isupper()}
    registry = (dict(Image.OPEN), dict(Image.SAVE), dict(Image.MIME), dict(Image.EXTENSION))
    decode(heic_photo(), max_pixels=LIMIT)
    assert "HEIF" not in Image.OPEN and ".heic" not in Image.EXTENSION
    assert (dict(Image.OPEN), dict(Image.SAVE), dict(Image.MIME), dict(Image.EXTENSION)) == registry
    assert {k: v for k, v in vars(pillow_heif.options).items() if k.isupper()} == options


@pytest.mark.skipif(shutil.which("jpegtran") is None, reason="jpegtran (libjpeg-turbo-progs) is not installed")
def test_an_arithmetic_coded_jpeg_decodes_like_its_original(photos: Path, tmp_path: Path) -> None:
    """``jpegtran -arithmetic`` re-encodes a photo losslessly; Pillow's default block size refused it."""
    import subprocess

    big = tmp_path / "big.jpg"
    Image.open(photos / "coffee.jpg").resize((1600, 1200)).save(big, quality=95)
    arithmetic = subprocess.run(["jpegtran", "-arithmetic", str(big)], capture_output=True, check=True).stdout
    assert len(arithmetic) > 64 * 1024
    a = decode(big.read_bytes(), max_pixels=64_000_000)
    b = decode(arithmetic, max_pixels=64_000_000)
    assert a.image.tobytes() == b.image.tobytes()
