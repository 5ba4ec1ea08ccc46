"""Match file hashes against decrypted hash lists: built once, frozen, queried many times.

ClamAV's engine lifecycle (load -> compile -> scan): ``Matcher.build`` compiles the lists into lean
indexes in the parent process, then ``match`` / ``match_many`` answer per file. Exact digests use a
sorted ``uint64`` prefix array (12 bytes per entry, no Python object per entry); perceptual hashes
use multi-index hashing (MIH) over 16-bit chunks, exact at the threshold by the pigeonhole
principle, with brute force for small lists. See ``docs/matching.md`` for the rules and figures.

>>> m = Matcher.build([hash_list])  # doctest: +SKIP
>>> m.match(result)  # doctest: +SKIP
[Match(method='exact', hash_type='md5', distance=0, list='demo', entry=Entry(...), ...)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import numpy.typing as npt

from .errors import ConfigError
from .hashlist.table import HashColumn, HashList
from .models import DIGEST_SIZES, PERCEPTUAL_BITS, HashResult, Match, PerceptualHash

__all__ = ["DEFAULT_MIN_QUALITY", "DEFAULT_THRESHOLDS", "FAMILIES", "Backend", "Matcher"]

#: Hamming thresholds (inclusive). PDQ's published default; 6 for the 64-bit hashes keeps random
#: false matches near 2e-5 per query against a 5M-entry list (8 would be 1.4e-3, see docs/matching.md).
DEFAULT_THRESHOLDS: Mapping[str, int] = {"pdq": 31, "vpdq": 31, "phash": 6, "dhash": 6}
#: PDQ's published quality floor: below it the hash of a flat or tiny image is noise.
DEFAULT_MIN_QUALITY = 50
#: Hash types that share one index: a PDQ hash of a still and of a video frame are the same kind of value.
FAMILIES: Mapping[str, str] = {"pdq": "pdq", "vpdq": "pdq", "phash": "phash", "dhash": "dhash"}
#: Below this many entries brute force beats building an index (measured by bench/bench_matcher.py).
BRUTE_FORCE_MAX = 1_000

Backend = Literal["auto", "brute", "mih", "faiss"]

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


class _Segments:
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


class _ExactTable:
    """One digest type across all lists: sorted first-8-byte keys plus the permutation back to rows.

    A dict of ``bytes -> row`` costs ~100 bytes per entry; this costs 12 (16 above 4G rows) and
    answers a batch of look-ups with one ``searchsorted``. Full digests are checked on the few hits.
    """

    __slots__ = ("keys", "nbytes", "order", "segments")

    def __init__(self, hash_type: str, parts: Sequence[tuple[int, HashColumn]]) -> None:
        self.nbytes = DIGEST_SIZES[hash_type]
        self.segments = _Segments(parts)
        keys = np.concatenate([self._prefix(c.values) for _, c in parts])
        order = np.argsort(keys, kind="stable")
        self.order = order.astype(np.uint32) if len(keys) < 2**32 else order
        self.keys = keys[order]

    @staticmethod
    def _prefix(values: U8) -> U64:
        return np.ascontiguousarray(values[:, :8]).view(">u8").ravel().astype(np.uint64)

    def lookup(self, digests: Sequence[bytes]) -> list[list[tuple[int, int]]]:
        """For each digest, the (segment, row) pairs whose full value equals it."""
        if not digests:
            return []
        q = self._prefix(np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), self.nbytes))
        lo = np.searchsorted(self.keys, q, side="left")
        hi = np.searchsorted(self.keys, q, side="right")
        out: list[list[tuple[int, int]]] = [[] for _ in digests]
        for qi in np.flatnonzero(hi > lo).tolist():
            gids = self.order[lo[qi] : hi[qi]].astype(np.int64)
            segs, rows = self.segments.locate(gids)
            for seg, row in zip(segs.tolist(), rows.tolist(), strict=True):
                if self.segments.columns[seg].values[row].tobytes() == digests[qi]:
                    out[qi].append((seg, row))
        return out


class _PerceptualIndex:
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
        self.segments = _Segments(parts)
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

    def _search_faiss(self, queries: U8) -> tuple[I64, I64, I64]:
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


@dataclass(frozen=True)
class _Query:
    """One perceptual query hash, tied back to the result it came from."""

    result: int
    hash: PerceptualHash


class Matcher:
    """Hash lists compiled for matching. Build once with ``Matcher.build``; then read-only.

    Exact digests match by equality, perceptual hashes by Hamming distance ``<=`` the threshold of the
    listed entry's hash type. Allow-list entries (known false positives) suppress matches; see
    ``docs/matching.md`` for the exact rule.
    """

    __slots__ = ("_exact", "_lists", "_min_quality", "_perceptual", "_thresholds", "_unsupported")

    def __init__(
        self,
        lists: Sequence[HashList],
        exact: Mapping[str, _ExactTable],
        perceptual: Mapping[str, _PerceptualIndex],
        thresholds: Mapping[str, int],
        min_quality: int,
        unsupported: Mapping[str, int],
    ) -> None:
        self._lists = tuple(lists)
        self._exact = dict(exact)
        self._perceptual = dict(perceptual)
        self._thresholds = dict(thresholds)
        self._min_quality = min_quality
        self._unsupported = dict(unsupported)

    @classmethod
    def build(
        cls,
        lists: Sequence[HashList],
        *,
        thresholds: Mapping[str, int] | None = None,
        min_quality: int = DEFAULT_MIN_QUALITY,
        backend: Backend = "auto",
    ) -> Matcher:
        """Compile ``lists``. ``thresholds`` override ``DEFAULT_THRESHOLDS`` per hash type.

        ``backend`` picks the perceptual index: ``auto`` (brute force up to ``BRUTE_FORCE_MAX``
        entries, else MIH), or force ``brute``, ``mih`` or ``faiss`` (IndexBinaryMultiHash).
        """
        merged = dict(DEFAULT_THRESHOLDS)
        for hash_type, value in (thresholds or {}).items():
            if hash_type not in PERCEPTUAL_BITS:
                raise ConfigError(f"{hash_type!r} is not a perceptual hash type with a threshold")
            if not _is_int(value) or not 0 <= value < PERCEPTUAL_BITS[hash_type] // 2:
                raise ConfigError(
                    f"{value!r} is not a valid {hash_type} threshold (0 to {PERCEPTUAL_BITS[hash_type] // 2 - 1})"
                )
            merged[hash_type] = value
        if not _is_int(min_quality) or not 0 <= min_quality <= 100:
            raise ConfigError(f"{min_quality!r} is not a valid minimum quality (0 to 100)")
        if backend not in ("auto", "brute", "mih", "faiss"):
            raise ConfigError(f"{backend!r} is not a matcher backend (auto, brute, mih, faiss)")

        exact_parts: dict[str, list[tuple[int, HashColumn]]] = {}
        family_parts: dict[str, list[tuple[int, HashColumn]]] = {}
        unsupported: dict[str, int] = {}
        for li, hash_list in enumerate(lists):
            for hash_type, column in hash_list.columns.items():
                if len(column) == 0:
                    continue
                if hash_type in DIGEST_SIZES:
                    exact_parts.setdefault(hash_type, []).append((li, column))
                elif hash_type in FAMILIES:
                    family_parts.setdefault(FAMILIES[hash_type], []).append((li, column))
                else:
                    unsupported[hash_type] = unsupported.get(hash_type, 0) + len(column)
        exact = {t: _ExactTable(t, parts) for t, parts in exact_parts.items()}
        perceptual = {
            f: _PerceptualIndex(parts, PERCEPTUAL_BITS[f], merged, backend) for f, parts in family_parts.items()
        }
        return cls(lists, exact, perceptual, merged, min_quality, unsupported)

    # -- what the workers must compute ------------------------------------------------------------

    def needed_digests(self) -> frozenset[str]:
        """Digest types some loaded list carries: the worker computes these (plus what findings report)."""
        return frozenset(self._exact)

    def needed_perceptual(self) -> frozenset[str]:
        """Perceptual types some list carries; ``pdq`` also when only ``vpdq`` is listed, because a
        still image's PDQ can match a listed video frame."""
        types = {c.hash_type for idx in self._perceptual.values() for c in idx.segments.columns}
        if "vpdq" in types:
            types.add("pdq")
        return frozenset(types)

    @property
    def thresholds(self) -> Mapping[str, int]:
        return dict(self._thresholds)

    @property
    def min_quality(self) -> int:
        return self._min_quality

    def stats(self) -> dict[str, object]:
        """Entries, backends and index memory: for ``hashlist info``, logs and the benchmark."""
        return {
            "exact": {t: tab.segments.total for t, tab in self._exact.items()},
            "perceptual": {
                f: {"entries": idx.segments.total, "backend": idx.backend, "bytes": idx.nbytes()}
                for f, idx in self._perceptual.items()
            },
            "exact_bytes": sum(t.keys.nbytes + t.order.nbytes for t in self._exact.values()),
            "unsupported": dict(self._unsupported),
        }

    # -- matching --------------------------------------------------------------------------------

    def match(self, result: HashResult) -> list[Match]:
        """Matches of one file, exact first, then perceptual by distance; ``[]`` if allow-listed."""
        return self.match_many([result])[0]

    def match_many(self, results: Sequence[HashResult]) -> list[list[Match]]:
        """``match`` for many files, with one index search per hash family for all of them."""
        exact, exact_allowed = self._match_exact(results)
        perceptual = self._match_perceptual(results)
        out: list[list[Match]] = []
        for i in range(len(results)):
            out.append([] if exact_allowed[i] else exact[i] + perceptual[i])
        return out

    def _match_exact(self, results: Sequence[HashResult]) -> tuple[list[list[Match]], list[bool]]:
        matches: list[list[Match]] = [[] for _ in results]
        allowed = [False] * len(results)
        for hash_type, table in self._exact.items():
            owners: list[int] = []
            digests: list[bytes] = []
            for i, result in enumerate(results):
                value = result.digests.get(hash_type)
                if value is not None:
                    owners.append(i)
                    digests.append(_parse_hex(value, hash_type, table.nbytes))
            for owner, hits in zip(owners, table.lookup(digests), strict=True):
                for seg, row in hits:
                    column = table.segments.columns[seg]
                    if column.allow[row]:
                        allowed[owner] = True
                        continue
                    list_name = self._lists[int(table.segments.lists[seg])].info.name
                    matches[owner].append(Match("exact", hash_type, 0, list_name, column.entry(row)))
        return matches, allowed

    def _match_perceptual(self, results: Sequence[HashResult]) -> list[list[Match]]:
        out: list[list[Match]] = [[] for _ in results]
        for family, index in self._perceptual.items():
            queries = list(self._queries(results, family))
            if not queries:
                continue
            nbytes = index.bits // 8
            packed = np.frombuffer(
                b"".join(_parse_hex(q.hash.value, q.hash.hash_type, nbytes) for q in queries), dtype=np.uint8
            ).reshape(len(queries), nbytes)
            qis, gids, dists = index.search(packed)
            segs, rows = index.segments.locate(gids)
            ok = dists <= index.seg_threshold[segs]
            hits = list(
                zip(
                    qis[ok].tolist(),
                    gids[ok].tolist(),
                    dists[ok].tolist(),
                    segs[ok].tolist(),
                    rows[ok].tolist(),
                    strict=True,
                )
            )
            # (result, frame) pairs that touched an allow entry: their matches in this family go.
            suppressed = {
                (queries[qi].result, queries[qi].hash.frame_time)
                for qi, _, _, seg, row in hits
                if index.segments.columns[seg].allow[row]
            }
            best: dict[tuple[int, int], tuple[int, int]] = {}  # (result, gid) -> (dist, query)
            for qi, gid, dist, seg, row in hits:
                query = queries[qi]
                if index.segments.columns[seg].allow[row] or (query.result, query.hash.frame_time) in suppressed:
                    continue
                # smallest distance wins; ties go to the earlier query (the worker lists "original" first)
                key = (query.result, gid)
                best[key] = min(best.get(key, (dist, qi)), (dist, qi))
            found = sorted((ri, dist, gid, qi) for (ri, gid), (dist, qi) in best.items())
            for ri, dist, gid, qi in found:
                seg_arr, row_arr = index.segments.locate(np.array([gid], dtype=np.int64))
                seg, row = int(seg_arr[0]), int(row_arr[0])
                column = index.segments.columns[seg]
                query = queries[qi].hash
                out[ri].append(
                    Match(
                        method="perceptual",
                        hash_type=column.hash_type,
                        distance=dist,
                        list=self._lists[int(index.segments.lists[seg])].info.name,
                        entry=column.entry(row),
                        frame_time=query.frame_time,
                        variant=query.variant,
                        quality=query.quality,
                    )
                )
        return out

    def _queries(self, results: Sequence[HashResult], family: str) -> Iterable[_Query]:
        for i, result in enumerate(results):
            for ph in result.perceptual:
                if FAMILIES.get(ph.hash_type) != family:
                    continue
                if ph.quality is not None and ph.quality < self._min_quality:
                    continue
                yield _Query(i, ph)


def _is_int(value: object) -> bool:
    """An integer setting; ``True`` (YAML's ``yes``) is an ``int`` to Python but never a threshold."""
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_hex(value: str, hash_type: str, nbytes: int) -> bytes:
    """Decode a worker-supplied hex value, naming it if it is malformed (a bug, not a user error)."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != nbytes:
        raise ValueError(f"{value!r} is not a valid {hash_type} value ({nbytes * 2} hex digits)")
    return raw
