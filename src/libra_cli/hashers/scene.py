"""Scene windows: small hashes of overlapping sub-windows at four scales, for ranking suspected files.

Whole-picture PDQ moves as far for another framing of one scene (a crop of 60-90%, a shift, a zoom)
as for an unrelated photo, so it cannot tell a series from the unrelated pictures beside a match.
Some window of one framing shows about what some window of another shows, though: this hasher cuts
the picture into windows of 100%, 80%, 64% and 51% of each side (1, 5 x 5, 5 x 5 and 5 x 5
positions: 76 windows), reduces each to 16 x 16 grey cells and keeps the signs of its 63 lowest
DCT coefficients above their median (pHash's recipe, one 64-bit value per window, last bit 0). The
context stage compares two files' windows all against all (``context/scene.py``).

It is a ``context`` signal (``signals.builtin.Scene``): computed only with ``--suspected``, never put
in a match index, never a match. It keeps nothing of the picture but these bits. Each window's
quality (0-100) is four times its grey standard deviation: flat windows (sky, a wall, black space)
look alike in any two pictures, so the context stage leaves those under ``MIN_QUALITY`` out.

>>> from libra_cli.hashers.samples import shapes
>>> rows = SCENE.hash_image(shapes())
>>> len(rows), rows[0].variant, len(rows[0].value)
(76, 'w0', 16)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..models import PerceptualHash
from .base import Example, PerceptualHasher
from .samples import SAMPLES

#: (share of each side, positions along each axis) per scale: each scale 0.8 of the one before, so
#: any zoom between two framings is within ~12% of some pair of scales.
SCALES: tuple[tuple[float, int], ...] = ((1.0, 1), (0.8, 5), (0.64, 5), (0.512, 5))
#: Cells per window side before the DCT, and coefficients kept per axis (8 x 8, less the mean).
CELLS, KEEP = 16, 8
#: The picture is box-reduced first until its short side is under twice this: a window of 51% still
#: has several pixels per cell, and a 24 MP photo costs about what a thumbnail does.
WORK_SIDE = 96
#: Windows below this quality (grey standard deviation under 5) are left out of comparisons.
MIN_QUALITY = 20


def boxes(size: tuple[int, int]) -> list[tuple[float, float, float, float]]:
    """The windows of a ``size`` picture as (left, top, right, bottom) in its pixels (floats)."""
    width, height = size
    out = []
    for share, steps in SCALES:
        w, h = width * share, height * share
        for j in range(steps):
            for i in range(steps):
                x = (width - w) * (i / (steps - 1) if steps > 1 else 0.0)
                y = (height - h) * (j / (steps - 1) if steps > 1 else 0.0)
                out.append((x, y, x + w, y + h))
    return out


@cache
def _dct() -> npt.NDArray[np.float32]:
    """The first ``KEEP`` rows of the orthonormal DCT-II matrix of size ``CELLS``."""
    n = np.arange(CELLS)
    k = np.arange(KEEP)[:, None]
    matrix = np.cos(np.pi * (2 * n + 1) * k / (2 * CELLS)) * np.sqrt(2 / CELLS)
    matrix[0] /= np.sqrt(2)
    out: npt.NDArray[np.float32] = matrix.astype(np.float32)
    return out


@lru_cache(maxsize=64)
def _edges(size: tuple[int, int]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Cell edges of every window, ``(76, CELLS + 1)`` columns and rows, rounded to whole pixels."""
    spans = np.array(boxes(size))
    steps = np.linspace(0.0, 1.0, CELLS + 1)
    xs = spans[:, 0:1] + (spans[:, 2:3] - spans[:, 0:1]) * steps
    ys = spans[:, 1:2] + (spans[:, 3:4] - spans[:, 1:2]) * steps
    return np.round(xs).astype(np.intp), np.round(ys).astype(np.intp)


def window_hashes(img: Image.Image) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """``(76, 8)`` packed bits and ``(76,)`` qualities of the grey ``img``'s windows.

    Every cell's mean comes from one summed-area table of the reduced picture (four look-ups a cell),
    so the 76 windows cost about what one small resize does."""
    grey = img if img.mode == "L" else img.convert("L")
    factor = min(grey.size) // WORK_SIDE
    if factor >= 2:
        grey = grey.reduce(factor)
    if min(grey.size) < CELLS:  # a tiny or thin picture: enough pixels for every cell to hold one
        grey = grey.resize((max(CELLS, grey.size[0]), max(CELLS, grey.size[1])), Image.Resampling.NEAREST)
    pixels = np.asarray(grey, dtype=np.float64)
    table = np.zeros((pixels.shape[0] + 1, pixels.shape[1] + 1))
    table[1:, 1:] = pixels.cumsum(axis=0).cumsum(axis=1)
    xs, ys = _edges(grey.size)
    x0, x1 = xs[:, None, :-1], xs[:, None, 1:]
    y0, y1 = ys[:, :-1, None], ys[:, 1:, None]
    sums = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    cells = (sums / np.maximum(1, (x1 - x0) * (y1 - y0))).astype(np.float32)
    dct = _dct()
    coefficients = (dct @ cells @ dct.T).reshape(len(cells), -1)[:, 1:]
    bits = coefficients > np.median(coefficients, axis=1, keepdims=True)
    padded = np.concatenate([bits, np.zeros((len(bits), 1), dtype=bool)], axis=1)
    quality = np.minimum(100, np.round(4 * cells.reshape(len(cells), -1).std(axis=1))).astype(np.uint8)
    return np.packbits(padded, axis=1), quality


class SceneHasher(PerceptualHasher):
    """The ``scene`` windows of a picture, one ``PerceptualHash`` per window (variants ``w0`` ... ``w75``)."""

    name = "scene"

    def hash_image(self, img: Image.Image) -> list[PerceptualHash]:
        values, quality = window_hashes(img)
        return [
            PerceptualHash(self.name, bytes(row).hex(), int(q), variant=f"w{i}")
            for i, (row, q) in enumerate(zip(values, quality, strict=True))
        ]

    def examples(self) -> Sequence[Example]:
        return [Example("shapes", SAMPLES["shapes"], "6e0f2a7e90d09ed0")]


#: Not in the hashers' registry (``hashers.get``): it is no hash a list carries, and the signal type
#: ``scene`` hands it to the worker itself (``signals.builtin.Scene.hasher``).
SCENE = SceneHasher()
