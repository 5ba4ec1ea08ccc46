"""Scene likeness: how far a file's scene windows are from a confirmed match's (``hashers/scene.py``).

Every window of the file is compared with every window of the match (76 x 76 Hamming distances of 64
bits); each file window keeps its nearest match window, and the distance is the mean of the
``BEST`` smallest of those. Two framings of one scene (a crop, a shift, a zoom) share several windows
that show about the same part of it; unrelated photos share none, and one lucky window pair is not
enough (the mean of three). On the simulated host (``bench/bench_suspected.py``) series files sit
at 2-15 (median ~8), unrelated photos, recoloured look-alikes included, at 14-20 (median ~18).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..hashers.scene import MIN_QUALITY
from ..models import HashResult

#: File windows whose nearest distances are averaged.
BEST = 3
#: Distances at and under ``NEAR`` give full similarity; at and over ``FAR`` none; linear between.
NEAR, FAR = 4.0, 16.0

Rows = npt.NDArray[np.uint8]


def scene_rows(result: HashResult) -> Rows | None:
    """The file's scene windows that pass the quality floor, ``(k, 8)``; ``None`` if there are none."""
    for values in result.perceptual:
        if values.hash_type != "scene" or not len(values):
            continue
        keep = np.ones(len(values), dtype=bool) if values.quality is None else values.quality >= MIN_QUALITY
        rows = np.ascontiguousarray(values.values[keep])
        return rows if len(rows) else None
    return None


def _popcount(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Set bits per 64-bit word (SWAR, no lookup table)."""
    x = words - ((words >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    out: npt.NDArray[np.uint64] = (x * np.uint64(0x0101010101010101)) >> np.uint64(56)
    return out


def distance(query: Rows, match: Rows) -> float:
    """The mean of the ``BEST`` smallest nearest-window distances from ``query``'s windows to ``match``'s."""
    q = query.view(np.uint64).ravel()
    m = match.view(np.uint64).ravel()
    nearest = np.sort(_popcount(q[:, None] ^ m[None, :]).min(axis=1))
    return float(nearest[:BEST].mean())


def similarity(value: float | None) -> float:
    """1 at ``NEAR`` and under, 0 at ``FAR`` and over, linear between."""
    if value is None:
        return 0.0
    return float(min(1.0, max(0.0, (FAR - value) / (FAR - NEAR))))
