"""Multi-index hashing with pigeonring filters in numpy: the index when numba is not available.

The plan and arrays are ``plan.py``'s, shared with ``native``; the search is vectorised per batch of
queries and per chunk: expand every probed bucket into positions, test the filter words, read the codes
of the few survivors. Every step is a numpy call over thousands of candidates, so it is several times
slower than the native loop (docs/performance.md) but needs nothing beyond numpy.

>>> import numpy as np
>>> codes = np.random.default_rng(0).integers(0, 256, (10_000, 32), dtype=np.uint8)
>>> MihIndex(codes, radius=31).search(codes[:2])[1]
array([0, 1])
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from .base import I64, U8, U64, HammingIndex, Matches, as_words, empty_matches, popcount, popcount_rows, register
from .plan import ChunkPlan, ChunkTables, plan_chunks

__all__ = ["MihIndex"]

#: Candidates per vectorised step: bounds the temporary arrays (a few tens of MB) while keeping the
#: number of numpy calls per query small.
_CANDIDATES = 1 << 20


@register
class MihIndex(HammingIndex):
    """Exact Hamming search over ``plan.py``'s chunk tables, in numpy. ``plan``: override (benchmarks)."""

    name: ClassVar[str] = "mih"

    def __init__(self, codes: U8, radius: int, *, plan: ChunkPlan | None = None) -> None:
        super().__init__(codes, radius)
        self.plan = plan or plan_chunks(self.size, self.bits, radius)
        self.tables = ChunkTables.build(codes, self.plan)
        self._masks = [self.plan.flip_masks(c) for c in range(self.plan.chunks)]
        self._flips = [popcount(m.astype(np.uint64)).astype(np.int64) for m in self._masks]

    @classmethod
    def preference(cls, n: int, bits: int, radius: int) -> float | None:
        return 2.0 if radius < bits else None

    def nbytes(self) -> int:
        return self.tables.nbytes()

    def _search(self, queries: U8) -> Matches:
        q = as_words(queries)
        keys, filters = self.tables.query_keys(q)
        per_query = self.plan.expected_candidates(self.size) + self.plan.probes()
        step = int(min(4096, max(8, _CANDIDATES // per_query)))
        parts = [self._batch(q, keys, filters, lo, min(lo + step, len(q))) for lo in range(0, len(q), step)]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]

    def _batch(self, q: U64, keys: I64, filters: I64, lo: int, hi: int) -> Matches:
        out: list[Matches] = []
        for c in range(self.plan.chunks):
            found = self._chunk(q, keys, filters, lo, hi, c)
            if len(found[0]):
                out.append(found)
        if not out:
            return empty_matches()
        return tuple(np.concatenate([p[i] for p in out]) for i in range(3))  # type: ignore[return-value]

    def _chunk(self, q: U64, keys: I64, filters: I64, lo: int, hi: int, c: int) -> Matches:
        t, plan = self.tables, self.plan
        at = int(t.starts_at[c])
        buckets = at + (keys[lo:hi, c, None] ^ self._masks[c][None, :])  # (queries, probes)
        s = t.starts[buckets].astype(np.int64).ravel()
        lens = t.starts[buckets + 1].astype(np.int64).ravel() - s
        qi = np.repeat(np.arange(lo, hi, dtype=np.int64), len(self._masks[c]))
        flips = np.tile(self._flips[c], hi - lo)
        nonempty = lens > 0
        s, lens, qi, flips = s[nonempty], lens[nonempty], qi[nonempty], flips[nonempty]
        total = int(lens.sum())
        pos = np.repeat(s - (np.cumsum(lens) - lens), lens) + np.arange(total, dtype=np.int64)
        qi, flips = np.repeat(qi, lens), np.repeat(flips, lens)
        limits = plan.limits[c]
        if plan.depth > 1:
            x = t.filters[c][pos].astype(np.int64) ^ filters[qi, c]
            low = (1 << plan.widths[plan.next_chunks(c)[0]]) - 1
            ok = popcount(x & low) <= limits[1] - flips
            if plan.depth > 2:
                ok &= popcount(x) <= limits[2] - flips
            pos, qi = pos[ok], qi[ok]
        entry = t.ids[c][pos].astype(np.int64)
        diff = t.codes[entry] ^ q[qi]
        dist = popcount_rows(diff)
        keep = dist <= self.radius
        entry, qi, dist, diff = entry[keep], qi[keep], dist[keep], diff[keep]
        if c > 0 and len(entry):
            seen = _seen_before(diff, plan, c)
            entry, qi, dist = entry[~seen], qi[~seen], dist[~seen]
        return qi, entry, dist


def _seen_before(diff: U64, plan: ChunkPlan, chunk: int) -> npt.NDArray[np.bool_]:
    """Which hits meet the run conditions at an earlier chunk (that chunk's search reported them)."""
    per_chunk = np.stack([popcount_rows(diff & plan.bit_masks[j]) for j in range(plan.chunks)], axis=1)
    seen = np.zeros(len(diff), dtype=np.bool_)
    for j in range(chunk):
        total = np.zeros(len(diff), dtype=np.int64)
        ok = np.ones(len(diff), dtype=np.bool_)
        for length, limit in enumerate(plan.limits[j]):
            total += per_chunk[:, (j + length) % plan.chunks]
            ok &= total <= limit
        seen |= ok
    return seen
