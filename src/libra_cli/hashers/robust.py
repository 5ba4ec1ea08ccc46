"""List-side robust PDQ hashes (``libra hash --robust``): extra hashes of each listed image that catch
common edits plain PDQ misses at distance 31.

PDQ survives re-encoding, resizing and colour changes, but a 5% crop moves every DCT basis against
the picture and lands ~60 bits away, and PDQ's sampling grid is not symmetric, so on fine textures
the query side's dihedral variants drift 30-80 bits from a real mirror or rotation. A scan cannot
guess what was cut, so the list anticipates the edit: it carries the PDQ of the listed image already
cropped (every 2.5% from a side, to 15% from a corner), mirrored, turned, scaled or marked the common
ways, and its corner windows and trimmed picture (``hashers/regions.py``), each named by its
``variant``. See docs/hashes.md for the family and bench/bench_recall.py for what it buys.

>>> [name for name, _ in variants(Image.new("L", (600, 400)))][:3]
['real-rot90', 'real-rot180', 'real-rot270']
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from ..media.image import SOURCE_GRID, SourceGrid, with_grid
from ..models import PerceptualHash
from . import regions
from .pdq import pdq_hex

#: Real transforms, named like the dihedral variants they stand in for.
_TRANSFORMS: tuple[tuple[str, Image.Transpose], ...] = (
    ("rot90", Image.Transpose.ROTATE_90),
    ("rot180", Image.Transpose.ROTATE_180),
    ("rot270", Image.Transpose.ROTATE_270),
    ("flip", Image.Transpose.FLIP_TOP_BOTTOM),
    ("mirror", Image.Transpose.FLIP_LEFT_RIGHT),
    ("transpose", Image.Transpose.TRANSPOSE),
    ("transverse", Image.Transpose.TRANSVERSE),
)
#: Fraction cut from every side by the centre crops (PDQ tolerates about +-1.5% around each).
_CENTRE_CROPS = (0.025, 0.05, 0.075, 0.10)
#: Fraction cut from one side (every 2.5%, so any cut up to 16% is within PDQ's tolerance of one) ...
_SIDE_CROPS = (0.025, 0.05, 0.075, 0.10, 0.125, 0.15)
#: ... and from two adjacent sides (a corner).
_CORNER_CROPS = (0.05, 0.10, 0.15)
#: Small turns either way (degrees counter-clockwise), with the corners the turn leaves black, and
#: cropped to the picture inside them (what a phone's "straighten" does).
_TILTS = (3, -3)
_TILT_CROP = 0.05
#: Downscales, and thumbnails to common sizes (WordPress's 150 and 300 px among them): PDQ's box
#: filter aliases fine textures differently at every size, so a thumbnail can drift far from the original.
_SCALES = (0.5, 0.25)
_THUMBNAILS = (300, 150)
#: No downscale below PDQ's own 64 x 64 grid: smaller images are upsampled noise, not a thumbnail.
_MIN_SCALED_SIDE = 64
#: Watermark stand-in: a light band this share of the width and height, blended this much to white.
_MARK_SIZE = (0.30, 0.06)
_MARK_ALPHA = 0.4


def _grid(img: Image.Image) -> SourceGrid | None:
    grid = img.info.get(SOURCE_GRID)
    return grid if isinstance(grid, SourceGrid) else None


def _crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    """A crop that keeps the map onto the full-size picture (so its PDQ equals a scan of the cropped file)."""
    w, h = img.size
    box = (round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom)))
    grid = _grid(img)
    return with_grid(img.crop(box), grid and grid.cropped(box))


def _mark(img: Image.Image, corner: str) -> Image.Image:
    w, h = img.size
    bw, bh = max(1, round(w * _MARK_SIZE[0])), max(1, round(h * _MARK_SIZE[1]))
    margin = round(w * 0.02)
    x0 = margin if "left" in corner else w - bw - margin
    y0 = margin if "top" in corner else h - bh - margin
    pixels = np.array(img, dtype=np.float32)
    region = pixels[y0 : y0 + bh, x0 : x0 + bw]
    pixels[y0 : y0 + bh, x0 : x0 + bw] = region * (1 - _MARK_ALPHA) + 255 * _MARK_ALPHA
    return with_grid(Image.fromarray(pixels.astype(np.uint8), "L"), _grid(img))


def variants(img: Image.Image) -> Iterator[tuple[str, Image.Image]]:
    """(variant name, grey image) pairs for every robust variant of ``img`` (the original excluded)."""
    grid = _grid(img)
    for name, method in _TRANSFORMS:
        yield f"real-{name}", with_grid(img.transpose(method), grid and grid.transposed(method))
    for cut in _CENTRE_CROPS:
        yield f"crop{cut * 100:g}-center", _crop(img, cut, cut, cut, cut)
    for cut in _SIDE_CROPS:
        pct = f"{cut * 100:g}"
        yield f"crop{pct}-left", _crop(img, cut, 0, 0, 0)
        yield f"crop{pct}-top", _crop(img, 0, cut, 0, 0)
        yield f"crop{pct}-right", _crop(img, 0, 0, cut, 0)
        yield f"crop{pct}-bottom", _crop(img, 0, 0, 0, cut)
    for cut in _CORNER_CROPS:
        pct = f"{cut * 100:g}"
        yield f"crop{pct}-topleft", _crop(img, cut, cut, 0, 0)
        yield f"crop{pct}-topright", _crop(img, 0, cut, cut, 0)
        yield f"crop{pct}-bottomleft", _crop(img, cut, 0, 0, cut)
        yield f"crop{pct}-bottomright", _crop(img, 0, 0, cut, cut)
    for scale in _SCALES:
        size = (round(img.width * scale), round(img.height * scale))
        if min(size) >= _MIN_SCALED_SIDE:
            scaled = img.resize(size, Image.Resampling.LANCZOS)
            yield f"scale{scale * 100:g}", with_grid(scaled, grid and grid.resized(size))
    for side in _THUMBNAILS:
        if max(img.size) > side and min(img.size) * side / max(img.size) >= _MIN_SCALED_SIDE:
            thumb = img.copy()
            thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
            yield f"thumb{side}", with_grid(thumb, None)  # a thumbnail file is hashed at its own size
    for corner in ("topleft", "topright", "bottomleft", "bottomright"):
        yield f"mark-{corner}", _mark(img, corner)
    for angle in _TILTS:
        turned = with_grid(img.rotate(angle, Image.Resampling.BICUBIC), None)  # no longer on the picture's grid
        yield f"rotate{angle}", turned
        cut = _TILT_CROP
        yield f"rotate{angle}-crop{cut * 100:g}", _crop(turned, cut, cut, cut, cut)


def robust_hashes(img: Image.Image) -> list[PerceptualHash]:
    """PDQ (with quality) of every robust variant of the grey image ``img``."""
    out = []
    for name, variant in variants(img):
        value, quality = pdq_hex(variant)
        out.append(PerceptualHash("pdq", value, quality, variant=name))
    return out + regions.list_hashes(img)
