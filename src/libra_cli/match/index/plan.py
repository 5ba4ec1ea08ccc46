"""How to cut codes into chunks, and the chunk tables both multi-index kinds (``mih``, ``native``) search.

Multi-index hashing (Norouzi, Punjani, Fleet, "Fast Exact Search in Hamming Space with Multi-Index
Hashing", 2014) cuts every code into ``m`` chunks and keeps, per chunk, the entries sorted by that chunk's
value. Two codes within ``radius`` bits differ by at most ``radius / m`` bits on some chunk (pigeonhole),
so probing every bucket within ``floor(radius / m)`` flips of each query chunk finds every neighbour.

The pigeon*ring* (Qin et al., "Pigeonring: A Principle for Faster Thresholded Similarity Search", VLDB
2018) says more: some chunk ``i`` starts a run where, for every length ``l``, chunks ``i .. i+l-1``
(cyclically) differ by at most ``floor(l * radius / m)`` bits in total (the gas-station lemma on
``radius / m - d_j``). So next to each entry of chunk ``i``'s table we store the values of chunks
``i+1`` and ``i+2`` (the *filter*), and a candidate is checked against them before its full code is
read. For PDQ at radius 31 with 16 chunks of 16 bits: probe radius 1, then chunks ``i, i+1`` within 3
bits and ``i..i+2`` within 5. A random candidate passes with probability ~1e-5, so the search streams
the (sorted, contiguous) filter words and touches a random code almost only for true neighbours:
memory latency, not the number of candidates, was the cost of the plain index (docs/performance.md).

Each pair is reported once: from the first chunk whose run conditions it meets (the search at every
earlier chunk checks the same conditions and would have dropped it).

Memory per entry: ``m * (4 + filter bytes)`` (ids and filters per chunk; PDQ: 16 * 8 = 128 B), plus
``4 * 2**width`` bytes of bucket starts per chunk; codes are the caller's array (no copy when it is
C-contiguous with whole 8-byte words).

>>> plan = plan_chunks(10_000_000, 256, 31)
>>> plan.chunks, plan.widths[0], plan.limits[0]
(16, 16, (1, 3, 5))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import combinations
from math import comb

import numpy as np
import numpy.typing as npt

from .base import U64, as_words

__all__ = ["ChunkPlan", "ChunkTables", "chunk_keys", "make_plan", "plan_chunks"]

#: Widest chunk when filter words are stored (two filter chunks share one uint32), and without them.
MAX_WIDTH, MAX_WIDTH_PLAIN, MIN_WIDTH = 16, 24, 4
#: Deepest run checked before reading a code: the probed chunk plus two filter chunks.
MAX_DEPTH = 3
#: Modelled costs, in units of one streamed filter word (calibrated with bench/bench_index.py --sweep):
#: a bucket visit when all bucket tables fit in cache and when they do not, and a candidate whose code is
#: read (a random read of its id and of its code).
PROBE_CACHED, PROBE_MEMORY, SURVIVOR = 4.0, 40.0, 60.0
CACHED_TABLE_BYTES = 8 << 20
#: Bucket tables may take this many bytes per entry, or 1 MiB, whichever is more.
TABLE_BYTES_PER_ENTRY = 64


@dataclass(frozen=True)
class ChunkPlan:
    """Chunk ``c`` is bits ``offsets[c] .. offsets[c] + widths[c] - 1`` with threshold
    ``weights[c] / denominator`` (the thresholds sum to ``radius``); ``max_depth`` caps the run length
    checked before a code is read (1: plain multi-index hashing, no filter words)."""

    bits: int
    radius: int
    widths: tuple[int, ...]
    offsets: tuple[int, ...]
    weights: tuple[int, ...]
    denominator: int
    max_depth: int = MAX_DEPTH

    @property
    def chunks(self) -> int:
        return len(self.widths)

    @cached_property
    def depth(self) -> int:
        """Run length checked before a code is read: the probed chunk plus ``depth - 1`` filter chunks."""
        return max(1, min(self.max_depth, self.chunks))

    @cached_property
    def limits(self) -> tuple[tuple[int, ...], ...]:
        """``limits[c][l - 1]``: most bits chunks ``c .. c + l - 1`` (cyclically) may differ by in a run
        starting at ``c``; ``limits[c][0]`` is chunk ``c``'s probe radius (-1: never probed)."""
        m, out = self.chunks, []
        for c in range(m):
            sums = np.cumsum([self.weights[(c + k) % m] for k in range(self.depth)])
            out.append(tuple(int(x) // self.denominator for x in sums))
        return tuple(out)

    def next_chunks(self, chunk: int) -> tuple[int, ...]:
        """The filter chunks stored next to chunk ``chunk``'s entries."""
        return tuple((chunk + k) % self.chunks for k in range(1, self.depth))

    def probes(self) -> int:
        """Buckets visited per query."""
        return sum(_ball(w, lim[0]) for w, lim in zip(self.widths, self.limits, strict=True))

    def table_bytes(self) -> int:
        return sum(4 * ((1 << w) + 1) for w in self.widths)

    def bytes_per_entry(self) -> int:
        """Index memory per entry, without the bucket tables and the caller's codes."""
        return self.chunks * (4 + (4 if self.depth > 1 else 0))

    def expected_candidates(self, n: int) -> float:
        """Filter words (or ids) read per query when entries are uniformly random."""
        return sum(_ball(w, lim[0]) * n / 2.0**w for w, lim in zip(self.widths, self.limits, strict=True))

    def expected_survivors(self, n: int) -> float:
        """Candidates per query whose code is read (random entries): those that pass the filter."""
        total = 0.0
        for c, w in enumerate(self.widths):
            nxt = tuple(self.widths[j] for j in self.next_chunks(c))
            lim = self.limits[c]
            for flips in range(lim[0] + 1):
                total += comb(w, flips) * n / 2.0**w * _pass_rate(nxt, tuple(x - flips for x in lim[1:]))
        return total

    def cost(self, n: int) -> float:
        visit = PROBE_CACHED if self.table_bytes() <= CACHED_TABLE_BYTES else PROBE_MEMORY
        return visit * self.probes() + self.expected_candidates(n) + SURVIVOR * self.expected_survivors(n)

    def flip_masks(self, chunk: int) -> npt.NDArray[np.int64]:
        """Every mask of at most the probe radius set bits within the chunk, fewest bits first."""
        width, radius = self.widths[chunk], self.limits[chunk][0]
        masks = [sum(1 << b for b in bs) for r in range(radius + 1) for bs in combinations(range(width), r)]
        return np.array(masks, dtype=np.int64)

    @cached_property
    def bit_masks(self) -> U64:
        """``(chunks, words)`` uint64 masks selecting each chunk's bits, for per-chunk distances."""
        out = np.zeros((self.chunks, -(-self.bits // 64)), dtype=np.uint64)
        for c, (off, w) in enumerate(zip(self.offsets, self.widths, strict=True)):
            for b in range(off, off + w):
                out[c, b // 64] |= np.uint64(1 << (b % 64))
        return out


@lru_cache(maxsize=4096)
def _ball(width: int, radius: int) -> int:
    return sum(comb(width, j) for j in range(radius + 1))


@lru_cache(maxsize=4096)
def _pass_rate(widths: tuple[int, ...], limits: tuple[int, ...]) -> float:
    """P(for every k, the first k random chunks of ``widths`` differ by <= limits[k-1] bits in total)."""
    dist = {0: 1.0}  # distribution of the running total among the runs still alive
    for width, limit in zip(widths, limits, strict=True):
        step: dict[int, float] = {}
        for total, p in dist.items():
            for d in range(width + 1):
                if total + d <= limit:
                    step[total + d] = step.get(total + d, 0.0) + p * comb(width, d) / 2.0**width
        dist = step
    return sum(dist.values())


def make_plan(bits: int, radius: int, chunks: int, depth: int = MAX_DEPTH) -> ChunkPlan:
    """``chunks`` even chunks. Thresholds: chunk radii ``r_c`` with ``sum(r_c + 1) = radius + 1`` (the
    tightest pigeonhole; the spare units go to the narrowest chunks), as ``t_c = r_c + 1 - 1/chunks``,
    which sum to ``radius``; with more chunks than ``radius + 1``, ``t_c = radius / chunks``."""
    base, extra = divmod(bits, chunks)
    widths = tuple(base + (c < extra) for c in range(chunks))
    offsets = tuple(int(x) for x in np.cumsum([0, *widths[:-1]]))
    if chunks <= radius + 1:
        units, more = divmod(radius + 1, chunks)
        narrow = sorted(range(chunks), key=lambda c: (widths[c], c))[:more]
        weights = tuple((units + (c in narrow)) * chunks - 1 for c in range(chunks))
    else:
        weights = (radius,) * chunks
    return ChunkPlan(bits, radius, widths, offsets, weights, chunks, depth)


def plan_chunks(n: int, bits: int, radius: int, *, chunks: int | None = None, depth: int = MAX_DEPTH) -> ChunkPlan:
    """The cheapest plan for ``n`` entries of ``bits`` at ``radius`` under the model (or ``chunks`` chunks).

    Candidates have even chunks of 4 to 16 bits (24 without filter words) whose bucket tables fit
    ``TABLE_BYTES_PER_ENTRY``; the model (``ChunkPlan.cost``) counts bucket visits, streamed filter
    words and candidates whose code must be read.
    """
    if not 0 <= radius < bits:
        raise ValueError(f"{radius!r} is not a radius multi-index hashing can serve for {bits}-bit codes")
    widest = MAX_WIDTH if depth > 1 else MAX_WIDTH_PLAIN
    budget = max(TABLE_BYTES_PER_ENTRY * n, 1 << 20)
    best: tuple[float, ChunkPlan] | None = None
    for m in [chunks] if chunks else range(-(-bits // widest), max(1, bits // MIN_WIDTH) + 1):
        plan = make_plan(bits, radius, m, depth)
        if max(plan.widths) > widest or (chunks is None and plan.table_bytes() > budget):
            continue
        cost = plan.cost(n)
        if best is None or cost < best[0]:
            best = (cost, plan)
    if best is None:
        raise ValueError(f"no chunk plan for {bits}-bit codes with {chunks} chunks")
    return best[1]


def chunk_keys(words: U64, offset: int, width: int) -> U64:
    """Value of bits ``offset .. offset + width - 1`` of each row of ``words``."""
    w, shift = divmod(offset, 64)
    keys = words[:, w] >> np.uint64(shift)
    if shift + width > 64:
        keys = keys | (words[:, w + 1] << np.uint64(64 - shift))
    out: U64 = keys & np.uint64((1 << width) - 1)
    return out


def filter_keys(words: U64, plan: ChunkPlan, chunk: int) -> U64:
    """The filter word of chunk ``chunk`` for each row: the next chunks' values, packed low to high."""
    out = np.zeros(len(words), dtype=np.uint64)
    shift = 0
    for j in plan.next_chunks(chunk):
        out |= chunk_keys(words, plan.offsets[j], plan.widths[j]) << np.uint64(shift)
        shift += plan.widths[j]
    return out


@dataclass(frozen=True)
class ChunkTables:
    """The searchable arrays of one list: per chunk, bucket starts, entry ids and filter words in bucket order."""

    plan: ChunkPlan
    codes: U64  # (n, words): the caller's codes as words
    starts: npt.NDArray[np.uint32]  # every chunk's 2**width + 1 bucket starts, back to back
    starts_at: npt.NDArray[np.int64]  # (chunks,) where each chunk's starts begin
    ids: npt.NDArray[np.uint32]  # (chunks, n) entry ids in bucket order, ascending within a bucket
    filters: npt.NDArray[np.uint32]  # (chunks, n) filter words, same order (width 0 at depth 1)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.codes, self.starts, self.starts_at, self.ids, self.filters))

    @staticmethod
    def allocate(codes: np.ndarray, plan: ChunkPlan) -> ChunkTables:
        words = as_words(codes)
        n = len(words)
        if n >= 2**32 - 1:
            raise ValueError(f"{n} entries are more than a chunk table can index (2**32 - 2)")
        sizes = [(1 << w) + 1 for w in plan.widths]
        starts_at = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        return ChunkTables(
            plan,
            words,
            np.zeros(sum(sizes), dtype=np.uint32),
            starts_at,
            np.empty((plan.chunks, n), dtype=np.uint32),
            np.empty((plan.chunks, n if plan.depth > 1 else 0), dtype=np.uint32),
        )

    @classmethod
    def build(cls, codes: np.ndarray, plan: ChunkPlan) -> ChunkTables:
        """Numpy build: one stable radix sort per chunk (the native kind fills the same arrays in numba)."""
        tables = cls.allocate(codes, plan)
        words = tables.codes
        for c, (off, w) in enumerate(zip(plan.offsets, plan.widths, strict=True)):
            keys = chunk_keys(words, off, w)
            if w <= 16:
                order = np.argsort(keys.astype(np.uint16), kind="stable")  # numpy radix-sorts 16-bit keys
            else:  # sorting key << 32 | row is a stable argsort, ~3x faster than argsort of uint32 keys
                order = (
                    np.sort((keys << np.uint64(32)) | np.arange(len(keys), dtype=np.uint64)) & np.uint64(0xFFFFFFFF)
                ).astype(np.intp)
            tables.ids[c] = order
            if plan.depth > 1:
                tables.filters[c] = filter_keys(words, plan, c)[order]
            at = int(tables.starts_at[c])
            counts = np.bincount(keys.astype(np.intp), minlength=1 << w)
            np.cumsum(counts, out=tables.starts[at + 1 : at + 1 + (1 << w)], dtype=np.uint32)
        return tables

    def query_keys(self, queries: U64) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(keys, filters)``: each query's chunk values and filter words, both ``(q, chunks)`` int64."""
        plan = self.plan
        keys = np.stack([chunk_keys(queries, o, w) for o, w in zip(plan.offsets, plan.widths, strict=True)], axis=1)
        filters = np.stack([filter_keys(queries, plan, c) for c in range(plan.chunks)], axis=1)
        return keys.astype(np.int64), filters.astype(np.int64)
