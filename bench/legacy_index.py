"""The perceptual index libra used before ``match/index`` (kept for the benchmark's side-by-side ratios).

Brute force for small lists; multi-index hashing (MIH) over 16-bit chunks in numpy otherwise. Not used
by libra itself: ``bench/bench_index.py`` measures the new indexes against it in one run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Literal

import numpy as np
import numpy.typing as npt

from libra_cli.hashlist.table import HashColumn
from libra_cli.match.segments import Segments

Backend = Literal["auto", "brute", "mih", "faiss"]
#: Below this many entries brute force beats building an index (measured by bench/bench_matcher.py).
BRUTE_FORCE_MAX = 1_000

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_CHUNK_BITS = 16
_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount_rows(x: U64) -> I64:
    """Hamming weight of each row of a ``(k, w)`` uint64 array (numpy < 2 has no bitwise_count)."""
    counts: I64
    if hasattr(np, "bitwise_count"):
        counts = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
    else:  # pragma: no cover
        counts = _POP8[x.view(np.uint8)].sum(axis=1, dtype=np.int64)
    return counts


class PerceptualIndex:
    """One perceptual family across all lists, searched at radius ``max_threshold`` (inclusive).

    MIH: the ``d`` bits are cut into ``m = d/16`` chunks; two hashes within ``t`` bits agree within
    ``t // m`` bits on at least one chunk (pigeonhole), so probing every chunk's bucket and the buckets
    ``<= t // m`` flips away finds every neighbour: exact, not approximate. Per chunk we keep the row
    permutation sorted by chunk value (uint32) and the 65,537 bucket starts: 4 bytes per entry per chunk
    plus a fixed 4 MB (PDQ), which is why lists up to ``BRUTE_FORCE_MAX`` are brute-forced.
    """

    def __init__(
        self,
        parts: Sequence[tuple[int, HashColumn]],
        bits: int,
        thresholds: Mapping[str, int],
        backend: Backend,
    ) -> None:
        self.bits = bits
        self.words = bits // 64
        self.segments = Segments(parts)
        self.seg_threshold = np.array([thresholds[c.hash_type] for _, c in parts], dtype=np.int64)
        self.max_threshold = int(self.seg_threshold.max())
        codes = np.ascontiguousarray(np.concatenate([c.values for _, c in parts]))
        self.codes: U64 = codes.view(np.uint64).reshape(-1, self.words)
        n = len(codes)
        self.nchunks = bits // _CHUNK_BITS
        self.nflip = self.max_threshold // self.nchunks
        if backend == "auto":
            backend = "brute" if n <= BRUTE_FORCE_MAX or self.nflip > 3 else "mih"
        self.backend: str = backend
        self.faiss_index: object | None = None
        if backend == "mih":
            self._build_mih(codes)
        elif backend == "faiss":
            self._build_faiss(codes)

    def _build_mih(self, codes: U8) -> None:
        n = len(codes)
        keys = codes.view(">u2").reshape(n, self.nchunks)
        self.perms = np.empty((self.nchunks, n), dtype=np.uint32 if n < 2**32 else np.int64)
        self.starts = np.zeros((self.nchunks, 2**_CHUNK_BITS + 1), dtype=np.int32 if n < 2**31 else np.int64)
        for k in range(self.nchunks):
            col = keys[:, k].astype(np.uint16)
            self.perms[k] = np.argsort(col, kind="stable")  # radix sort for uint16: O(n)
            np.cumsum(np.bincount(col, minlength=2**_CHUNK_BITS), out=self.starts[k, 1:])
        masks = [0]
        for r in range(1, self.nflip + 1):
            masks += [sum(1 << b for b in bs) for bs in combinations(range(_CHUNK_BITS), r)]
        self.masks = np.array(masks, dtype=np.int64)

    def _build_faiss(self, codes: U8) -> None:
        import faiss

        index = faiss.IndexBinaryMultiHash(self.bits, self.nchunks, _CHUNK_BITS)
        index.nflip = self.nflip
        index.add(codes)
        self.faiss_index = index

    def search(self, queries: U8) -> tuple[I64, I64, I64]:
        """All (query, gid, distance) with distance <= ``max_threshold``, each pair once."""
        q64 = np.ascontiguousarray(queries).view(np.uint64).reshape(-1, self.words)
        parts: list[tuple[I64, I64, I64]] = []
        if self.backend == "faiss":
            parts.append(self._search_faiss(queries))
        else:
            search = self._search_mih if self.backend == "mih" else self._search_brute
            step = 64 if self.backend == "mih" else max(1, 262_144 // max(1, self.segments.total))
            for start in range(0, len(q64), step):
                qi, gid, dist = search(q64[start : start + step])
                parts.append((qi + start, gid, dist))
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        qi, gid, dist = (np.concatenate(a) for a in zip(*parts, strict=True))
        return qi, gid, dist

    def _search_brute(self, q64: U64) -> tuple[I64, I64, I64]:
        x = self.codes[None, :, :] ^ q64[:, None, :]
        dist = _popcount_rows(x.reshape(-1, self.words)).reshape(len(q64), -1)
        qi, gid = np.nonzero(dist <= self.max_threshold)
        return qi.astype(np.int64), gid.astype(np.int64), dist[qi, gid]

    def _search_mih(self, q64: U64) -> tuple[I64, I64, I64]:
        nq, n, m = len(q64), self.segments.total, self.nchunks
        qkeys = q64.view(">u2").reshape(nq, m).astype(np.int64)
        probes = qkeys[:, :, None] ^ self.masks[None, None, :]  # (nq, m, nprobe)
        chunk = np.arange(m)[None, :, None]
        s = self.starts[chunk, probes].ravel().astype(np.int64)
        lens = self.starts[chunk, probes + 1].ravel() - s
        total = int(lens.sum())
        # flat positions into perms: for each probe, chunk*n + s .. chunk*n + e
        base = np.broadcast_to(chunk * n, probes.shape).ravel() + s
        excl = np.cumsum(lens) - lens
        pos = np.repeat(base - excl, lens) + np.arange(total, dtype=np.int64)
        cand = self.perms.ravel()[pos].astype(np.int64)
        qi = np.repeat(np.arange(nq, dtype=np.int64), m * len(self.masks))
        qi = np.repeat(qi, lens)
        dist = _popcount_rows(self.codes[cand] ^ q64[qi])
        keep = dist <= self.max_threshold
        qi, cand, dist = qi[keep], cand[keep], dist[keep]
        _, first = np.unique(qi * n + cand, return_index=True)  # a neighbour shows up in several chunks
        return qi[first], cand[first], dist[first]

    def _search_faiss(self, queries: U8) -> tuple[I64, I64, I64]:  # pragma: no cover
        assert self.faiss_index is not None
        # faiss binary range_search keeps distances strictly below the radius.
        lims, dist, ids = self.faiss_index.range_search(  # type: ignore[attr-defined]
            np.ascontiguousarray(queries), self.max_threshold + 1
        )
        qi = np.repeat(np.arange(len(queries), dtype=np.int64), np.diff(lims.astype(np.int64)))
        return qi, ids.astype(np.int64), dist.astype(np.int64)

    def nbytes(self) -> int:
        size = self.codes.nbytes
        if self.backend == "mih":
            size += self.perms.nbytes + self.starts.nbytes
        return size
