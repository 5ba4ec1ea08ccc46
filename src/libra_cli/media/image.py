"""Decode an image from bytes in memory, as little as the hashes need, and never write anything.

Every perceptual hash libra computes works on luminance, so images are decoded straight to 8-bit
grey (``L``): for JPEG that lets libjpeg skip the colour planes and scale the DCT down
(``Image.draft``), which is most of libra's speed. Awkward inputs are normalised here, once:
EXIF orientation is applied as ``ImageOps.exif_transpose`` would (a rotated photo hashes like its
upright original), 16-bit and float images are scaled rather than clipped, palettes with
transparency go through RGBA, animated files give their first frame. Decompression bombs are
refused from the header, before any pixel is decoded.

>>> img = decode(jpeg_bytes, max_pixels=64_000_000)  # doctest: +SKIP
>>> img.image.mode, img.width, img.height  # doctest: +SKIP
('L', 1632, 1224)
"""

from __future__ import annotations

import functools
import importlib.util
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import MediaError
from ..textsafe import one_line
from .budget import check_decode_budget
from .ico import embedded_sizes
from .png import picture_chunks
from .sniff import sniff

#: Decode at least this many pixels on the short side: PDQ's reference size.
DEFAULT_MIN_SIDE = 512

# EXIF orientation -> the transpose that makes the picture upright (the table ``ImageOps.exif_transpose``
# uses). Applied after the grey reduction, so it moves a few hundred thousand pixels, not millions.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_INVERSE = {
    Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
    Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
}
_EXIF_ORIENTATION = 0x0112

# A truncated file must fail, not decode half grey: Pillow's default (``LOAD_TRUNCATED_IMAGES`` off).
# libra never sets it, nor any other Pillow global: they belong to the whole process, not to one call.
# tests/test_image_decode.py checks that neither libra nor what it imports turns it on.


#: Key of ``Image.info`` where ``decode`` leaves the ``SourceGrid`` of an image it reduced.
SOURCE_GRID = "libra.source_grid"


@dataclass(frozen=True)
class SourceGrid:
    """How a reduced image's pixels sit on the picture's own ``width`` x ``height`` grid.

    Each reduced pixel stands for a ``factor`` x ``factor`` block (a DCT-scaled JPEG decode and
    ``Image.reduce`` both work in whole blocks). Along each axis the blocks that do not fit are cut
    short: the last one as decoded; the first one, short by ``offset_x``/``offset_y``, once an EXIF
    flip has reversed the axis. PDQ uses it to apply the reference filter of the full-size picture
    (hashers/pdq.py), which is what a reference tool that decodes every pixel computes.

    >>> SourceGrid(1001, 600, 2).size
    (501, 300)
    >>> SourceGrid(1001, 600, 2).transposed(Image.Transpose.ROTATE_180)
    SourceGrid(width=1001, height=600, factor=2, offset_x=1, offset_y=0)
    """

    width: int
    height: int
    factor: int
    offset_x: int = 0
    offset_y: int = 0

    @property
    def size(self) -> tuple[int, int]:
        """The reduced image's size."""
        return (-(-(self.width + self.offset_x) // self.factor), -(-(self.height + self.offset_y) // self.factor))

    def transposed(self, method: Image.Transpose) -> SourceGrid:
        """The grid of the reduced image after ``Image.transpose(method)``."""
        swap, reverse_x, reverse_y = _AXES[method]
        width, offset_x, height, offset_y = self.width, self.offset_x, self.height, self.offset_y
        if swap:
            width, offset_x, height, offset_y = height, offset_y, width, offset_x
        reduced_width, reduced_height = SourceGrid(width, height, self.factor, offset_x, offset_y).size
        if reverse_x:
            offset_x = reduced_width * self.factor - width - offset_x
        if reverse_y:
            offset_y = reduced_height * self.factor - height - offset_y
        return SourceGrid(width, height, self.factor, offset_x, offset_y)

    def cropped(self, box: tuple[int, int, int, int]) -> SourceGrid:
        """The grid of the reduced image after ``Image.crop(box)`` (a box inside it): the same crop
        of the picture, in whole blocks."""
        left, top, right, bottom = box
        f = self.factor
        x0, x1 = max(0, left * f - self.offset_x), min(self.width, right * f - self.offset_x)
        y0, y1 = max(0, top * f - self.offset_y), min(self.height, bottom * f - self.offset_y)
        return SourceGrid(x1 - x0, y1 - y0, f, self.offset_x if left == 0 else 0, self.offset_y if top == 0 else 0)

    def resized(self, size: tuple[int, int]) -> SourceGrid:
        """The grid of the reduced image after ``Image.resize(size)``: the picture scaled likewise."""
        return SourceGrid(size[0] * self.factor, size[1] * self.factor, self.factor)


def with_grid(img: Image.Image, grid: SourceGrid | None) -> Image.Image:
    """``img`` (a freshly derived image: its ``info`` is changed) with ``grid`` recorded, or with none.

    An image made from a decoded one by ``crop``, ``transpose`` or ``resize`` keeps Pillow's ``info``,
    grid included, but no longer has the grid's size, so PDQ ignores it and hashes the image as a
    picture of its own size. Code that edits decoded images gives them the edited grid:

    >>> reduced = Image.new("L", (816, 612))
    >>> grid = SourceGrid(1632, 1224, 2)
    >>> with_grid(reduced.crop((40, 30, 816, 612)), grid.cropped((40, 30, 816, 612))).info[SOURCE_GRID]
    SourceGrid(width=1552, height=1164, factor=2, offset_x=0, offset_y=0)
    """
    if grid is None or grid.factor == 1:
        img.info.pop(SOURCE_GRID, None)
    else:
        img.info[SOURCE_GRID] = grid
    return img


# Each transpose as (swaps the axes, reverses the new x axis, reverses the new y axis).
_AXES = {
    Image.Transpose.FLIP_LEFT_RIGHT: (False, True, False),
    Image.Transpose.FLIP_TOP_BOTTOM: (False, False, True),
    Image.Transpose.ROTATE_90: (True, False, True),
    Image.Transpose.ROTATE_180: (False, True, True),
    Image.Transpose.ROTATE_270: (True, True, False),
    Image.Transpose.TRANSPOSE: (True, False, False),
    Image.Transpose.TRANSVERSE: (True, True, True),
}


@dataclass(frozen=True)
class Decoded:
    """A decoded, upright, 8-bit grey image plus the size of the original (upright) picture.

    ``image.info[SOURCE_GRID]`` holds the ``SourceGrid`` when the image was decoded or box-reduced
    at a fraction of the picture's size. ``orientation`` is the EXIF orientation that was applied
    (1: none).
    """

    image: Image.Image
    width: int
    height: int
    orientation: int = 1

    def as_stored(self) -> Image.Image:
        """The grey image as the file stores it, before its EXIF orientation: what Meta's PDQ tools,
        python-threatexchange and HMA hash (none of them applies the orientation). With its grid."""
        transpose = _UPRIGHT.get(self.orientation)
        if transpose is None:
            return self.image
        back = _INVERSE.get(transpose, transpose)
        stored = self.image.transpose(back)
        grid = self.image.info.get(SOURCE_GRID)
        if isinstance(grid, SourceGrid):
            stored.info[SOURCE_GRID] = grid.transposed(back)
        return stored


#: Pillow plugins allowed to parse each sniffed type. Only these: a file libra took for a PNG is never
#: offered to Pillow's ~40 other plugins (some rarely exercised, EPS runs Ghostscript).
_PLUGINS: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("JPEG",),  # Pillow's JPEG plugin also opens MPO (phone photos with depth maps)
    "image/png": ("PNG",),
    "image/gif": ("GIF",),
    "image/webp": ("WEBP",),
    "image/bmp": ("BMP",),
    "image/tiff": ("TIFF",),
    "image/x-icon": ("ICO", "CUR"),
    "image/vnd.adobe.photoshop": ("PSD",),
    "image/jp2": ("JPEG2000",),
    "image/qoi": ("QOI",),
    "image/avif": ("AVIF",),  # Pillow's own plugin (libavif), when Pillow was built with it
    "image/jxl": ("JXL",),  # registered by a JPEG XL plugin, when installed
}


def _open_heif(data: bytes) -> Image.Image:
    """HEIC (the default of recent phones) through pillow-heif's image class, constructed directly.

    Nothing is registered with Pillow (no opener, saver, MIME type or extension) and none of
    pillow-heif's options is changed, so the host process's Pillow is as it found it. Opening reads
    the header only; libheif decodes on ``load()``, after the pixel guard, and applies the file's
    rotation and mirroring itself (pillow-heif then sets the EXIF orientation to 1).
    """
    from pillow_heif import HeifImageFile

    img: Image.Image = HeifImageFile(io.BytesIO(data))  # type: ignore[no-untyped-call]
    return img


#: Formats libra opens with a plugin's image class directly instead of ``Image.open``: (opener, module).
_DIRECT: dict[str, tuple[Callable[[bytes], Image.Image], str]] = {
    "image/heic": (_open_heif, "pillow_heif"),
}


@functools.cache
def _installed(media_type: str) -> tuple[str, ...]:
    if media_type in _DIRECT:
        module = _DIRECT[media_type][1]
        return (module,) if importlib.util.find_spec(module) is not None else ()
    Image.init()
    return tuple(name for name in _PLUGINS.get(media_type, ()) if name in Image.OPEN)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise MediaError("the image has no pixels")
    if width * height > max_pixels:
        raise MediaError(
            f"the image has {width * height} pixels, more than the {max_pixels}-pixel limit (decompression bomb guard)"
        )


def _open(data: bytes, max_pixels: int, media_type: str | None) -> Image.Image:
    media_type = media_type or sniff(data)
    if media_type not in _PLUGINS and media_type not in _DIRECT:
        raise MediaError("the data is not a supported image format")
    plugins = _installed(media_type)
    if not plugins:
        raise MediaError(f"the image format is not supported ({media_type} has no decoder installed)")
    check_decode_budget(data, media_type, max_pixels=max_pixels)  # refuse unbounded work before decoding
    if media_type == "image/png":
        data = picture_chunks(data)
    elif media_type == "image/x-icon":
        for width, height in embedded_sizes(data):  # Pillow decodes an ICO while opening it
            _check_pixels(width, height, max_pixels)
    direct = _DIRECT.get(media_type)
    img = direct[0](data) if direct else Image.open(io.BytesIO(data), formats=plugins)
    _check_pixels(*img.size, max_pixels)
    return img


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1-8), or 1 when the EXIF is missing or damaged: metadata never stops a hash."""
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:
        return 1
    return orientation if isinstance(orientation, int) and orientation in range(1, 9) else 1


#: Rows of a 16-bit image converted at a time: bounds the temporary to ~4 MiB whatever the image size.
_ROWS_PIXELS = 1 << 20


def _grey_from_16bit(img: Image.Image) -> Image.Image:
    """``round(v / 257)`` per pixel (65535 -> 255), a block of rows at a time, never a full-size copy:
    a 64-megapixel 16-bit PNG is a few KB on disk and must not cost gigabytes in a worker."""
    width, height = img.size
    out = np.empty((height, width), dtype=np.uint8)
    step = max(1, _ROWS_PIXELS // max(1, width))
    for row in range(0, height, step):
        block = np.asarray(img.crop((0, row, width, min(height, row + step))))
        out[row : row + step] = (block.astype(np.uint32) + 128) // 257
    return Image.fromarray(out, "L")


def _to_grey(img: Image.Image) -> Image.Image:
    """8-bit luminance, scaling high-bit-depth images instead of clipping them."""
    mode = img.mode
    if mode == "L":
        return img
    if mode.startswith("I;16"):
        return _grey_from_16bit(img)
    if mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        low, high = float(arr.min()), float(arr.max())
        # 8-bit data stored as "I" stays as is; wider ranges are stretched into 0..255.
        scaled = arr if low >= 0 and high <= 255 else (arr - low) * (255.0 / max(high - low, 1e-12))
        return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode == "La":  # premultiplied alpha: Pillow only converts it to LA
        img = img.convert("LA")
    elif mode not in ("RGB", "RGBA", "1", "LA"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, PA, ...
    return img.convert("L")


def _reduce_to(img: Image.Image, min_side: int) -> tuple[Image.Image, int]:
    """Box-reduce by an integer factor keeping the short side >= ``min_side`` (what DCT scaling does)."""
    factor = min(img.size) // min_side
    return (img.reduce(factor), factor) if factor >= 2 else (img, 1)


def decode(data: bytes, *, max_pixels: int, min_side: int = DEFAULT_MIN_SIDE, media_type: str | None = None) -> Decoded:
    """Decode ``data`` to an upright grey image whose short side is about ``min_side`` or more.

    ``media_type`` is what ``media.sniff.sniff`` said of ``data``, when the caller already asked it
    (sniffed here otherwise): only that type's decoder is offered the bytes.
    Raises ``MediaError`` (one plain sentence) for anything that cannot be decoded safely.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # metadata chatter from hostile files stays out of the scan's stderr
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _decode(data, max_pixels, min_side, media_type)
        except MediaError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaError("the image is too large to decode safely (decompression bomb guard)") from None
        except UnidentifiedImageError:
            raise MediaError("the image format is not supported or the header is damaged") from None
        except MemoryError:
            raise MediaError("the image is too large to decode in memory") from None
        except Exception as err:  # any decoder failure on a hostile file is that file's problem only
            raise MediaError(_plain(err)) from None


def _decode(data: bytes, max_pixels: int, min_side: int, media_type: str | None) -> Decoded:
    img = _open(data, max_pixels, media_type)
    width, height = img.size
    scale = 1
    if img.format in ("JPEG", "MPO"):
        # Arithmetic-coded JPEGs (a lossless ``jpegtran -arithmetic`` away from any photo) need their whole
        # entropy-coded data in one block; with Pillow's 64 KiB default they fail, dodging every hash.
        # The decode budget already bounded the work per byte, so one block of the file's size is safe.
        img.decodermaxblock = max(img.decodermaxblock, len(data))  # type: ignore[attr-defined]
        # Grey output and DCT scaling: libjpeg decodes 1/2, 1/4 or 1/8 of each side directly.
        drafted = img.draft("L", (min_side, min_side))
        if drafted is not None:
            scale = round(width / drafted[1][2])
    img.load()
    orientation = _orientation(img)  # after load: a PNG's EXIF can follow its pixels
    grey, factor = _reduce_to(_to_grey(img), min_side)
    grid = SourceGrid(width, height, scale * factor)
    transpose = _UPRIGHT.get(orientation)
    if transpose is not None:
        grey, grid = grey.transpose(transpose), grid.transposed(transpose)
    if grid.factor > 1:
        grey.info[SOURCE_GRID] = grid
    return Decoded(grey, grid.width, grid.height, orientation if transpose is not None else 1)


def _plain(err: BaseException) -> str:
    text = one_line(err)
    if "truncated" in text.lower():
        return "the image file is truncated"
    return f"the image cannot be decoded: {text}" if text else "the image cannot be decoded"
