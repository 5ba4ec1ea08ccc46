"""Match file hashes against decrypted hash lists: built once, frozen, queried many times.

ClamAV's engine lifecycle (load -> compile -> scan): ``Matcher.build`` compiles the lists into lean
indexes in the parent process, then ``match_many`` answers for a batch of files. Exact digests use a
sorted ``uint64`` prefix table (``exact.py``); perceptual hashes a Hamming index per family that is
exact at the threshold (``perceptual.py``). Every fact about a hash type (size, default threshold,
quality floor, family) comes from the signal registry. See ``docs/matching.md`` for the rules.

>>> m = Matcher.build([hash_list])  # doctest: +SKIP
>>> m.match_many([result])  # doctest: +SKIP
[[Match(method='exact', hash_type='md5', distance=0, list='demo', entry=Entry(...), ...)]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .. import signals
from ..errors import ConfigError
from ..hashlist.table import HashColumn, HashList
from ..models import HashResult, HashValues, Match
from .exact import ExactTable
from .perceptual import Backend, PerceptualIndex, backends

__all__ = ["Backend", "Matcher", "default_thresholds", "relation"]

I64 = npt.NDArray[np.int64]

#: A query hash computed after transforming the file by X matches a listed picture P when the file is
#: P transformed by the inverse of X. Findings report that relation: "the file is the listed picture,
#: mirrored" rather than the query-side transform. Quarter turns are each other's inverse.
_INVERSE = {"rot90": "rot270", "rot270": "rot90"}
#: Transform names of rows that hash part of a picture (``mask-top``: the frame with its top band masked).
PARTIAL = ("mask-", "region")


def relation(query_transform: str) -> str:
    """How the scanned file relates to the listed picture, given the transform its matching hash used.

    >>> relation("rot90"), relation("mirror"), relation("original")
    ('rot270', 'mirror', 'original')
    """
    return _INVERSE.get(query_transform, query_transform)


def default_thresholds() -> dict[str, int]:
    """Each perceptual type's default threshold, from the signal registry."""
    return {s.name: s.default_threshold for s in signals.all_types() if s.kind == "perceptual"}


def _is_int(value: object) -> bool:
    """An integer setting; ``True`` (YAML's ``yes``) is an ``int`` to Python but never a threshold."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Query:
    """One perceptual query row, tied back to its result and row."""

    result: int
    values: HashValues
    row: int


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
        exact: Mapping[str, ExactTable],
        perceptual: Mapping[str, PerceptualIndex],
        thresholds: Mapping[str, int],
        min_quality: int | None,
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
        min_quality: int | None = None,
        backend: Backend = "auto",
        threads: int | None = None,
    ) -> Matcher:
        """Compile ``lists``. ``thresholds`` override each type's default; ``min_quality`` each type's floor.

        ``backend`` picks the perceptual index (``match/index``): ``auto`` (by list size: brute force for
        small lists, the numba multi-index kernel for large ones), or force ``brute``, ``mih`` or ``native``.
        ``threads``: matching threads of the native index (default: one per six cores).
        """
        merged = default_thresholds()
        for hash_type, value in (thresholds or {}).items():
            signal = signals.find(hash_type)
            if signal is None or signal.kind != "perceptual":
                raise ConfigError(f"{hash_type!r} is not a perceptual hash type with a threshold")
            if not _is_int(value) or not 0 <= value <= signal.max_threshold():
                raise ConfigError(f"{value!r} is not a valid {hash_type} threshold (0 to {signal.max_threshold()})")
            merged[hash_type] = value
        if min_quality is not None and (not _is_int(min_quality) or not 0 <= min_quality <= 100):
            raise ConfigError(f"{min_quality!r} is not a valid minimum quality (0 to 100)")
        if backend not in backends():
            raise ConfigError(f"{backend!r} is not a matcher backend ({', '.join(backends())})")

        exact_parts: dict[str, list[tuple[int, HashColumn]]] = {}
        family_parts: dict[str, list[tuple[int, HashColumn]]] = {}
        unsupported: dict[str, int] = {}
        for li, hash_list in enumerate(lists):
            for hash_type, column in hash_list.columns.items():
                if len(column) == 0:
                    continue
                signal = signals.get(hash_type)
                if signal.kind == "digest":
                    exact_parts.setdefault(hash_type, []).append((li, column))
                elif signal.kind == "perceptual":
                    family_parts.setdefault(signal.index_family, []).append((li, column))
                else:
                    unsupported[hash_type] = unsupported.get(hash_type, 0) + len(column)
        exact = {t: ExactTable(t, parts) for t, parts in exact_parts.items()}
        perceptual = {
            family: PerceptualIndex(parts, signals.get(parts[0][1].hash_type).bits, merged, backend, threads)
            for family, parts in family_parts.items()
        }
        return cls(lists, exact, perceptual, merged, min_quality, unsupported)

    # -- what the workers must compute ------------------------------------------------------------

    def needed_digests(self) -> frozenset[str]:
        """Digest types some loaded list carries."""
        return frozenset(self._exact)

    def needed_perceptual(self) -> frozenset[str]:
        """Perceptual types to compute so every listed perceptual entry can match.

        A listed video frame (``vpdq``) can match a still's ``pdq`` and a sampled frame's: a family is
        queried with every computable type of the family that applies to some media.
        """
        families = set(self._perceptual)
        return frozenset(s.name for s in signals.all_types() if s.kind == "perceptual" and s.index_family in families)

    @property
    def thresholds(self) -> Mapping[str, int]:
        return dict(self._thresholds)

    @property
    def lists(self) -> tuple[HashList, ...]:
        return self._lists

    def quality_floor(self, hash_type: str) -> int | None:
        """Hashes of ``hash_type`` below this quality never match (``--min-quality`` or the type's floor)."""
        floor = signals.get(hash_type).quality_floor
        return floor if self._min_quality is None or floor is None else self._min_quality

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

    def unsupported(self) -> dict[str, int]:
        """Entries per hash type the lists carry but libra cannot compute (they never match)."""
        return dict(self._unsupported)

    # -- matching --------------------------------------------------------------------------------

    def match(self, result: HashResult) -> list[Match]:
        """Matches of one file, exact first, then perceptual by distance; ``[]`` if allow-listed."""
        return self.match_many([result])[0]

    def match_many(self, results: Sequence[HashResult]) -> list[list[Match]]:
        """``match`` for many files, with one index search per hash family for all of them."""
        exact, exact_allowed = self._match_exact(results)
        perceptual = self._match_perceptual(results)
        return [[] if exact_allowed[i] else exact[i] + perceptual[i] for i in range(len(results))]

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
                    digests.append(value)
            for owner, hits in zip(owners, table.lookup(digests), strict=True):
                for seg, row in hits:
                    column = table.segments.columns[seg]
                    if column.allow[row]:
                        allowed[owner] = True
                        continue
                    list_name = self._lists[int(table.segments.lists[seg])].info.name
                    matches[owner].append(Match("exact", hash_type, 0, list_name, column.entry(row)))
        return matches, allowed

    def _queries(self, results: Sequence[HashResult], family: str) -> tuple[list[_Query], npt.NDArray[np.uint8]]:
        """Every query row of ``family`` at or above its quality floor, and the rows packed for the index."""
        queries: list[_Query] = []
        blocks: list[npt.NDArray[np.uint8]] = []
        for i, result in enumerate(results):
            for values in result.perceptual:
                if signals.get(values.hash_type).index_family != family:
                    continue
                floor = self.quality_floor(values.hash_type)
                rows = np.arange(len(values))
                # Region-masked rows of video frames serve the video rule (match/video.py), not a single entry:
                # a partial picture against a whole listed picture is not evidence of a match.
                whole = [i for i, name in enumerate(values.transforms) if not name.startswith(PARTIAL)]
                if len(whole) != len(rows):
                    rows = rows[whole]
                if floor is not None and values.quality is not None:
                    rows = rows[values.quality[rows] >= floor]
                if len(rows) == 0:
                    continue
                queries.extend(_Query(i, values, int(r)) for r in rows)
                blocks.append(values.values[rows])
        packed = np.concatenate(blocks) if blocks else np.empty((0, 0), dtype=np.uint8)
        return queries, np.ascontiguousarray(packed)

    def _match_perceptual(self, results: Sequence[HashResult]) -> list[list[Match]]:
        out: list[list[Match]] = [[] for _ in results]
        for family, index in self._perceptual.items():
            queries, packed = self._queries(results, family)
            if not queries:
                continue
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
                (queries[qi].result, _time(queries[qi]))
                for qi, _, _, seg, row in hits
                if index.segments.columns[seg].allow[row]
            }
            # (result, gid) -> (transformed?, dist, query). The file as it is wins whenever it matches: a
            # closer rotated query only means the list also holds a rotated copy, not that the file is turned.
            best: dict[tuple[int, int], tuple[bool, int, int]] = {}
            for qi, gid, dist, seg, row in hits:
                query = queries[qi]
                if index.segments.columns[seg].allow[row] or (query.result, _time(query)) in suppressed:
                    continue
                key = (query.result, gid)
                rank = (query.values.transforms[query.row] != "original", dist, qi)
                best[key] = min(best.get(key, rank), rank)
            ordered = sorted(best.items(), key=lambda kv: (kv[0][0], kv[1][1], kv[0][1]))
            for (ri, gid), (_, dist, qi) in ordered:
                seg_arr, row_arr = index.segments.locate(np.array([gid], dtype=np.int64))
                seg, row = int(seg_arr[0]), int(row_arr[0])
                column = index.segments.columns[seg]
                query = queries[qi]
                values = query.values
                out[ri].append(
                    Match(
                        method="perceptual",
                        hash_type=column.hash_type,
                        distance=dist,
                        list=self._lists[int(index.segments.lists[seg])].info.name,
                        entry=column.entry(row),
                        frame_time=_time(query),
                        transform=relation(values.transforms[query.row]),
                        quality=None if values.quality is None else int(values.quality[query.row]),
                    )
                )
        return out


def _time(query: _Query) -> float | None:
    times = query.values.times
    return None if times is None else round(float(times[query.row]), 3)
