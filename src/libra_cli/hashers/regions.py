"""Region-aware PDQ: hashes of the part of a picture that an edit left alone, on both sides of a match.

Plain PDQ is a hash of the whole frame, so anything that changes the frame moves it: a border or a
caption banner added around the picture, the picture pasted into a larger canvas, a watermark or logo
over one corner. Three kinds of extra hash find the picture again, each computed the same way for a
listed image (``libra hash --robust``) and for a scanned file, so the two sides meet:

- ``trim``: the picture with uniform borders removed: a letterbox or pillarbox, a frame, a caption
  banner of plain colour with text on it. Computed only when there is such a border (most files have
  none), so it costs nothing on ordinary photos. Default mode.
- ``inset``: the picture inside a larger picture (picture-in-picture, a screenshot, a collage): the
  rectangle whose four sides are straight, sharp edges across the frame. Deep mode.
- ``region:tl75``, ``region:tr75``, ``region:bl75``, ``region:br75``: the four corner-anchored windows of
  75% of each side. A mark in one corner leaves the three windows away from it untouched. Deep mode
  on the query side; always on the list side.

docs/hashes.md has the design, its costs and what it buys; docs/matching.md the rules under which a
region or inset hash may make a finding.

>>> [name for name, _ in windows((400, 300))][:2]
['region:tl75', 'region:tr75']
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..models import PerceptualHash
from ..variants import INSET, REAL_PREFIX, TRIM
from .pdq import Box, pdq_boxes

REAL_MIRROR = f"{REAL_PREFIX}mirror"

#: The corner windows: name -> (left, top, right, bottom) as fractions of the picture.
WINDOWS: dict[str, tuple[float, float, float, float]] = {
    "region:tl75": (0.0, 0.0, 0.75, 0.75),
    "region:tr75": (0.25, 0.0, 1.0, 0.75),
    "region:bl75": (0.0, 0.25, 0.75, 1.0),
    "region:br75": (0.25, 0.25, 1.0, 1.0),
}

#: Borders and insets are looked for on a copy reduced to about this many pixels on its long side:
#: a pixel there is under half a percent of the picture, well inside what PDQ tolerates.
_PROBE_SIDE = 256
#: Grey levels within which a pixel counts as the border's colour (JPEG ringing near text included).
_TOLERANCE = 12
#: A border line: at least this share of its pixels in the border's colour.
_CLEAN = 0.9
#: A line of text on a banner: at least this share still in the banner's colour.
_TEXT = 0.35
#: The picture has begun after this many lines in a row with less than ``_TEXT`` (share of the side).
_PICTURE_RUN = 0.03
#: A side's border may take at most this share of the side; a trim must remove at least ``_MIN_TRIM``.
_MAX_BORDER = 0.45
_MIN_TRIM = 0.02
#: What remains must keep at least this share of each side.
_MIN_KEEP = 0.3
#: An inset edge: a jump of at least this many grey levels between neighbouring pixels ...
_EDGE = 10
#: ... along at least this share of each interior side of the rectangle.
_EDGE_SUPPORT = 0.55
#: ... where a row's jump is the largest of the three around it, or within this share of the largest
#: (JPEG's ringing puts a second, slightly smaller jump beside a border).
_PEAK = 0.85
#: Lines sampled across the short side when looking for an inset's edges.
_SAMPLED_LINES = 160
#: Candidate lines tried per axis, and the size an inset may have (share of each side).
_CANDIDATES = 8
_INSET_SIZE = (0.25, 0.92)


def windows(size: tuple[int, int]) -> Iterator[tuple[str, Box]]:
    """The corner windows of a ``size`` picture as (name, pixel box)."""
    width, height = size
    for name, (left, top, right, bottom) in WINDOWS.items():
        yield name, (round(width * left), round(height * top), round(width * right), round(height * bottom))


def _probe(img: Image.Image) -> tuple[npt.NDArray[np.int16], int]:
    """A small grey copy to look for borders in (every ``factor``-th pixel: a border is plain, so
    sampling loses nothing averaging would keep), and its reduction factor."""
    factor = max(1, max(img.size) // _PROBE_SIDE)
    return np.asarray(img, dtype=np.uint8)[::factor, ::factor].astype(np.int16), factor


def _border(lines: npt.NDArray[np.int16]) -> int:
    """How many leading lines (rows of ``lines``) are a border: plain colour, or a banner with text.

    The border's colour is the first line's; it must be nearly uniform. The border ends after its
    last clean line, once the picture has clearly begun (several lines of other content in a row).
    """
    count = len(lines)
    if count == 0:
        return 0
    colour = int(np.median(lines[0]))
    limit = int(count * _MAX_BORDER)
    run_needed = max(2, round(count * _PICTURE_RUN))
    share = (np.abs(lines[: limit + run_needed] - colour) <= _TOLERANCE).mean(axis=1).tolist()
    if share[0] < _CLEAN:
        return 0
    last_clean, run = 0, 0
    for i in range(len(share)):
        if share[i] >= _CLEAN:
            last_clean, run = i, 0
        elif share[i] < _TEXT:
            run += 1
            if run >= run_needed:
                break
        else:
            run = 0
    end = last_clean + 1
    return end if end <= limit else 0


def _plain(line: npt.NDArray[np.uint8]) -> bool:
    middle = int(np.partition(line, len(line) // 2)[len(line) // 2])
    return bool(np.count_nonzero(np.abs(line.astype(np.int16) - middle) <= _TOLERANCE) >= _CLEAN * len(line))


def _any_plain_edge(img: Image.Image) -> bool:
    """Whether one of the picture's four outermost lines is (nearly) one colour: a border can start there."""
    grey = np.asarray(img, dtype=np.uint8)
    return any(_plain(line) for line in (grey[0], grey[-1], grey[:, 0], grey[:, -1]))


def trim_box(img: Image.Image) -> Box | None:
    """The box of ``img`` without its uniform borders (or banner), or ``None`` when it has none.

    >>> canvas = Image.new("L", (400, 300), 0)
    >>> canvas.paste(Image.effect_noise((400, 200), 40), (0, 50))
    >>> trim_box(canvas)
    (0, 50, 400, 250)
    """
    if not _any_plain_edge(img):
        return None  # most pictures: four looks at one line each, and done
    grey, factor = _probe(img)
    height, width = grey.shape
    # Each side on its own, over the whole frame: trimming one side first and then looking at the others
    # inside it would carry on into the picture wherever its own edge is plain (a black sky under a
    # white banner), and a list's copy without the banner would be trimmed differently.
    top, bottom = _border(grey), height - _border(grey[::-1])
    left, right = _border(grey.T), width - _border(grey.T[::-1])
    if bottom - top < height * _MIN_KEEP or right - left < width * _MIN_KEEP:
        return None
    if max(top, height - bottom) < height * _MIN_TRIM and max(left, width - right) < width * _MIN_TRIM:
        return None
    full_w, full_h = img.size
    return (
        min(full_w, left * factor),
        min(full_h, top * factor),
        min(full_w, right * factor) if right < width else full_w,
        min(full_h, bottom * factor) if bottom < height else full_h,
    )


def _candidates(strength: npt.NDArray[np.float64], low: int, high: int) -> list[int]:
    """The ``_CANDIDATES`` strongest lines in ``[low, high)``, no two within two lines of each other."""
    part = strength[low:high]
    pool = min(len(part), 4 * _CANDIDATES)
    if pool == 0:
        return []
    top = np.argpartition(part, len(part) - pool)[len(part) - pool :]
    order = top[np.argsort(part[top])[::-1]] + low
    picked: list[int] = []
    for index in order.tolist():
        if all(abs(index - p) > 2 for p in picked):
            picked.append(index)
            if len(picked) == _CANDIDATES:
                break
    return picked


def _edges(jumps: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    """Where a jump between neighbouring pixels along each row is at least ``_EDGE`` and (near) the largest
    of the three around it: a pasted picture's border crosses each row at one such point, on the same
    column all the way down, while a texture's jumps fall anywhere."""
    padded = np.pad(jumps, ((0, 0), (1, 1))).astype(np.float32) * _PEAK
    return (jumps >= _EDGE) & (jumps >= padded[:, :-2]) & (jumps > padded[:, 2:])


def _ridge(profile: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """How much each line's edge count stands above the lines three away on both sides."""
    padded = np.pad(profile, 3, mode="edge")
    return profile - np.maximum(padded[:-6], padded[6:])


def inset_box(img: Image.Image) -> Box | None:
    """The box of a picture pasted inside ``img`` (a rectangle edged by sharp straight lines), or ``None``.

    Vertical edges are looked for along every ``step``-th row at full horizontal resolution, horizontal
    ones along every ``step``-th column, so a border stays exactly one pixel wide. A rectangle qualifies
    when each of its sides that is not on the frame's own edge is such an edge along at least
    ``_EDGE_SUPPORT`` of its length, and at most one of its sides lies on the frame's edge.
    """
    grey = np.asarray(img, dtype=np.uint8)
    height, width = grey.shape
    if min(height, width) < 32:
        return None
    step = max(1, min(height, width) // _SAMPLED_LINES)
    # vertical[k, x]: on sampled row k, an edge between columns x and x + 1 (horizontal likewise).
    vertical = _edges(np.abs(np.diff(grey[::step].astype(np.int16), axis=1)))
    horizontal = _edges(np.abs(np.diff(grey[:, ::step].astype(np.int16), axis=0)).T).T
    xs = _candidates(_ridge(vertical.sum(axis=0, dtype=np.int32) / len(vertical)), 1, width - 2)
    ys = _candidates(_ridge(horizontal.sum(axis=1, dtype=np.int32) / horizontal.shape[1]), 1, height - 2)
    nx, ny = len(xs), len(ys)
    if nx == 0 or ny == 0:
        return None
    # Running sums along each candidate line: the support of any segment in two look-ups.
    down = np.vstack([np.zeros((1, nx), dtype=np.int32), np.cumsum(vertical[:, xs], axis=0, dtype=np.int32)])
    across = np.vstack([np.zeros((1, ny), dtype=np.int32), np.cumsum(horizontal[ys].T, axis=0, dtype=np.int32)])
    # Every rectangle from the candidate lines, sides on the frame's edge allowed (-1: left or top,
    # the last index: right or bottom), as broadcast (left, right, top, bottom) axes; ``*_line`` is
    # the candidate line a side lies on (meaningless where it lies on the frame).
    x0 = np.array([-1, *xs])[:, None, None, None]
    x1 = np.array([*xs, width - 1])[None, :, None, None]
    y0 = np.array([-1, *ys])[None, None, :, None]
    y1 = np.array([*ys, height - 1])[None, None, None, :]
    x0_line = np.array([0, *range(nx)])[:, None, None, None]
    x1_line = np.array([*range(nx), 0])[None, :, None, None]
    y0_line = np.array([0, *range(ny)])[None, None, :, None]
    y1_line = np.array([*range(ny), 0])[None, None, None, :]
    r0, r1, c0, c1 = y0 + 1, y1 + 1, x0 + 1, x1 + 1  # the pixels inside: rows r0..r1-1, columns c0..c1-1
    k0, k1 = -(-r0 // step), -(-r1 // step)  # the sampled rows (columns) inside
    j0, j1 = -(-c0 // step), -(-c1 // step)
    with np.errstate(divide="ignore", invalid="ignore"):
        sides = (
            np.where(x0 >= 0, (down[k1, x0_line] - down[k0, x0_line]) / (k1 - k0), np.nan),
            np.where(x1 < width - 1, (down[k1, x1_line] - down[k0, x1_line]) / (k1 - k0), np.nan),
            np.where(y0 >= 0, (across[j1, y0_line] - across[j0, y0_line]) / (j1 - j0), np.nan),
            np.where(y1 < height - 1, (across[j1, y1_line] - across[j0, y1_line]) / (j1 - j0), np.nan),
        )
        support = np.stack(np.broadcast_arrays(*sides))
        interior = np.isfinite(support).sum(axis=0)
        weakest = np.min(np.where(np.isfinite(support), support, np.inf), axis=0)
        mean = np.nansum(support, axis=0) / np.maximum(interior, 1)
    low, high = _INSET_SIZE
    size_ok = (
        (low * width <= x1 - x0) & (x1 - x0 <= high * width) & (low * height <= y1 - y0) & (y1 - y0 <= high * height)
    )
    good = size_ok & (interior >= 3) & (weakest >= _EDGE_SUPPORT)
    if not good.any():
        return None
    # The most interior sides first (a rectangle edged all round is a better inset than one leaning on
    # the frame), then the strongest edges and the largest area (a texture's own straight lines, bricks
    # and tiles, cut smaller rectangles out of the pasted picture).
    area = ((x1 - x0) / width) * ((y1 - y0) / height)
    rank = np.where(good, interior * 2.0 + mean + 0.5 * area, -1.0)
    i, j, k, m = np.unravel_index(int(rank.argmax()), rank.shape)
    return (int(c0[i, 0, 0, 0]), int(r0[0, 0, k, 0]), int(c1[0, j, 0, 0]), int(r1[0, 0, 0, m]))


def _hashes(img: Image.Image, named: list[tuple[str, Box]]) -> list[PerceptualHash]:
    values = pdq_boxes(img, [box for _, box in named], [name == REAL_MIRROR for name, _ in named])
    return [
        PerceptualHash("pdq", value.hex(), quality, variant=name)
        for (name, _), (value, quality) in zip(named, values, strict=True)
    ]


def query_hashes(img: Image.Image, *, deep: bool) -> list[PerceptualHash]:
    """A scanned file's extra hashes: ``trim`` when it has a border; with ``deep``, also ``inset`` when a
    picture sits inside it, the four corner windows, and ``real-mirror`` (the file mirrored for real,
    which a list's crops meet where PDQ's dihedral ``mirror`` drifts on fine textures)."""
    named: list[tuple[str, Box]] = []
    trim = trim_box(img)
    if trim is not None:
        named.append((TRIM, trim))
    if deep:
        inset = inset_box(img)
        if inset is not None:
            named.append((INSET, inset))
        named.extend(windows(img.size))
        named.append((REAL_MIRROR, (0, 0, *img.size)))
    return _hashes(img, named) if named else []


def list_hashes(img: Image.Image) -> list[PerceptualHash]:
    """A listed image's region hashes (``libra hash --robust``): ``trim`` when it has a border, and the
    four corner windows."""
    named: list[tuple[str, Box]] = []
    trim = trim_box(img)
    if trim is not None:
        named.append((TRIM, trim))
    named.extend(windows(img.size))
    return _hashes(img, named)
