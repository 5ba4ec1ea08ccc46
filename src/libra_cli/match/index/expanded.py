"""Multi-index hashing with the probes moved to the list side: the index for small lists and many queries.

The chunk tables of ``plan.py`` hold each entry once per chunk, and a query visits every bucket within its
chunk's probe radius: for PDQ at radius 31 with 16 chunks of 16 bits that is 17 buckets per chunk, 272 per
query, almost all of them empty when the list holds a few thousand entries (the time goes to visiting
buckets, not to candidates). Here each entry is stored under every chunk value within the probe radius of
its own (17 records per chunk), so a query reads one bucket per chunk, its own value's: 16 reads instead of
272, for the same candidates. The records cost ``sum(ball(width, probe radius))`` times 9 bytes per entry
(about 2.4 KB for PDQ), which is why this kind is for small lists: a rematch of a million stored images
(8 million queries) against the few thousand entries a list version adds, or a scan with a short list.

Run conditions and the rule that reports each pair once (at the first chunk whose conditions it meets)
are the pigeonring's of ``plan.py``; each record carries how many bits its stored value differs from its
entry's chunk (the chunk distance when a query's value equals it), which the run conditions start from.

>>> import numpy as np
>>> codes = np.random.default_rng(0).integers(0, 256, (2_000, 32), dtype=np.uint8)
>>> index = ExpandedIndex(codes, radius=31, threads=1)
>>> index.search(codes[:2])[1]
array([0, 1])
"""

from __future__ import annotations

import sys
from itertools import pairwise
from typing import ClassVar

import numpy as np

from . import native
from .base import U8, U64, HammingIndex, Matches, as_words, build_index, empty_matches, popcount, register
from .plan import MIN_WIDTH, ChunkPlan, _ball, chunk_keys, filter_keys, make_plan

__all__ = ["EXPANDED_MAX", "ExpandedIndex", "plan_expanded"]

#: Up to this many entries the factory prefers this kind (docs/performance.md: per query 2-5x faster than
#: ``native`` from 1,000 to 50,000 PDQ entries; its records grow ~2.4 KB per PDQ entry and its build ~45 µs,
#: 0.3 s at 5,000 entries, 1 s at 20,000, 2.2 s at 50,000: a start-up cost a scan pays too).
EXPANDED_MAX = 20_000
#: Widest chunk: its bucket starts are ``2**width + 1`` uint32 (256 KiB at 16 bits).
MAX_WIDTH = 16
#: Most records (entry copies) the tables may hold over every chunk: 9 bytes each.
MAX_RECORDS = 1 << 25
#: Queries searched chunk by chunk at once (one chunk's starts and records stay in cache across them).
BLOCK = 512
#: Modelled cost of a query's read of one chunk's bucket start, in units of one filter word checked.
LOOKUP = 4.0
#: From this many queries in a thread's share, the queries of a block are grouped by chunk value before the
#: buckets are read (``expanded_search_sorted``): the grouping costs ~0.1 µs per query and saves more once
#: the records outgrow the core's cache (docs/performance.md: 0.78 → 0.40 µs per query at 5,005 PDQ entries,
#: 2.8 → 0.9 µs at 20,000, 0.24 → 0.18 µs at 100). A scan's batches are smaller and keep the plain order.
SORTED_FROM = 16_384
#: Queries grouped at once, and the bits of a chunk value they are grouped by (4,096 groups: the counters
#: stay in L1, a group's bucket starts span 64 bytes and its records a few hundred).
SORTED_BLOCK = 65_536
GROUP_BITS = 12


def plan_expanded(n: int, bits: int, radius: int, *, chunks: int | None = None) -> ChunkPlan:
    """The cheapest plan under ``LOOKUP`` per chunk, a unit per candidate record and ``plan.SURVIVOR`` per
    candidate whose code is read, among the plans whose records fit ``MAX_RECORDS``."""
    from .plan import SURVIVOR

    if not 0 <= radius < bits:
        raise ValueError(f"{radius!r} is not a radius multi-index hashing can serve for {bits}-bit codes")
    best: tuple[float, ChunkPlan] | None = None
    for m in [chunks] if chunks else range(-(-bits // MAX_WIDTH), max(1, bits // MIN_WIDTH) + 1):
        plan = make_plan(bits, radius, m)
        if max(plan.widths) > MAX_WIDTH:
            continue
        if chunks is None and records_per_entry(plan) * max(n, 1) > MAX_RECORDS:
            continue
        cost = LOOKUP * plan.chunks + plan.expected_candidates(n) + SURVIVOR * plan.expected_survivors(n)
        if best is None or cost < best[0]:
            best = (cost, plan)
    if best is None:
        raise ValueError(f"no expanded plan for {n} entries of {bits} bits at radius {radius}")
    return best[1]


def records_per_entry(plan: ChunkPlan) -> int:
    """Copies of each entry over every chunk: one per chunk value within the chunk's probe radius."""
    return sum(_ball(w, lim[0]) for w, lim in zip(plan.widths, plan.limits, strict=True) if lim[0] >= 0)


@register
class ExpandedIndex(HammingIndex):
    """Exact Hamming search, one bucket read per chunk and query. ``threads``: as ``NativeIndex``'s;
    ``plan``: a plan to use instead of ``plan_expanded``'s (tests, benchmarks)."""

    name: ClassVar[str] = "expanded"

    def __init__(
        self,
        codes: U8,
        radius: int,
        *,
        threads: int | None = None,
        plan: ChunkPlan | None = None,
        sorted_from: int = SORTED_FROM,
    ) -> None:
        super().__init__(codes, radius)
        self.sorted_from = sorted_from
        if native._load() is None:
            raise RuntimeError("the expanded index needs numba, which is not installed")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"{threads!r} is not a valid number of threads (1 or more)")
        self.threads = native.default_threads() if threads is None else threads
        self.plan = plan or plan_expanded(self.size, self.bits, radius)
        if max(self.plan.widths) > MAX_WIDTH:
            raise ValueError(f"an expanded plan has chunks of at most {MAX_WIDTH} bits")
        self.codes = _writable(as_words(codes))
        self._build()

    def _build(self) -> None:
        plan, words = self.plan, self.codes
        n = len(words)
        if n >= 1 << 24:
            raise ValueError(f"{n} entries are more than an expanded index holds (2**24 - 1)")
        starts, records = [], []
        starts_at = np.zeros(plan.chunks, dtype=np.int64)
        base = at = 0
        for c, (off, width) in enumerate(zip(plan.offsets, plan.widths, strict=True)):
            probe = plan.limits[c][0]
            masks = plan.flip_masks(c) if probe >= 0 else np.empty(0, dtype=np.int64)
            keys = chunk_keys(words, off, width).astype(np.int64)
            stored = (keys[:, None] ^ masks[None, :]).ravel()  # entry-major: (entry, mask)
            order = np.argsort(stored.astype(np.uint16), kind="stable")  # a radix sort; a bucket: entries ascending
            entry = (order // max(len(masks), 1)).astype(np.uint64)
            flips = popcount(masks.astype(np.uint64)).astype(np.uint64)[order % max(len(masks), 1)]
            fw = filter_keys(words, plan, c) if plan.depth > 1 else np.zeros(n, dtype=np.uint64)
            records.append((fw[entry] << np.uint64(32)) | (flips << np.uint64(24)) | entry)
            counts = np.bincount(stored, minlength=1 << width)
            chunk_starts = np.zeros((1 << width) + 1, dtype=np.int64)
            np.cumsum(counts, out=chunk_starts[1:])
            starts.append(chunk_starts + base)
            starts_at[c] = at
            at += (1 << width) + 1
            base += len(stored)
        if base >= 2**32:
            raise ValueError(f"{n} entries make more records than an expanded index holds")
        self.starts = np.concatenate(starts).astype(np.uint32)
        self.starts_at = starts_at
        self.records = np.concatenate(records).astype(np.uint64)
        self.offsets = np.array(plan.offsets, dtype=np.int64)
        self.widths = np.array(plan.widths, dtype=np.int64)
        self.follows = np.full((plan.chunks, 2), 0, dtype=np.int64)
        low = []
        for c in range(plan.chunks):
            nxt = plan.next_chunks(c)
            self.follows[c, : len(nxt)] = nxt
            low.append((1 << plan.widths[nxt[0]]) - 1 if nxt else 0)
        self._low = np.array(low, dtype=np.uint64)
        self._limits = np.array(plan.limits, dtype=np.int64)
        # a chunk value is one uint16 of a query's words (its bytes in memory order: little-endian machines)
        self._aligned = sys.byteorder == "little" and all(
            w == 16 and o % 16 == 0 for o, w in zip(plan.offsets, plan.widths, strict=True)
        )

    def widened(self, radius: int) -> HammingIndex:
        """The same entries searched at ``radius`` (the near band): this kind again if it serves that radius
        for this list, else whichever kind the factory picks (records grow fast with the probe radius)."""
        codes = np.ascontiguousarray(self.codes.view(np.uint8)[:, : self.codes_shape[1]])
        name = "expanded" if ExpandedIndex.preference(self.size, self.bits, radius) is not None else "auto"
        return build_index(codes, radius, name=name, threads=self.threads)

    @classmethod
    def available(cls) -> bool:
        return native.NativeIndex.available()

    @classmethod
    def preference(cls, n: int, bits: int, radius: int) -> float | None:
        if not 0 <= radius < bits or n > EXPANDED_MAX:
            return None
        try:
            plan = plan_expanded(n, bits, radius)
        except ValueError:
            return None
        return 3.5 if records_per_entry(plan) * max(n, 1) <= MAX_RECORDS else None

    def nbytes(self) -> int:
        arrays = (self.codes, self.starts, self.starts_at, self.records)
        return sum(int(a.nbytes) for a in arrays)

    def _search(self, queries: U8) -> Matches:
        q = _writable(as_words(queries))
        slices = max(1, min(self.threads, len(q) // native._MIN_SLICE))
        bounds = [len(q) * i // slices for i in range(slices + 1)]
        jobs = [q[lo:hi] for lo, hi in pairwise(bounds)]
        parts = [self._slice(jobs[0])] if slices == 1 else list(native._threads_pool().map(self._slice, jobs))
        if not parts:
            return empty_matches()
        qi = np.concatenate([p[0] + lo for p, lo in zip(parts, bounds, strict=False)])
        return qi, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])

    def _slice(self, q: U64) -> Matches:
        kernels = native._load()
        assert kernels is not None
        cap = native._HITS_PER_QUERY * len(q) + 64
        while True:
            out = np.empty((3, cap), dtype=np.int64)
            args = (self.offsets, self.widths, self.follows, self.starts, self.starts_at, self.records)
            common = (q, self.codes, *args, self.plan.bit_masks, self._limits, self._low, self.radius)
            if len(q) >= self.sorted_from:
                block = min(SORTED_BLOCK, len(q))
                found = int(kernels.expanded_search_sorted(*common, block, GROUP_BITS, self._aligned, *out))
            else:
                found = int(kernels.expanded_search(*common, BLOCK, *out))
            if found <= cap:
                return out[0, :found], out[1, :found], out[2, :found]
            cap = found


def _writable(words: U64) -> U64:
    """``words``, copied if read-only: numba compiles (and caches) one machine-code version per argument
    type, and a read-only array is another type; one version halves the first process's compile time."""
    return words if words.flags.writeable else words.copy()
