"""Brute force in numpy: XOR and popcount against every entry. For small lists it beats building an index.

No memory beyond the caller's codes (viewed as uint64 words, not copied), no build time, and the answer
is exact by construction, which also makes it the reference the tests compare every other kind with.

>>> import numpy as np
>>> codes = np.array([[0] * 8, [255] + [0] * 7], dtype=np.uint8)
>>> BruteIndex(codes, radius=8).search(codes[:1])
(array([0, 0]), array([0, 1]), array([0, 8]))
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import U8, HammingIndex, Matches, as_words, popcount_rows, register

__all__ = ["BRUTE_MAX", "BruteIndex"]

#: Up to this many entries the factory prefers brute force (bench/bench_index.py: at 1,000 PDQ entries
#: brute force and the indexes answer a batch in about the same time, and brute force builds nothing).
BRUTE_MAX = 1_000
#: Query x entry pairs per numpy step: bounds the temporary ``(queries, entries, words)`` array.
_PAIRS = 1 << 18


@register
class BruteIndex(HammingIndex):
    """Exact Hamming search by comparing every query with every entry."""

    name: ClassVar[str] = "brute"

    def __init__(self, codes: U8, radius: int) -> None:
        super().__init__(codes, radius)
        self.codes = as_words(codes)

    @classmethod
    def preference(cls, n: int, bits: int, radius: int) -> float | None:
        return 4.0 if n <= BRUTE_MAX else 0.0

    def nbytes(self) -> int:
        return int(self.codes.nbytes)

    def _search(self, queries: U8) -> Matches:
        q = as_words(queries)
        n, words = self.codes.shape
        qs, es, ds = [], [], []
        entries = max(1, min(n, _PAIRS))
        step = max(1, _PAIRS // entries)
        for e0 in range(0, n, entries):
            block = self.codes[e0 : e0 + entries]
            for q0 in range(0, len(q), step):
                x = q[q0 : q0 + step, None, :] ^ block[None, :, :]
                dist = popcount_rows(x.reshape(-1, words)).reshape(len(x), len(block))
                qi, ei = np.nonzero(dist <= self.radius)
                qs.append(qi + q0)
                es.append(ei + e0)
                ds.append(dist[qi, ei])
        return (
            np.concatenate(qs).astype(np.int64),
            np.concatenate(es).astype(np.int64),
            np.concatenate(ds).astype(np.int64),
        )
