"""PDQ, the open perceptual hash of the industry's lists (NCMEC, Meta, the Tech Coalition), via ``pdqhash``.

PDQ hashes luminance, so it takes the grey image from ``media.image.decode`` (the 0.299/0.587/0.114
weights of ``pdqhash`` and of Pillow's ``L`` conversion are the same). The quality score (0-100)
says how much structure the image has; matches on low-quality hashes (flat or tiny images) are not
trusted by the matcher. The dihedral variants let a query match a list entry that was mirrored or
rotated: all eight come from one DCT (``dihedral_values``: PDQ's sign and transpose rules in numpy,
the same hashes as ``pdqhash.compute_dihedral`` for a fifth of its cost). ``pdq_boxes`` hashes several
crops of one image sharing their first pass (``hashers/regions.py``).

A decoded image smaller than its picture (DCT-scaled JPEG, box-reduced PNG) carries a
``media.image.SourceGrid``; PDQ then applies the filter of the full-size picture, which is what the
reference tools hash (docs/hashes.md, "Agreement with the reference PDQ").

>>> from libra_cli.hashers.samples import mandelbrot
>>> PDQ.hash_image(mandelbrot())[0].quality
100
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from ..media.image import SOURCE_GRID, SourceGrid, with_grid
from ..models import PerceptualHash
from .base import Example, PerceptualHasher, register
from .samples import SAMPLES

#: Names of ``pdqhash.compute_dihedral``'s outputs, in its order. Each is the hash of the image after
#: that transform (``rot90`` is a quarter turn counter-clockwise, as Pillow's ``ROTATE_90``;
#: ``flip`` is top-bottom, ``mirror`` left-right).
DIHEDRAL_VARIANTS: tuple[str, ...] = (
    "original",
    "rot90",
    "rot180",
    "rot270",
    "flip",
    "mirror",
    "transpose",
    "transverse",
)


# --- Fast path -------------------------------------------------------------------------------------
# ``pdqhash`` blurs the full image with a Jarosz filter (two box passes per axis) in strided C++ loops,
# then keeps 64x64 samples: 80% of its time on a 512-pixel image. The filter and the sampling are
# linear, so per axis they are one banded 64 x n operator; applying it gives the same 64x64 buffer
# in a fraction of the time. That buffer goes back through ``pdqhash`` (where a 64x64 input
# passes the filter unchanged) for its DCT, bit order, quality and dihedral variants, so the
# algorithm stays the reference one. tests/test_hashers.py checks agreement with plain ``pdqhash``.
# For a reduced image the operator is built for the picture's own axis and folded onto the reduced
# one (``_fold``); tests/test_pdq_reference.py checks agreement with ``pdqhash`` on the full decode.

_SIDE = 64
# Luminance offsets reachable by adding 0 or 1 to each of R, G, B (weights 0.299, 0.587, 0.114):
# encoding the 64x64 floats through them keeps a tenth of a grey level instead of rounding to one.
_OFFSETS = np.array(
    [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1], [1, 1, 0], [1, 1, 1]], dtype=np.uint8
)
_OFFSET_LUMA = _OFFSETS @ np.array([0.299, 0.587, 0.114])
# Where the nearest offset changes. A fraction of exactly 0.5 is as near .413 as .587; an ``argmin`` of
# the float64 distances picks .587, so that midpoint sits just below 0.5.
_MIDPOINTS = (_OFFSET_LUMA[1:] + _OFFSET_LUMA[:-1]) / 2
_MIDPOINTS[3] = np.nextafter(0.5, 0.0)
_PACKED_OFFSETS = (_OFFSETS.astype("<u4") << np.array([0, 8, 16], dtype="<u4")).sum(axis=1, dtype="<u4")


#: Axis lengths up to this are cached (a few hundred KB at most); longer ones, only seen on extreme
#: panoramas, are built per call so a stream of hostile sizes cannot grow the cache without bound.
_CACHED_AXIS = 8192
#: Elements gathered per step of the band products: one step for ordinary photos, several on
#: panoramas a million pixels long, so memory stays near the image's own size.
_GATHER_BUDGET = 1 << 22
#: Longer sides are box-reduced first (by an integer factor) to at most this.
_LONGEST_AXIS = 1 << 16
#: pdqhash's MIN_HASHABLE_DIM: a side shorter than this gives the all-zero hash with quality 0.
_MIN_SIDE = 5


class Source(NamedTuple):
    """The picture's own axis behind a reduced one: ``length`` pixels, ``factor`` per reduced pixel,
    the first block short by ``offset`` (see ``media.image.SourceGrid``)."""

    length: int
    factor: int
    offset: int


def _sources(img: Image.Image) -> tuple[Source | None, Source | None]:
    """(rows, columns) of the picture behind ``img``, from the grid ``decode`` records.

    (None, None) when there is none or it does not fit: an image cropped or resized from a decoded one
    keeps Pillow's ``info`` but not the grid's size (``media.image.with_grid`` gives it its own). One
    whose size is the grid's turned a quarter is taken for a transpose of the decoded image: right but
    for where each axis's short block sits, which is exact when the sides are whole blocks.
    """
    grid = img.info.get(SOURCE_GRID)
    if not isinstance(grid, SourceGrid):
        return None, None
    if grid.size == img.size:
        return Source(grid.height, grid.factor, grid.offset_y), Source(grid.width, grid.factor, grid.offset_x)
    if grid.size == img.size[::-1]:
        return Source(grid.width, grid.factor, grid.offset_x), Source(grid.height, grid.factor, grid.offset_y)
    return None, None


def _operator(n: int, source: Source | None = None) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    if source is None or source.factor == 1:
        source = Source(n, 1, 0)
    if source.length <= _CACHED_AXIS:
        return _cached_operator(n, source)
    return _build_operator(n, source)


@functools.lru_cache(maxsize=256)
def _cached_operator(n: int, source: Source) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    return _build_operator(n, source)


def _build_operator(n: int, source: Source) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """PDQ's blur-and-sample along an axis of ``n`` pixels standing for ``source``, as 64 bands.

    The reference operator is built for the picture's own axis (``source.length`` pixels), then each
    weight is added to the reduced pixel whose block holds that source pixel: the reference filter,
    applied to a picture whose blocks are flat. The band products never see the difference.
    """
    index, weight = _reference_bands(source.length)
    if source.factor > 1:
        index, weight = _fold(index, weight, n, source)
    return index, weight.astype(np.float32)


def _reference_bands(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """PDQ's blur-and-sample along an axis of length ``n``, as 64 bands of (indices, weights).

    Row i of the 64 x n operator is the double box (pdqhashing.cpp ``box1DFloat``, shrunk at the
    edges) around sample ``(i + 0.5) * n / 64``: the mean, over the k in the box around the sample,
    of the box around k. It is applied band by band rather than as a matrix product: no BLAS, so no
    thread pool fighting the worker processes for cores. Everything is built in band coordinates,
    O(n) memory: a dense 64 x n table would cost gigabytes on a hostile strip a million pixels long.
    """
    window = (n + 2 * _SIDE - 1) // (2 * _SIDE)
    half = (window + 2) // 2
    centres = ((np.arange(_SIDE) + 0.5) * n / _SIDE).astype(np.intp)
    lo = np.maximum(0, centres + half - window)  # the box around each sample ...
    hi = np.minimum(n - 1, centres + half - 1)
    k = lo[:, None] + np.arange(window)[None, :]  # ... its members k (some rows have fewer) ...
    valid = k <= hi[:, None]
    k = np.minimum(k, n - 1)
    k_lo = np.maximum(0, k + half - window)  # ... and the box around each k
    k_hi = np.where(valid, np.minimum(n - 1, k + half - 1), k_lo)
    value = np.where(valid, 1.0 / ((hi - lo + 1)[:, None] * (k_hi - k_lo + 1)), 0.0)
    start = k_lo[:, 0]
    width = int((k_hi.max(axis=1) - start).max()) + 1
    # Spread each value over [k_lo, k_hi] with a difference array and a running sum, per band.
    diff = np.zeros((_SIDE, width + 1))
    rows = np.broadcast_to(np.arange(_SIDE)[:, None], k.shape)
    np.add.at(diff, (rows, k_lo - start[:, None]), value)
    np.add.at(diff, (rows, k_hi + 1 - start[:, None]), -value)
    spans = start[:, None] + np.arange(width)[None, :]
    weight = np.where(spans < n, np.cumsum(diff, axis=1)[:, :width], 0.0)
    return np.minimum(spans, n - 1), weight


def _fold(
    index: npt.NDArray[np.intp], weight: npt.NDArray[np.float64], n: int, source: Source
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Bands over the source axis -> bands over the ``n`` reduced pixels (block k = source pixels
    ``[k * factor - offset, (k + 1) * factor - offset)``). Padding entries (weight 0) fold harmlessly."""
    block = (index + source.offset) // source.factor
    start = block[:, 0]
    width = int((block.max(axis=1) - start).max()) + 1
    folded = np.zeros((_SIDE, width))
    rows = np.broadcast_to(np.arange(_SIDE)[:, None], block.shape)
    np.add.at(folded, (rows, block - start[:, None]), weight)
    spans = start[:, None] + np.arange(width)[None, :]
    return np.minimum(spans, n - 1), np.where(spans < n, folded, 0.0)


def _steps(bands: int, per_band: int) -> range:
    return range(0, _SIDE, max(1, min(_SIDE, _GATHER_BUDGET // max(1, bands * per_band))))


def _pdq_input(img: Image.Image) -> npt.NDArray[np.uint8]:
    """The H x W x 3 array to hand ``pdqhash``: PDQ's own 64x64 buffer, or a stand-in if too small."""
    img = img.convert("L") if img.mode != "L" else img
    if max(img.size) > _LONGEST_AXIS:
        # PDQ's blur window is 1/128 of the side: a box pre-reduction this much finer changes nothing,
        # and it keeps the operator and the first pass small on a strip millions of pixels long.
        width, height = img.size
        img = img.reduce((-(-width // _LONGEST_AXIS), -(-height // _LONGEST_AXIS)))
    grey = np.asarray(img, dtype=np.uint8)
    rows, cols = grey.shape
    if min(rows, cols) < _MIN_SIDE:
        # pdqhash answers zeros whatever the pixels, after copying all of them: hand it a 4 x 4 corner.
        corner = grey[: _MIN_SIDE - 1, : _MIN_SIDE - 1]
        return np.ascontiguousarray(np.broadcast_to(corner[:, :, None], (*corner.shape, 3)))
    row_source, col_source = _sources(img)
    tall = _row_pass(grey, *_operator(rows, row_source))
    return _encode(_column_pass(tall, *_operator(cols, col_source)))


def _row_pass(
    grey: npt.NDArray[np.uint8], index: npt.NDArray[np.intp], weight: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """The 64 sampled rows (``64 x width``): the operator applied down every column of ``grey``."""
    tall = np.empty((_SIDE, grey.shape[1]), dtype=np.float32)
    step = _steps(index.shape[1], grey.shape[1]).step
    for i in range(0, _SIDE, step):
        band = slice(i, i + step)
        tall[band] = np.einsum("ib,ibw->iw", weight[band], grey[index[band]], dtype=np.float32, casting="unsafe")
    return tall


def _column_pass(
    tall: npt.NDArray[np.float32], index: npt.NDArray[np.intp], weight: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """The 64 x 64 buffer: the operator applied along every sampled row."""
    small = np.empty((_SIDE, _SIDE), dtype=np.float32)
    step = _steps(index.shape[1], _SIDE).step
    for j in range(0, _SIDE, step):
        band = slice(j, j + step)
        small[:, band] = np.einsum("jb,ijb->ij", weight[band], tall[:, index[band]])
    return small


Box = tuple[int, int, int, int]


def pdq_boxes(
    img: Image.Image, boxes: Sequence[Box], mirrored: Sequence[bool] | None = None
) -> list[tuple[bytes, int]]:
    """PDQ (raw 32 bytes, quality) of several crops of the grey ``img``, boxes in its pixels.

    Each is the hash of ``with_grid(img.crop(box), grid.cropped(box))`` (mirrored left-right first where
    ``mirrored`` says so): the crop of the picture, with the reference filter of its full size when
    ``img`` was reduced. Crops that share their rows share the first (costlier) pass, so the four
    corner windows of ``hashers.regions`` cost about two hashes, and a mirror costs a second column pass.

    >>> [q for _, q in pdq_boxes(Image.new("L", (300, 200)), [(0, 0, 150, 100)])]
    [0]
    """
    grid = img.info.get(SOURCE_GRID)
    if not isinstance(grid, SourceGrid) or grid.size != img.size:
        grid = None
    flips = list(mirrored) if mirrored is not None else [False] * len(boxes)
    grey: npt.NDArray[np.uint8] | None = None
    talls: dict[tuple[int, int], npt.NDArray[np.float32]] = {}
    out: list[tuple[bytes, int]] = []
    for box, flip in zip(boxes, flips, strict=True):
        left, top, right, bottom = box
        part = grid and grid.cropped(box)
        if flip:
            part = part and part.transposed(Image.Transpose.FLIP_LEFT_RIGHT)
        if min(right - left, bottom - top) < _MIN_SIDE or max(img.size) > _LONGEST_AXIS or img.mode != "L":
            crop = img.crop(box)
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else crop
            bits, quality = pdqhash.compute(_pdq_input(with_grid(crop, part)))
            out.append((np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)))
            continue
        if grey is None:
            grey = np.asarray(img, dtype=np.uint8)
        rows_source = None if part is None else Source(part.height, part.factor, part.offset_y)
        cols_source = None if part is None else Source(part.width, part.factor, part.offset_x)
        tall = talls.get((top, bottom))
        if tall is None:
            index, weight = _operator(bottom - top, rows_source)
            tall = talls[(top, bottom)] = _row_pass(grey, index + top, weight)
        index, weight = _operator(right - left, cols_source)
        columns = (right - 1 - index) if flip else (index + left)  # a mirrored crop's column j is right - 1 - j
        bits, quality = pdqhash.compute(_encode(_column_pass(tall, columns, weight)))
        out.append((np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)))
    return out


def _encode(small: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """The 64 x 64 grey floats as the RGB bytes whose luminance is nearest (a tenth of a level kept).

    The offsets' luminances are sorted, so the nearest is found by the midpoints between them
    (``_MIDPOINTS``): one search instead of eight distances, the same choice as an ``argmin`` over them.
    """
    small = np.clip(small, 0.0, 255.0)
    base = np.floor(small)
    nearest = np.searchsorted(_MIDPOINTS, small - base)
    nearest[base >= 255] = 0  # white stays white (255 + 1 would carry into the next byte)
    # base * 0x010101 + (R | G << 8 | B << 16): the three bytes of each pixel in one little-endian word.
    words = base.astype("<u4") * 0x010101 + _PACKED_OFFSETS.take(nearest)
    encoded: npt.NDArray[np.uint8] = np.ascontiguousarray(words.view(np.uint8).reshape(*small.shape, 4)[:, :, :3])
    return encoded


# Each dihedral variant's 16 x 16 DCT from the original's (PDQ's ``dct16OriginalTo...``): transposed or
# not, then negated where the row (``i``), column (``j``) or both indices are odd. Order: DIHEDRAL_VARIANTS.
_I, _J = np.indices((16, 16))
_ODD_I = np.where(_I % 2, -1.0, 1.0)
_ODD_J = np.where(_J % 2, -1.0, 1.0)
_DIHEDRAL_DCT: tuple[tuple[bool, npt.NDArray[np.float64]], ...] = (
    (False, np.ones((16, 16))),  # original
    (True, _ODD_I),  # rot90
    (False, _ODD_I * _ODD_J),  # rot180
    (True, _ODD_J),  # rot270
    (False, _ODD_I),  # flip
    (False, _ODD_J),  # mirror
    (True, np.ones((16, 16))),  # transpose
    (True, _ODD_I * _ODD_J),  # transverse
)


def dihedral_values(buffer: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], int]:
    """The eight dihedral PDQ values (``(8, 32)`` bytes, DIHEDRAL_VARIANTS order) and the quality of ``buffer``.

    ``pdqhash.compute_dihedral`` does the same from one DCT but costs eight times ``compute``; the DCT's
    sign and transpose rules are cheap in numpy. Each variant is thresholded at its own median, as in PDQ.
    """
    if min(buffer.shape[:2]) < _MIN_SIDE:  # as pdqhash answers: all zeros, quality 0
        return np.zeros((8, 32), dtype=np.uint8), 0
    dct, quality = pdqhash.compute_float(buffer)
    square = np.asarray(dct, dtype=np.float64).reshape(16, 16)
    stacked = np.stack([(square.T if swap else square) * sign for swap, sign in _DIHEDRAL_DCT]).reshape(8, 256)
    middle = np.partition(stacked, (127, 128), axis=1)  # the median of 256, without np.median's overhead
    bits = stacked > (middle[:, 127:128] + middle[:, 128:129]) / 2
    return np.packbits(bits, axis=1), int(quality)


def _hex(bits: npt.NDArray[np.int64]) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def pdq_hex(img: Image.Image) -> tuple[str, int]:
    """PDQ of ``img`` as 64 hex digits, and its quality."""
    bits, quality = pdqhash.compute(_pdq_input(img))
    return _hex(bits), int(quality)


class PdqHasher(PerceptualHasher):
    """PDQ (256 bits)."""

    name = "pdq"

    def hash_image(self, img: Image.Image) -> list[PerceptualHash]:
        value, quality = pdq_hex(img)
        return [PerceptualHash("pdq", value, quality)]

    def hash_dihedral(self, img: Image.Image) -> list[PerceptualHash]:
        """The original hash and its seven mirrored/rotated variants, from one DCT."""
        values, quality = dihedral_values(_pdq_input(img))
        return [
            PerceptualHash("pdq", value.tobytes().hex(), quality, variant=variant)
            for value, variant in zip(values, DIHEDRAL_VARIANTS, strict=True)
        ]

    def examples(self) -> Sequence[Example]:
        return [
            Example(
                "mandelbrot",
                SAMPLES["mandelbrot"],
                "671039eb79ebc72fc52332f892386ec662c64d398d19392631a3563c46a4bcdb",
            ),
            Example(
                "shapes",
                SAMPLES["shapes"],
                "9316fc76338f62719d8ee370ec7613916ceb6c8b62b96e894e89626e99509950",
            ),
        ]


PDQ = register(PdqHasher())
