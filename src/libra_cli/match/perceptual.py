"""A Hamming index over one perceptual family (all loaded lists), exact at the largest threshold.

The search itself is a plug-in of ``match/index`` (brute force for small lists, multi-index hashing in
numpy, the same in a numba kernel), chosen by list size unless ``backend`` names one. This class joins
the family's columns of every list into one index and maps hits back to (list, column, row) with the
per-list thresholds (a family can hold types with different thresholds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from ..hashlist.table import HashColumn
from .index import HammingIndex, build_index, index_names
from .segments import Segments

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

#: The index kinds a caller may ask for (``auto`` chooses by list size); plug-ins add their names.
Backend = str


def backends() -> tuple[str, ...]:
    return ("auto", *index_names())


class PerceptualIndex:
    """One family's entries from every list, searched at radius ``max_threshold`` (inclusive)."""

    def __init__(
        self,
        parts: Sequence[tuple[int, HashColumn]],
        bits: int,
        thresholds: Mapping[str, int],
        backend: Backend = "auto",
        threads: int | None = None,
    ) -> None:
        self.bits = bits
        self.segments = Segments(parts)
        self.seg_threshold = np.array([thresholds[c.hash_type] for _, c in parts], dtype=np.int64)
        self.max_threshold = int(self.seg_threshold.max())
        # One list: its decrypted column is indexed in place, not copied (hundreds of MB at millions).
        codes = parts[0][1].values if len(parts) == 1 else np.concatenate([c.values for _, c in parts])
        options: dict[str, object] = {} if threads is None else {"threads": threads}
        self.index: HammingIndex = build_index(np.ascontiguousarray(codes), self.max_threshold, name=backend, **options)

    @property
    def backend(self) -> str:
        return self.index.name

    def search(self, queries: U8) -> tuple[I64, I64, I64]:
        """All (query, gid, distance) with distance <= ``max_threshold``, each pair once."""
        qi, gid, dist = self.index.search(np.ascontiguousarray(queries))
        return qi.astype(np.int64), gid.astype(np.int64), dist.astype(np.int64)

    def nbytes(self) -> int:
        return self.index.nbytes()
