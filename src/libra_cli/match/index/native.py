"""Multi-index hashing with pigeonring filters and a compiled search loop (numba): the index for large lists.

Same plan and arrays as ``mih`` (see ``plan.py``), searched by one native loop per slice of queries: for
each chunk and query it visits the probed buckets, streams their filter words (prefetching the next
buckets' while reading one), and reads a random entry code only for the rare candidate that passes the
filter (about 0.4 per query at 10M random PDQ entries). The loop runs without the GIL, so ``threads``
slices run on plain Python threads at once; no OpenMP/TBB pool (under load, numba's OpenMP layer ran
two threads at half the speed of one, see docs/performance.md).

numba ships wheels, so ``pip install`` needs no compiler. The first process on a machine compiles the
loops (seconds) and caches the machine code; later processes load it (see docs/performance.md). Without
numba, ``NativeIndex.available()`` is false and the factory picks ``mih``.

>>> import numpy as np
>>> codes = np.random.default_rng(0).integers(0, 256, (10_000, 32), dtype=np.uint8)
>>> index = NativeIndex(codes, radius=31, threads=1)
>>> index.search(codes[:2])[1]
array([0, 1])
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from types import ModuleType
from typing import ClassVar

import numpy as np

from .base import U8, HammingIndex, Matches, as_words, empty_matches, register
from .plan import ChunkPlan, ChunkTables, make_plan, plan_chunks

__all__ = ["CORES_PER_THREAD", "NativeIndex", "default_threads"]

def _load() -> ModuleType | None:
    """The numba kernels, imported on first use: importing numba costs ~0.4-0.9 s, which a scan whose
    lists hold only digests (or a ``--help``) should not pay."""
    global _kernels, _loaded
    if not _loaded:
        kernels: ModuleType | None = None
        try:
            from . import _kernels as found

            kernels = found
        except ImportError:  # pragma: no cover - numba is a dependency; this keeps a broken install usable
            pass
        _kernels, _loaded = kernels, True
    return _kernels


_kernels: ModuleType | None = None
_loaded = False

#: Cores per matching thread when the caller does not say: the scan's workers hash on the other cores.
#: One thread matches about 1,000 images/s against 10M PDQ entries and a worker hashes ~150-200, so
#: one thread keeps up with about six workers; on the 2-core reference machine, busy with its workers, a
#: second thread gained nothing (docs/performance.md).
CORES_PER_THREAD = 6
#: Buckets prefetched ahead of the one being read (bench/bench_index.py --sweep; docs/performance.md).
PREFETCH_AHEAD = 16
#: Room for hits per query before a slice's search is re-run with room for all of them.
_HITS_PER_QUERY = 16
#: Below this many queries per thread a search stays on the calling thread.
_MIN_SLICE = 16

_pool: ThreadPoolExecutor | None = None


def _threads_pool() -> ThreadPoolExecutor:
    """One shared pool for every index; its threads start on first use and only run the GIL-free kernels."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="libra-index")
    return _pool


def default_threads() -> int:
    """One matching thread per ``CORES_PER_THREAD`` cores this process may use (at least one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, -(-cores // CORES_PER_THREAD))


@register
class NativeIndex(HammingIndex):
    """Exact Hamming search with a numba kernel. ``threads``: ``None`` = ``default_threads()``;
    ``plan``: a ``ChunkPlan`` to use instead of ``plan_chunks``'s (benchmarks)."""

    name: ClassVar[str] = "native"

    def __init__(self, codes: U8, radius: int, *, threads: int | None = None, plan: ChunkPlan | None = None) -> None:
        super().__init__(codes, radius)
        if _load() is None:
            raise RuntimeError("the native index needs numba, which is not installed")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"{threads!r} is not a valid number of threads (1 or more)")
        self.threads = default_threads() if threads is None else threads
        self.plan = plan or plan_chunks(self.size, self.bits, radius)
        self.ahead = PREFETCH_AHEAD
        # The build runs once, at start-up, before any file is waiting to be matched: it may use every core
        # (the search keeps to ``threads``, so matching leaves the workers theirs).
        self.tables = _build(codes, self.plan, max(self.threads, os.cpu_count() or 1))
        masks = [self.plan.flip_masks(c) for c in range(self.plan.chunks)]
        self._masks = np.concatenate(masks)
        self._masks_at = np.cumsum([0] + [len(m) for m in masks]).astype(np.int64)
        self._flips = np.array([bin(int(m)).count("1") for m in self._masks], dtype=np.int64)
        self._limits = np.array(self.plan.limits, dtype=np.int64)
        nxt = [self.plan.next_chunks(c) for c in range(self.plan.chunks)]
        low = [(1 << self.plan.widths[f[0]]) - 1 if f else 0 for f in nxt]
        self._low = np.array(low, dtype=self.tables.filters.dtype)

    def widened(self, radius: int) -> NativeIndex:
        """The same index searched at another ``radius``, sharing every table (no build, no memory).

        The chunk tables depend on the chunks' widths and the filter depth, not on the radius: only the
        probe radii and run limits do. So a wider search (the near band of ``match/nearband.py``) reuses
        the match index's arrays with a plan of the same chunks at the new radius.
        """
        plan = make_plan(self.bits, radius, self.plan.chunks, self.plan.depth)  # widths depend on chunks only
        assert plan.widths == self.plan.widths and plan.offsets == self.plan.offsets
        wide = NativeIndex.__new__(NativeIndex)
        HammingIndex.__init__(wide, np.zeros((1, self.codes_shape[1]), dtype=np.uint8), radius)  # checks radius
        wide.codes_shape = self.codes_shape
        wide.threads, wide.plan, wide.ahead, wide.tables = self.threads, plan, self.ahead, self.tables
        masks = [plan.flip_masks(c) for c in range(plan.chunks)]
        wide._masks = np.concatenate(masks)
        wide._masks_at = np.cumsum([0] + [len(m) for m in masks]).astype(np.int64)
        wide._flips = np.array([bin(int(m)).count("1") for m in wide._masks], dtype=np.int64)
        wide._limits = np.array(plan.limits, dtype=np.int64)
        wide._low = self._low
        return wide

    @classmethod
    def available(cls) -> bool:
        import importlib.util

        return _kernels is not None or (not _loaded and importlib.util.find_spec("numba") is not None)

    @classmethod
    def preference(cls, n: int, bits: int, radius: int) -> float | None:
        return 3.0 if radius < bits else None

    def nbytes(self) -> int:
        return self.tables.nbytes() + self._masks.nbytes

    def _search(self, queries: U8) -> Matches:
        t = self.tables
        q = as_words(queries)
        qkeys, qfilters = t.query_keys(q)
        qfilters = qfilters.astype(t.filters.dtype)  # same width as the stored words: no widening per entry
        slices = max(1, min(self.threads, len(q) // _MIN_SLICE))
        bounds = [len(q) * i // slices for i in range(slices + 1)]
        jobs = [(q[lo:hi], qkeys[lo:hi], qfilters[lo:hi]) for lo, hi in pairwise(bounds)]
        if slices == 1:
            parts = [self._slice(*jobs[0])]
        else:
            parts = list(_threads_pool().map(lambda job: self._slice(*job), jobs))
        if not parts:
            return empty_matches()
        qi = np.concatenate([p[0] + lo for p, lo in zip(parts, bounds, strict=False)])
        return qi, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])

    def _slice(self, q: np.ndarray, qkeys: np.ndarray, qfilters: np.ndarray) -> Matches:
        """One thread's queries: the kernel, re-run once with room for every hit if they overflow."""
        assert _kernels is not None
        t = self.tables
        cap = _HITS_PER_QUERY * len(q) + 64
        while True:
            out = np.empty((3, 1, cap), dtype=np.int64)
            counts = np.zeros(1, dtype=np.int64)
            _kernels.search(
                q, qkeys, qfilters, t.codes, t.starts, t.starts_at, t.ids, t.filters, self._masks, self._masks_at,
                self._flips, self.plan.bit_masks, self._limits, self._low, self.radius, self.ahead,
                out[0], out[1], out[2], counts,
            )  # fmt: skip
            found = int(counts[0])
            if found <= cap:
                return out[0, 0, :found], out[1, 0, :found], out[2, 0, :found]
            cap = found


def _build(codes: U8, plan: ChunkPlan, threads: int) -> ChunkTables:
    """``ChunkTables.build`` by radix sorts in numba, the chunks spread over ``threads`` threads."""
    assert _kernels is not None
    tables = ChunkTables.allocate(codes, plan)
    follows = np.full((plan.chunks, 2), -1, dtype=np.int64)
    for c in range(plan.chunks):
        nxt = plan.next_chunks(c)
        follows[c, : len(nxt)] = nxt
    offsets = np.array(plan.offsets, dtype=np.int64)
    widths = np.array(plan.widths, dtype=np.int64)
    share = [np.arange(i, plan.chunks, threads, dtype=np.int64) for i in range(min(threads, plan.chunks))]

    def run(chunks: np.ndarray) -> None:
        assert _kernels is not None
        _kernels.build_tables(
            tables.codes, offsets, widths, follows, chunks, tables.starts, tables.starts_at, tables.ids, tables.filters
        )

    if len(share) == 1:
        run(share[0])
    else:
        list(_threads_pool().map(run, share))
    return tables
