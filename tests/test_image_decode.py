"""Safe decode: awkward images decode to the same picture, bad ones fail with one plain sentence."""

from __future__ import annotations

from collections.abc import Callable

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
