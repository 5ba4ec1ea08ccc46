"""Global row ids of an index built over several lists, mapped back to (list, column, row)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..hashlist.table import HashColumn

I64 = npt.NDArray[np.int64]


class Segments:
    """Map global row ids of a concatenated index back to (list, column, row)."""

    __slots__ = ("columns", "lists", "offsets")

    def __init__(self, parts: Sequence[tuple[int, HashColumn]]) -> None:
        self.lists = np.array([li for li, _ in parts], dtype=np.int64)
        self.columns = [c for _, c in parts]
        self.offsets = np.concatenate([[0], np.cumsum([len(c) for c in self.columns])]).astype(np.int64)

    @property
    def total(self) -> int:
        return int(self.offsets[-1])

    def locate(self, gids: I64) -> tuple[I64, I64]:
        seg = np.searchsorted(self.offsets, gids, side="right") - 1
        return seg, gids - self.offsets[seg]
