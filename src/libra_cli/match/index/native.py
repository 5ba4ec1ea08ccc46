"""Multi-index hashing with pigeonring filters and a compiled search loop (numba): the index for large lists.

Same plan and arrays as ``mih`` (see ``plan.py``), searched by one native loop per block of queries: for
each chunk and query it visits the probed buckets, streams their filter words (prefetching the next
buckets' while reading one), and reads a random entry code only for the rare candidate that passes the
filter (about 0.4 per query at 10M random PDQ entries). Blocks of queries are spread over ``threads``.

numba ships wheels, so ``pip install`` needs no compiler. The first process on a machine compiles the
loops (seconds) and caches the machine code; later processes load it (see docs/performance.md). Without
numba, ``NativeIndex.available()`` is false and the factory picks ``mih``.

>>> import numpy as np
>>> codes = np.random.default_rng(0).integers(0, 256, (50_000, 32), dtype=np.uint8)
>>> index = NativeIndex(codes, radius=31, threads=1)  # doctest: +SKIP
>>> index.search(codes[:2])[1]  # doctest: +SKIP
array([0, 1])
"""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import ClassVar

import numpy as np

from .base import U8, HammingIndex, Matches, as_words, register
from .plan import ChunkPlan, ChunkTables, plan_chunks

__all__ = ["DEFAULT_THREADS", "NativeIndex", "default_threads"]

_kernels: ModuleType | None
try:
    import numba

    from . import _kernels
except ImportError:  # pragma: no cover - numba is a dependency; this keeps a broken install usable
    _kernels = None

#: Threads when the caller does not say (see docs/performance.md for the measurement behind it).
DEFAULT_THREADS = 2
#: Buckets prefetched ahead of the one being read (bench/bench_index.py --sweep; docs/performance.md).
PREFETCH_AHEAD = 8
#: Room for hits per query before a block's search is re-run with room for all of them.
_HITS_PER_QUERY = 16
#: numba's thread pool (``set_num_threads`` + a parallel call) serves one caller thread at a time.
_POOL = threading.Lock()


def _max_threads() -> int:
    """Size of numba's thread pool (``NUMBA_NUM_THREADS``, by default the machine's cores)."""
    return int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))


def default_threads() -> int:
    """``DEFAULT_THREADS``, capped by the cores this process may use and numba's thread pool."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = _max_threads() if _kernels is not None else 1
    return max(1, min(DEFAULT_THREADS, cores, limit))


@register
class NativeIndex(HammingIndex):
    """Exact Hamming search with a numba kernel. ``threads``: ``None`` = ``default_threads()``;
    ``plan``: a ``ChunkPlan`` to use instead of ``plan_chunks``'s (benchmarks)."""

    name: ClassVar[str] = "native"

    def __init__(self, codes: U8, radius: int, *, threads: int | None = None, plan: ChunkPlan | None = None) -> None:
        super().__init__(codes, radius)
        if _kernels is None:
            raise RuntimeError("the native index needs numba, which is not installed")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"{threads!r} is not a valid number of threads (1 or more)")
        self.threads = default_threads() if threads is None else min(threads, _max_threads())
        self.plan = plan or plan_chunks(self.size, self.bits, radius)
        self.ahead = PREFETCH_AHEAD
        self.tables = _build(codes, self.plan, self.threads)
        masks = [self.plan.flip_masks(c) for c in range(self.plan.chunks)]
        self._masks = np.concatenate(masks)
        self._masks_at = np.cumsum([0] + [len(m) for m in masks]).astype(np.int64)
        self._flips = np.array([bin(int(m)).count("1") for m in self._masks], dtype=np.int64)
        self._limits = np.array(self.plan.limits, dtype=np.int64)
        nxt = [self.plan.next_chunks(c) for c in range(self.plan.chunks)]
        low = [(1 << self.plan.widths[f[0]]) - 1 if f else 0 for f in nxt]
        self._low = np.array(low, dtype=self.tables.filters.dtype)

    @classmethod
    def available(cls) -> bool:
        return _kernels is not None

    @classmethod
    def preference(cls, n: int, bits: int, radius: int) -> float | None:
        return 3.0 if radius < bits else None

    def nbytes(self) -> int:
        return self.tables.nbytes() + self._masks.nbytes

    def _search(self, queries: U8) -> Matches:
        assert _kernels is not None
        t = self.tables
        q = as_words(queries)
        qkeys, qfilters = t.query_keys(q)
        qfilters = qfilters.astype(t.filters.dtype)  # same width as the stored words: no widening per entry
        threads = max(1, min(self.threads, len(q) // 8))
        nblocks = min(len(q), threads * 4) if threads > 1 else 1
        cap = _HITS_PER_QUERY * -(-len(q) // nblocks) + 64
        while True:
            out = np.empty((3, nblocks, cap), dtype=np.int64)
            counts = np.zeros(nblocks, dtype=np.int64)
            args = (
                q, qkeys, qfilters, t.codes, t.starts, t.starts_at, t.ids, t.filters, self._masks, self._masks_at,
                self._flips, self.plan.bit_masks, self._limits, self._low, np.int64(self.radius),
                np.int64(self.ahead), out[0], out[1], out[2], counts,
            )  # fmt: skip
            if threads > 1:
                with _POOL:
                    numba.set_num_threads(threads)
                    _kernels.search_parallel(*args)
            else:
                _kernels.search_serial(*args)
            if int(counts.max()) <= cap:
                break
            cap = int(counts.max())
        keep = np.arange(cap)[None, :] < counts[:, None]
        return out[0][keep], out[1][keep], out[2][keep]


def _build(codes: U8, plan: ChunkPlan, threads: int) -> ChunkTables:
    """``ChunkTables.build`` by counting sort, the chunks spread over ``threads`` threads."""
    assert _kernels is not None
    tables = ChunkTables.allocate(codes, plan)
    follows = np.full((plan.chunks, 2), -1, dtype=np.int64)
    for c in range(plan.chunks):
        nxt = plan.next_chunks(c)
        follows[c, : len(nxt)] = nxt
    with _POOL:
        numba.set_num_threads(max(1, threads))
        _kernels.build_tables(
            tables.codes, np.array(plan.offsets, dtype=np.int64), np.array(plan.widths, dtype=np.int64), follows,
            tables.starts, tables.starts_at, tables.ids, tables.filters,
        )  # fmt: skip
    return tables
