"""The compiled loops of the native index (numba). Imported only by ``native.py``, which falls back to
``mih`` when numba is missing. Nothing here touches the file system except numba's own cache of
compiled machine code.

Every function is ``cache=True``: the first process on a machine compiles (seconds) and stores machine
code under ``__pycache__`` (or numba's per-user cache directory when the package directory is
read-only); later processes load it. No media, no hashes and no list data are ever written.

Typing note: numba turns ``int64 op uint64`` into float64, so mixed expressions are cast explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["build_tables", "expanded_search", "expanded_search_sorted", "search"]


@intrinsic
def _popcount_intrinsic(typingctx: object, x: types.Type) -> tuple[object, object]:
    """LLVM's ``ctpop``: one POPCNT per word on x86-64 (2008 on) and arm64, and vectorisable."""
    if not isinstance(x, types.Integer) or getattr(x, "signed", True):
        return None  # type: ignore[return-value]
    sig = x(x)

    def codegen(context: object, builder: ir.IRBuilder, signature: object, args: list[ir.Value]) -> ir.Value:
        fn = builder.module.declare_intrinsic("llvm.ctpop", [args[0].type])
        return builder.call(fn, [args[0]])

    return sig, codegen


@intrinsic
def _prefetch_intrinsic(typingctx: object, array: types.Type, index: types.Type) -> tuple[object, object]:
    """Ask the CPU to start loading ``array[index]`` (a hint: no effect on results). A bucket's filter
    words are contiguous but the buckets are far apart, so the next buckets are fetched while one is read."""
    sig = types.void(array, index)

    def codegen(context: object, builder: ir.IRBuilder, signature: object, args: list[ir.Value]) -> object:
        arrty = signature.args[0]  # type: ignore[attr-defined]
        ary = context.make_array(arrty)(context, builder, args[0])  # type: ignore[attr-defined]
        ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, arrty, ary, [args[1]], wraparound=False
        )
        i32 = ir.IntType(32)
        bytes_ptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [bytes_ptr, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")  # type: ignore[no-untyped-call]
        builder.call(fn, [builder.bitcast(ptr, bytes_ptr), i32(0), i32(3), i32(1)])  # read, keep, data
        return context.get_dummy_value()  # type: ignore[attr-defined]

    return sig, codegen


# How the jitted code calls them (mypy sees numba's ``_Intrinsic`` wrapper otherwise).
_popcount = cast(Callable[[Any], Any], _popcount_intrinsic)
_prefetch = cast(Callable[[Any, Any], None], _prefetch_intrinsic)


@njit(cache=True, nogil=True, inline="always")
def _key(words: np.ndarray, offset: int, width: int) -> Any:
    """Bits ``offset .. offset + width - 1`` of one code given as uint64 words."""
    w = offset >> 6
    shift = np.uint64(offset & 63)
    v = words[w] >> shift
    if (offset & 63) + width > 64:
        v |= words[w + 1] << (np.uint64(64) - shift)
    return np.int64(v & ((np.uint64(1) << np.uint64(width)) - np.uint64(1)))


@njit(cache=True, nogil=True, inline="always")
def _prefetch_run(filters: np.ndarray, ids: np.ndarray, s: np.int64, e: np.int64, depth: int) -> None:
    """Prefetch every cache line of one bucket's filter words (its ids when there is no filter)."""
    if depth > 1:
        step = 64 // filters.itemsize
        for p in range(s, e, step):
            _prefetch(filters, p)
        _prefetch(filters, e - 1)
    else:
        for p in range(s, e, 16):
            _prefetch(ids, p)
        _prefetch(ids, e - 1)


@njit(cache=True, nogil=True, inline="always")
def _earlier_chunk(
    codes: np.ndarray,
    idx: np.int64,
    q: np.ndarray,
    c: int,
    depth: int,
    nchunks: int,
    nwords: int,
    bit_masks: np.ndarray,
    limits: np.ndarray,
    dist: np.ndarray,
) -> bool:
    """Whether a chunk before ``c`` also meets its run conditions for entry ``idx`` (then that chunk
    reports it, so chunk ``c`` does not). Chunk distances are computed on demand into ``dist``."""
    if c == 0:
        return False
    dist[:] = -1
    for j in range(c):
        total = 0
        ok = True
        for length in range(depth):
            k = (j + length) % nchunks
            if dist[k] < 0:
                dk = np.uint64(0)
                for w in range(nwords):
                    dk += _popcount((codes[idx, w] ^ q[w]) & bit_masks[k, w])
                dist[k] = np.int64(dk)
            total += dist[k]
            if total > limits[j, length]:
                ok = False
                break
        if ok:
            return True
    return False


@njit(cache=True, nogil=True)
def _search_block(
    queries: np.ndarray,
    qkeys: np.ndarray,
    qfilters: np.ndarray,
    lo: int,
    hi: int,
    codes: np.ndarray,
    starts: np.ndarray,
    starts_at: np.ndarray,
    ids: np.ndarray,
    filters: np.ndarray,
    masks: np.ndarray,
    masks_at: np.ndarray,
    flips: np.ndarray,
    bit_masks: np.ndarray,
    limits: np.ndarray,
    low_bits: np.ndarray,
    radius: int,
    ahead: int,
    out_q: np.ndarray,
    out_e: np.ndarray,
    out_d: np.ndarray,
) -> int:
    """Queries ``lo .. hi - 1``, chunk by chunk (one chunk's bucket starts stay in cache across queries).

    Writes up to ``len(out_q)`` hits and returns how many there were. See ``plan.py`` for the run
    conditions; a hit is kept only at the first chunk whose conditions it meets.
    """
    nwords = codes.shape[1]
    nchunks = bit_masks.shape[0]
    depth = limits.shape[1]
    cap = out_q.shape[0]
    count = 0
    most = 0
    for c in range(nchunks):
        most = max(most, masks_at[c + 1] - masks_at[c])
    size = most * (hi - lo)
    run_s = np.empty(size, dtype=np.int64)
    run_e = np.empty(size, dtype=np.int64)
    run_k = np.empty(size, dtype=np.int64)
    run_q = np.empty(size, dtype=np.int64)
    dist = np.empty(nchunks, dtype=np.int64)
    for c in range(nchunks):
        base = starts_at[c]
        ids_c = ids[c]
        filters_c = filters[c]
        low = low_bits[c]
        # every non-empty bucket this chunk's probes visit, for all queries of the block: one flat list,
        # so prefetching runs ahead across query boundaries
        runs = 0
        for qi in range(lo, hi):
            key = qkeys[qi, c]
            for mi in range(masks_at[c], masks_at[c + 1]):
                b = base + (key ^ masks[mi])
                s = np.int64(starts[b])
                e = np.int64(starts[b + 1])
                if e > s:
                    run_s[runs] = s
                    run_e[runs] = e
                    run_k[runs] = flips[mi]
                    run_q[runs] = qi
                    runs += 1
        for r in range(min(ahead, runs)):
            _prefetch_run(filters_c, ids_c, run_s[r], run_e[r], depth)
        for r in range(runs):
            if r + ahead < runs:
                _prefetch_run(filters_c, ids_c, run_s[r + ahead], run_e[r + ahead], depth)
            qi = run_q[r]
            q = queries[qi]
            qf = qfilters[qi, c]
            lim2 = limits[c, 1] - run_k[r] if depth > 1 else 0
            lim3 = limits[c, 2] - run_k[r] if depth > 2 else 64  # no third chunk: no limit
            s = run_s[r]
            e = run_e[r]
            if depth > 1:
                # a branch-free count the compiler vectorises; the rare bucket with a survivor is re-read
                passed = 0
                for p in range(s, e):
                    x = filters_c[p] ^ qf
                    passed += (_popcount(x & low) <= lim2) & (_popcount(x) <= lim3)
                if passed == 0:
                    continue
            for p in range(s, e):
                if depth > 1:
                    x = filters_c[p] ^ qf
                    if _popcount(x & low) > lim2 or _popcount(x) > lim3:
                        continue
                idx = np.int64(ids_c[p])
                d = np.uint64(0)
                for w in range(nwords):
                    d += _popcount(codes[idx, w] ^ q[w])
                if np.int64(d) > radius:
                    continue
                # the first chunk whose run conditions it meets reports it
                if _earlier_chunk(codes, idx, q, c, depth, nchunks, nwords, bit_masks, limits, dist):
                    continue
                if count < cap:
                    out_q[count] = qi
                    out_e[count] = idx
                    out_d[count] = np.int64(d)
                count += 1
    return count


@njit(cache=True, nogil=True)
def search(
    queries: np.ndarray,
    qkeys: np.ndarray,
    qfilters: np.ndarray,
    codes: np.ndarray,
    starts: np.ndarray,
    starts_at: np.ndarray,
    ids: np.ndarray,
    filters: np.ndarray,
    masks: np.ndarray,
    masks_at: np.ndarray,
    flips: np.ndarray,
    bit_masks: np.ndarray,
    limits: np.ndarray,
    low_bits: np.ndarray,
    radius: int,
    ahead: int,
    out_q: np.ndarray,
    out_e: np.ndarray,
    out_d: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Queries in ``len(counts)`` blocks on the calling thread (without the GIL: callers run several at once
    on disjoint slices); block ``b`` writes row ``b`` of the outputs and its hit count to ``counts[b]``."""
    nq = queries.shape[0]
    nblocks = counts.shape[0]
    for b in range(nblocks):
        counts[b] = _search_block(
            queries, qkeys, qfilters, b * nq // nblocks, (b + 1) * nq // nblocks, codes, starts, starts_at, ids,
            filters, masks, masks_at, flips, bit_masks, limits, low_bits, radius, ahead, out_q[b], out_e[b], out_d[b],
        )  # fmt: skip


@njit(cache=True, nogil=True)
def _build_chunk(
    codes: np.ndarray,
    off: int,
    width: int,
    off1: int,
    width1: int,
    off2: int,
    width2: int,
    starts: np.ndarray,
    ids: np.ndarray,
    filters: np.ndarray,
) -> None:
    """Sort the rows by the chunk at ``off``: bucket starts (``2**width + 1``, zeroed on entry), row ids in
    bucket order (ascending within a bucket) and beside each its filter word: the chunks at ``off1`` and
    ``off2`` packed low to high (width 0: absent).

    A two-pass LSD radix sort (low half of the key, then high half): each pass writes to at most 2 x 256
    sequential streams, where a direct counting sort into 65,536 buckets writes every element to a random
    cache line. Chunk parameters are scalars: read from arrays inside the loop they cost 4-10x.
    """
    n = codes.shape[0]
    low_bits = width // 2
    low_mask = (np.int64(1) << low_bits) - 1
    nb = np.int64(1) << width
    pos = np.zeros((np.int64(1) << low_bits) + 1, dtype=np.int64)
    for i in range(n):
        k = _key(codes[i], off, width)
        starts[k + 1] += 1
        pos[(k & low_mask) + 1] += 1
    for b in range(nb):
        starts[b + 1] += starts[b]
    for b in range(pos.shape[0] - 1):
        pos[b + 1] += pos[b]
    records = np.empty(n, dtype=np.uint64)  # key << 32 | row
    tmp_filters = np.empty(n if width1 > 0 else 0, dtype=filters.dtype)
    for i in range(n):
        k = _key(codes[i], off, width)
        p = pos[k & low_mask]
        pos[k & low_mask] = p + 1
        records[p] = (np.uint64(k) << np.uint64(32)) | np.uint64(i)
        if width1 > 0:
            f = _key(codes[i], off1, width1)
            if width2 > 0:
                f |= _key(codes[i], off2, width2) << width1
            tmp_filters[p] = f
    high = np.empty(nb >> low_bits, dtype=np.int64)
    for h in range(high.shape[0]):
        high[h] = starts[h << low_bits]
    for p in range(n):
        top = np.int64(records[p] >> np.uint64(32 + low_bits))
        d = high[top]
        high[top] = d + 1
        ids[d] = records[p] & np.uint64(0xFFFFFFFF)
        if width1 > 0:
            filters[d] = tmp_filters[p]


@njit(cache=True, nogil=True)
def build_tables(
    codes: np.ndarray,
    offsets: np.ndarray,
    widths: np.ndarray,
    follows: np.ndarray,
    chunks: np.ndarray,
    starts: np.ndarray,
    starts_at: np.ndarray,
    ids: np.ndarray,
    filters: np.ndarray,
) -> None:
    """``_build_chunk`` for each chunk in ``chunks``. ``follows[c]``: chunk ``c``'s filter chunks (-1 pads)."""
    for c in chunks:
        at = starts_at[c]
        f1 = follows[c, 0]
        f2 = follows[c, 1]
        _build_chunk(
            codes, offsets[c], widths[c],
            offsets[f1] if f1 >= 0 else 0, widths[f1] if f1 >= 0 else 0,
            offsets[f2] if f2 >= 0 else 0, widths[f2] if f2 >= 0 else 0,
            starts[at : at + (np.int64(1) << widths[c]) + 1], ids[c], filters[c],
        )  # fmt: skip


@njit(cache=True, nogil=True)
def expanded_search(
    queries: np.ndarray,
    codes: np.ndarray,
    offsets: np.ndarray,
    widths: np.ndarray,
    follows: np.ndarray,
    starts: np.ndarray,
    starts_at: np.ndarray,
    records: np.ndarray,
    bit_masks: np.ndarray,
    limits: np.ndarray,
    low_bits: np.ndarray,
    radius: int,
    block: int,
    out_q: np.ndarray,
    out_e: np.ndarray,
    out_d: np.ndarray,
) -> int:
    """The search of ``expanded.py``: every entry is stored under each chunk value within its chunk's probe
    radius, so a query reads one bucket per chunk, its own value's. ``records[p]``: the entry's filter word
    (high 32 bits), how many bits the stored chunk value differs from the entry's (bits 24-31: the chunk
    distance when a query's value equals it) and the entry id (low 24 bits).

    Blocks of ``block`` queries are searched chunk by chunk, so one chunk's bucket starts and records stay
    in cache across the block. Run conditions and the first-chunk rule are ``_search_block``'s; returns the
    number of hits (only the first ``len(out_q)`` are written).
    """
    nq = queries.shape[0]
    nwords = codes.shape[1]
    nchunks = bit_masks.shape[0]
    depth = limits.shape[1]
    cap = out_q.shape[0]
    count = 0
    dist = np.empty(nchunks, dtype=np.int64)
    bucket = np.empty(block, dtype=np.int64)
    run_s = np.empty(block, dtype=np.int64)
    run_e = np.empty(block, dtype=np.int64)
    for lo in range(0, nq, block):
        hi = min(nq, lo + block)
        for c in range(nchunks):
            off = offsets[c]
            width = widths[c]
            at = starts_at[c]
            f1 = follows[c, 0]
            f2 = follows[c, 1]
            low = np.uint64(low_bits[c])
            lim1 = limits[c, 1] if depth > 1 else 0
            lim2 = limits[c, 2] if depth > 2 else 64
            # three passes over the block, each starting the loads the next one reads: the block's bucket
            # starts, then its records, are in cache when they are used (latency, not work, was the cost)
            for qi in range(lo, hi):
                b = at + _key(queries[qi], off, width)
                bucket[qi - lo] = b
                _prefetch(starts, b)
            for qi in range(lo, hi):
                b = bucket[qi - lo]
                s = np.int64(starts[b])
                e = np.int64(starts[b + 1])
                run_s[qi - lo] = s
                run_e[qi - lo] = e
                if e > s:
                    _prefetch(records, s)
            for qi in range(lo, hi):
                s = run_s[qi - lo]
                e = run_e[qi - lo]
                if e <= s:
                    continue
                q = queries[qi]
                qf = np.uint64(0)
                if depth > 1:
                    qf = np.uint64(_key(q, offsets[f1], widths[f1]))
                    if depth > 2:
                        qf |= np.uint64(_key(q, offsets[f2], widths[f2])) << np.uint64(widths[f1])
                for p in range(s, e):
                    rec = records[p]
                    k = np.int64((rec >> np.uint64(24)) & np.uint64(0xFF))
                    if depth > 1:
                        x = (rec >> np.uint64(32)) ^ qf
                        if np.int64(_popcount(x & low)) > lim1 - k or np.int64(_popcount(x)) > lim2 - k:
                            continue
                    idx = np.int64(rec & np.uint64(0xFFFFFF))
                    d = np.uint64(0)
                    for w in range(nwords):
                        d += _popcount(codes[idx, w] ^ q[w])
                    if np.int64(d) > radius:
                        continue
                    if _earlier_chunk(codes, idx, q, c, depth, nchunks, nwords, bit_masks, limits, dist):
                        continue
                    if count < cap:
                        out_q[count] = qi
                        out_e[count] = idx
                        out_d[count] = np.int64(d)
                    count += 1
    return count


@njit(cache=True, nogil=True)
def expanded_search_sorted(
    queries: np.ndarray,
    codes: np.ndarray,
    offsets: np.ndarray,
    widths: np.ndarray,
    follows: np.ndarray,
    starts: np.ndarray,
    starts_at: np.ndarray,
    records: np.ndarray,
    bit_masks: np.ndarray,
    limits: np.ndarray,
    low_bits: np.ndarray,
    radius: int,
    block: int,
    bins_log: int,
    aligned: bool,
    out_q: np.ndarray,
    out_e: np.ndarray,
    out_d: np.ndarray,
) -> int:
    """``expanded_search`` for large batches (a rematch's millions of query rows): the same buckets, records,
    run conditions and first-chunk rule, visited in another order.

    Per block of ``block`` queries and per chunk, the queries are first grouped by the top ``bins_log`` bits
    of their chunk value (one counting pass and one placing pass, the counters in L1), then their buckets are
    read group by group: the bucket starts and records a group reads lie within a few KiB instead of
    anywhere in megabytes, so the reads hit the cache (random reads over the records were ~70% of the time
    of ``expanded_search`` at a few thousand entries). ``aligned``: every chunk is 16 bits at a multiple of
    16 on a little-endian machine, so a chunk's value is one uint16 of the query's words (else each is cut
    out with ``_key`` once per block).
    """
    nq = queries.shape[0]
    nwords = codes.shape[1]
    nchunks = bit_masks.shape[0]
    depth = limits.shape[1]
    cap = out_q.shape[0]
    count = 0
    dist = np.empty(nchunks, dtype=np.int64)
    nbins = 1 << bins_log
    cnt = np.empty(nbins + 1, dtype=np.int64)
    keys = np.empty((nchunks, 1 if aligned else block), dtype=np.uint16)
    halves = queries.view(np.uint16)  # (nq, 4 * nwords): chunk c of an aligned plan is column offsets[c] // 16
    group = np.empty(block, dtype=np.int32)
    sorted_key = np.empty(block, dtype=np.int64)
    sorted_filter = np.empty(block, dtype=np.uint64)
    perm = np.empty(block, dtype=np.int64)
    for lo in range(0, nq, block):
        hi = min(nq, lo + block)
        n = hi - lo
        if not aligned:
            for i in range(n):
                q = queries[lo + i]
                for c in range(nchunks):
                    keys[c, i] = np.uint16(_key(q, offsets[c], widths[c]))
        for c in range(nchunks):
            width = widths[c]
            at = starts_at[c]
            f1 = follows[c, 0]
            f2 = follows[c, 1]
            low = np.uint64(low_bits[c])
            lim1 = limits[c, 1] if depth > 1 else 0
            lim2 = limits[c, 2] if depth > 2 else 64
            shift = max(width - bins_log, 0)
            col = offsets[c] >> 4
            col1 = offsets[f1] >> 4 if depth > 1 else 0
            col2 = offsets[f2] >> 4 if depth > 2 else 0
            up = np.uint64(widths[f1]) if depth > 1 else np.uint64(0)
            cnt[:] = 0
            for i in range(n):
                k = np.int64(halves[lo + i, col]) if aligned else np.int64(keys[c, i])
                g = k >> shift
                group[i] = g
                cnt[g + 1] += 1
            for g in range(nbins):
                cnt[g + 1] += cnt[g]
            for i in range(n):
                g = group[i]
                pos = cnt[g]
                cnt[g] = pos + 1
                perm[pos] = i
                qf = np.uint64(0)
                if aligned:
                    sorted_key[pos] = np.int64(halves[lo + i, col])
                    if depth > 1:
                        qf = np.uint64(halves[lo + i, col1])
                        if depth > 2:
                            qf |= np.uint64(halves[lo + i, col2]) << up
                else:
                    sorted_key[pos] = np.int64(keys[c, i])
                    if depth > 1:
                        qf = np.uint64(keys[f1, i])
                        if depth > 2:
                            qf |= np.uint64(keys[f2, i]) << up
                sorted_filter[pos] = qf
            for j in range(n):
                b = at + sorted_key[j]
                s = np.int64(starts[b])
                e = np.int64(starts[b + 1])
                if e <= s:
                    continue
                qf = sorted_filter[j]
                for p in range(s, e):
                    rec = records[p]
                    k = np.int64((rec >> np.uint64(24)) & np.uint64(0xFF))
                    if depth > 1:
                        x = (rec >> np.uint64(32)) ^ qf
                        if np.int64(_popcount(x & low)) > lim1 - k or np.int64(_popcount(x)) > lim2 - k:
                            continue
                    qi = lo + perm[j]
                    q = queries[qi]
                    idx = np.int64(rec & np.uint64(0xFFFFFF))
                    d = np.uint64(0)
                    for w in range(nwords):
                        d += _popcount(codes[idx, w] ^ q[w])
                    if np.int64(d) > radius:
                        continue
                    if _earlier_chunk(codes, idx, q, c, depth, nchunks, nwords, bit_masks, limits, dist):
                        continue
                    if count < cap:
                        out_q[count] = qi
                        out_e[count] = idx
                        out_d[count] = np.int64(d)
                    count += 1
    return count
