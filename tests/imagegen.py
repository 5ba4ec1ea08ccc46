"""Awkward test images, generated in memory from the benign sample photos (tests/data/photos/).

Each function returns encoded bytes; tests write them to ``tmp_path`` when the worker needs a file.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path

from PIL import Image

PHOTOS = Path(__file__).resolve().parent / "data" / "photos"
PHOTO_NAMES = sorted(p.stem for p in PHOTOS.glob("*.jpg"))


@cache
def _photo(name: str) -> Image.Image:
    return Image.open(PHOTOS / f"{name}.jpg").convert("RGB")


def photo(name: str = "coffee") -> Image.Image:
    """A sample photo as an RGB image (a fresh copy)."""
    return _photo(name).copy()


def encode(img: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(name: str = "coffee", quality: int = 90) -> bytes:
    return encode(photo(name), quality=quality)


def large_jpeg(name: str = "coffee", size: tuple[int, int] = (1632, 1224)) -> bytes:
    """A 2-megapixel JPEG (upscaled), big enough for DCT scaling to kick in."""
    return encode(photo(name).resize(size, Image.Resampling.BICUBIC), quality=90)


def cmyk_jpeg(name: str = "coffee") -> bytes:
    return encode(photo(name).convert("CMYK"), quality=92)


def png16(name: str = "coffee") -> bytes:
    """A 16-bit greyscale PNG: 8-bit values spread over 0..65535 (clipping would turn it white)."""
    grey = photo(name).convert("L")
    wide = Image.frombytes("I;16", grey.size, bytes(b for v in grey.tobytes() for b in (v, v)))
    return encode(wide, "PNG")


def palette_with_transparency(name: str = "coffee") -> bytes:
    img = photo(name).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    return encode(img, "PNG", transparency=0)


def rgba_png(name: str = "coffee") -> bytes:
    img = photo(name).convert("RGBA")
    img.putalpha(200)
    return encode(img, "PNG")


def exif_rotated(name: str = "coffee", orientation: int = 6) -> bytes:
    """A JPEG stored sideways with an EXIF orientation tag that makes it upright when shown."""
    stored = {
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    img = photo(name).transpose(stored)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, quality=92, exif=exif.tobytes())


def animated_gif(first: str = "coffee", second: str = "rocket") -> bytes:
    frames = [photo(first), photo(second).resize(photo(first).size)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def truncated_jpeg(name: str = "coffee") -> bytes:
    data = jpeg(name)
    return data[: len(data) // 2]


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels but holds almost no data: a decompression bomb's
    header, without the bomb (nothing big is ever allocated by the test itself)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b""
    )


def png_chunk(kind: bytes, body: bytes, *, crc: int | None = None) -> bytes:
    """One PNG chunk; ``crc`` overrides the checksum (a damaged chunk)."""
    check = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", check)


def png_with_chunks(before: bytes = b"", after: bytes = b"", name: str = "coffee") -> bytes:
    """The photo as PNG with extra chunks right after IHDR (``before``) and right before IEND (``after``)."""
    data = encode(photo(name), "PNG")
    ihdr_end = 8 + 12 + 13
    return data[:ihdr_end] + before + data[ihdr_end:-12] + after + data[-12:]


def text_bomb(size: int = 2 << 20) -> bytes:
    """Deflated ``size`` bytes of text: a few kilobytes that inflate past Pillow's MAX_TEXT_CHUNK."""
    return zlib.compress(b"a" * size, 9)


def ico_embedding_png(width: int, height: int) -> bytes:
    """An ICO whose directory says 16x16 but whose one entry is a ``width`` x ``height`` PNG."""
    body = encode(Image.new("L", (width, height)), "PNG")
    entry = struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(body), 22)
    return struct.pack("<HHH", 0, 1, 1) + entry + body
