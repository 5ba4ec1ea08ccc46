"""Awkward test images, generated in memory from the benign sample photos (tests/data/photos/).

Each function returns encoded bytes; tests write them to ``tmp_path`` when the worker needs a file.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
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


# --- Generated scenes: benign pictures with the coarse structure real photos share ---------------------
# Unrelated photos meet a 64-bit hash when they share their coarsest structure (a bright sky over a dark
# ground, a subject in the middle, a page of text); these draw such pictures from a seed, in memory.

SCENE_KINDS = ("shapes", "clouds", "landscape", "document", "portrait")


def _smooth(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """A smooth random field in 0..1 (``cells`` x ``cells`` random values, upsampled bicubically)."""
    grid = rng.uniform(0, 255, (cells, cells)).astype(np.uint8)
    field = np.asarray(Image.fromarray(grid, "L").resize(size, Image.Resampling.BICUBIC), dtype=np.float64)
    return field / 255.0


def scene(seed: int, kind: str | None = None, size: tuple[int, int] | None = None) -> Image.Image:
    """A generated RGB picture of one of ``SCENE_KINDS`` (chosen by ``seed`` unless given)."""
    rng = np.random.default_rng(seed)
    kind = kind or SCENE_KINDS[seed % len(SCENE_KINDS)]
    w, h = size or (int(rng.integers(240, 720)), int(rng.integers(240, 720)))
    colour = rng.uniform(0, 255, 3)
    if kind == "clouds":
        field = _smooth(rng, (w, h), int(rng.integers(3, 9)))
        tint = rng.uniform(0.3, 1.0, 3)
        pixels = field[:, :, None] * tint * 255
    elif kind == "landscape":
        horizon = int(h * rng.uniform(0.3, 0.7))
        sky = np.linspace(rng.uniform(150, 255), rng.uniform(80, 200), horizon)[:, None, None] * rng.uniform(0.6, 1, 3)
        ground = _smooth(rng, (w, h - horizon), int(rng.integers(6, 20)))[:, :, None] * rng.uniform(40, 140, 3)
        pixels = np.concatenate([np.broadcast_to(sky, (horizon, w, 3)), ground], axis=0)
    elif kind == "document":
        img = Image.new("RGB", (w, h), tuple(int(c) for c in rng.uniform(220, 255, 3)))
        draw = ImageDraw.Draw(img)
        y = int(rng.integers(5, 30))
        while y < h - 12:
            x0 = int(rng.integers(5, 30))
            line = int(rng.integers(8, 20))
            x = x0
            while x < w - 40 and rng.random() > 0.05:
                word = int(rng.integers(10, 60))
                draw.rectangle((x, y, min(w - 5, x + word), y + line // 2), fill=(40, 40, 40))
                x += word + int(rng.integers(4, 12))
            y += line + int(rng.integers(2, 12))
        pixels = np.asarray(img, dtype=np.float64)
    elif kind == "portrait":
        background = _smooth(rng, (w, h), 3)[:, :, None] * colour
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.6)
        rx, ry = w * rng.uniform(0.15, 0.3), h * rng.uniform(0.2, 0.4)
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        subject = _smooth(rng, (w, h), 12)[:, :, None] * rng.uniform(60, 255, 3)
        pixels = np.where(inside[:, :, None], subject, background)
    else:  # shapes
        base = np.linspace(rng.uniform(0, 255), rng.uniform(0, 255), w)[None, :] * np.ones((h, 1))
        img = Image.fromarray(base.astype(np.uint8), "L").convert("RGB")
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(3, 15))):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            x1, y1 = x0 + int(rng.integers(10, w // 2 + 11)), y0 + int(rng.integers(10, h // 2 + 11))
            fill = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
        pixels = np.asarray(img, dtype=np.float64)
    pixels = pixels + rng.normal(0, rng.uniform(1, 8), pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def coarse_twin(picture: Image.Image, other: Image.Image, *, cells: int = 8, detail: float = 1.0) -> Image.Image:
    """A picture with ``picture``'s coarsest structure and ``other``'s content: different pictures, near
    64-bit hashes.

    pHash and dHash see only a picture's coarsest structure (about four cycles across it); PDQ sees
    twice as fine. The twin keeps ``picture`` blurred to ``cells`` x ``cells`` and adds everything of
    ``other`` finer than that: to a person (and to PDQ) it is ``other``, to pHash and dHash ``picture``.
    """
    size = picture.size
    other = other.convert("RGB").resize(size, Image.Resampling.BICUBIC)

    def coarse(img: Image.Image) -> np.ndarray:
        small = img.convert("RGB").resize((cells, cells), Image.Resampling.BOX)
        return np.asarray(small.resize(size, Image.Resampling.BICUBIC), dtype=np.float64)

    detail_of_other = np.asarray(other, dtype=np.float64) - coarse(other)
    pixels = coarse(picture) + detail * detail_of_other
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


# --- Edits that re-uploads carry (tests and bench/bench_recall.py) ---------------------------------------
# Each takes an RGB picture and an index that varies the corner or side, and returns the edited picture.

#: Which sides a corner crop cuts, by index: (left, top, right, bottom).
CORNERS = ((1, 1, 0, 0), (0, 1, 1, 0), (1, 0, 0, 1), (0, 0, 1, 1))


def crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    """``img`` with these shares of its width and height cut from each side."""
    w, h = img.size
    return img.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


def _corner_xy(img: Image.Image, index: int, box: tuple[int, int], margin: float = 0.02) -> tuple[int, int]:
    w, h = img.size
    m = round(min(w, h) * margin)
    left, top = index % 2 == 0, index % 4 < 2
    return (m if left else w - box[0] - m, m if top else h - box[1] - m)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


def watermark_box(img: Image.Image, index: int = 0) -> Image.Image:
    """A solid box with a line of text over about 2.5% of the picture (a quarter of the width, a tenth of
    the height), in a corner."""
    out = img.convert("RGB")
    w, h = out.size
    bw, bh = round(w * 0.25), round(h * 0.10)
    x, y = _corner_xy(out, index, (bw, bh))
    dark = index % 2 == 0
    ink, paper = ((240, 240, 240), (20, 20, 20)) if dark else ((20, 20, 20), (240, 240, 240))
    draw = ImageDraw.Draw(out)
    draw.rectangle((x, y, x + bw, y + bh), fill=paper)
    draw.text((x + bw // 12, y + bh // 4), "site.example", font=_font(bh // 2), fill=ink)
    return out


def logo(img: Image.Image, index: int = 0) -> Image.Image:
    """A round coloured emblem with letters, partly transparent, in a corner (about 3% of the picture)."""
    out = img.convert("RGBA")
    side = round(min(out.size) * 0.2)
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    x, y = _corner_xy(out, index + 1, (side, side))
    draw.ellipse(
        (x, y, x + side, y + side), fill=(200, 30, 40, 170), outline=(255, 255, 255, 220), width=max(1, side // 20)
    )
    draw.text((x + side // 5, y + side // 3), "TV", font=_font(side // 2), fill=(255, 255, 255, 230))
    return Image.alpha_composite(out, layer).convert("RGB")


def caption_banner(img: Image.Image, index: int = 0) -> Image.Image:
    """A white banner above the picture (a fifth of its height) with a line of black text."""
    w, h = img.size
    band = round(h * 0.2)
    out = Image.new("RGB", (w, h + band), (255, 255, 255))
    out.paste(img.convert("RGB"), (0, band))
    ImageDraw.Draw(out).text((w // 20, band // 4), "when the photo says it all", font=_font(band // 2), fill=(0, 0, 0))
    return out


def letterbox(img: Image.Image, index: int = 0) -> Image.Image:
    """Black bars above and below (even index) or left and right (odd), a third of the picture's size."""
    w, h = img.size
    size = (w, round(h * 1.35)) if index % 2 == 0 else (round(w * 1.35), h)
    out = Image.new("RGB", size, (0, 0, 0))
    out.paste(img.convert("RGB"), ((size[0] - w) // 2, (size[1] - h) // 2))
    return out


def rotate3(img: Image.Image, index: int = 0) -> Image.Image:
    """Turned 3 degrees (counter-clockwise for even index); the black corners kept (index % 4 < 2) or
    cropped away with 5% of each side."""
    turned = img.convert("RGB").rotate(3 if index % 2 == 0 else -3, Image.Resampling.BICUBIC)
    return turned if index % 4 < 2 else crop(turned, 0.05, 0.05, 0.05, 0.05)


def corner_crop(img: Image.Image, index: int = 0, cut: float = 0.15) -> Image.Image:
    """``cut`` of the width and height cut from two adjacent sides (one corner)."""
    left, top, right, bottom = CORNERS[index % 4]
    return crop(img, cut * left, cut * top, cut * right, cut * bottom)


def picture_in_picture(img: Image.Image, index: int, host: Image.Image) -> Image.Image:
    """The picture, shrunk to 84%, pasted off centre into ``host`` enlarged to 1.4 times its size."""
    w, h = img.size
    canvas = host.convert("RGB").resize((round(w * 1.4), round(h * 1.4)), Image.Resampling.BICUBIC)
    inner = img.convert("RGB").resize((round(w * 0.84), round(h * 0.84)), Image.Resampling.LANCZOS)
    fx, fy = ((0.1, 0.12), (0.45, 0.15), (0.2, 0.4), (0.5, 0.45))[index % 4]
    x = round((canvas.width - inner.width) * fx / 0.55)
    y = round((canvas.height - inner.height) * fy / 0.55)
    canvas.paste(inner, (x, y))
    return canvas


def mirror_crop(img: Image.Image, index: int = 0) -> Image.Image:
    """Mirrored and cut 4 to 11% from one side (between a list's crops as often as on them)."""
    cut = (0.04, 0.06, 0.08, 0.11)[index % 4]
    sides = [0.0, 0.0, 0.0, 0.0]
    sides[(index // 4) % 4] = cut
    return crop(img, *sides).transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def sepia(img: Image.Image) -> Image.Image:
    grey = np.asarray(img.convert("L"), dtype=np.float64)
    tone = np.stack([grey * 1.07, grey * 0.74, grey * 0.43], axis=2) + np.array([20.0, 10.0, 0.0])
    return Image.fromarray(np.clip(tone, 0, 255).astype(np.uint8), "RGB")


def noise(img: Image.Image, seed: int = 0, sigma: float = 12) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = np.asarray(img.convert("RGB"), dtype=np.float64) + rng.normal(0, sigma, (img.height, img.width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
