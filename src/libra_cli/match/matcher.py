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
from ..signals.base import Role
from ..variants import INSET, REGION_PREFIX, is_region
from .candidates import Candidate
from .exact import ExactTable
from .nearband import Band, NearBand
from .perceptual import Backend, PerceptualIndex, backends
from .relation import dihedral_part, relation
from .video import FrameSet
from .video_entries import entry_rows, is_frame, listed_frames, partial_video, video_outcome

__all__ = [
    "REGION_AGREEMENT",
    "REGION_THRESHOLD",
    "UNKNOWN",
    "Backend",
    "Matcher",
    "admissible",
    "default_roles",
    "default_thresholds",
    "relation",
]

I64 = npt.NDArray[np.int64]

#: Transform names of video rows that hash a frame with a band masked (``mask-top``): they serve the video
#: rule (match/video.py), not single entries. Regions of stills (``region:``, ``inset``) are matched here,
#: under the region rule below.
PARTIAL = ("mask-",)
#: ``Match.transform`` when the list's copies of a picture carry no variant names and more than one relation
#: could explain the match (``Matcher._ambiguous``).
UNKNOWN = "unknown"
#: A match through a region (a corner window or an inset, on either side) needs this many different
#: regions of the file agreeing on the same listed picture, each within the type's threshold ...
REGION_AGREEMENT = 2
#: ... or one region pair within this many bits. docs/matching.md has the measurements behind both.
REGION_THRESHOLD = 24


def admissible(query_variant: str, list_variant: str | None) -> bool:
    """Whether a file's hash and a listed hash may be compared at all: parts meet their like.

    A corner window meets the same window of the listed picture (a mark in another corner left both
    alike); a picture found inside the file (``inset``) meets the listed picture's whole-picture hashes;
    the whole file meets a listed window too (the file is a corner of the listed picture). Other pairs
    (one window against another, a window against a whole picture) would only add chances to meet by
    accident, so they are not searched for.

    >>> admissible("region:tl75", "region:tl75"), admissible("region:tl75", "region:br75")
    (True, False)
    >>> admissible("inset", "crop5-center"), admissible("region:tl75", "original")
    (True, False)
    >>> admissible("original", "region:tl75")
    True
    """
    query_part, list_part = is_region(query_variant), is_region(list_variant)
    if not query_part:
        return True
    if query_variant == INSET:
        return not list_part
    return query_variant == list_variant


def default_roles() -> dict[str, Role]:
    """Each signal type's role (``match`` or ``corroborate``), from the signal registry."""
    return {s.name: s.role for s in signals.all_types()}


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
    listed entry's hash type. A type whose role is ``corroborate`` (pHash, dHash) never makes a
    finding: its matches are reported only beside a ``match``-role match of the same listed item. A
    match through a region needs several regions to agree (``REGION_AGREEMENT``) or a tighter
    distance (``REGION_THRESHOLD``). Allow-list entries (known false positives) suppress matches; see
    ``docs/matching.md`` for every rule.
    """

    __slots__ = (
        "_exact", "_lists", "_min_quality", "_perceptual", "_roles", "_thresholds", "_unsupported", "_video_lists",
    )  # fmt: skip

    def __init__(
        self,
        lists: Sequence[HashList],
        exact: Mapping[str, ExactTable],
        perceptual: Mapping[str, PerceptualIndex],
        thresholds: Mapping[str, int],
        min_quality: int | None,
        unsupported: Mapping[str, int],
        roles: Mapping[str, Role] | None = None,
    ) -> None:
        self._lists = tuple(lists)
        self._exact = dict(exact)
        self._perceptual = dict(perceptual)
        self._thresholds = dict(thresholds)
        self._min_quality = min_quality
        self._unsupported = dict(unsupported)
        #: Whether some list holds videos as timelines (frame rows with times): then the masked frames of a
        #: scanned video are searched too, to find candidates for the video rule.
        self._video_lists = any(c.times is not None for hl in self._lists for c in hl.columns.values())
        self._roles = {**default_roles(), **(roles or {})}

    @classmethod
    def build(
        cls,
        lists: Sequence[HashList],
        *,
        thresholds: Mapping[str, int] | None = None,
        min_quality: int | None = None,
        backend: Backend = "auto",
        threads: int | None = None,
        roles: Mapping[str, Role] | None = None,
    ) -> Matcher:
        """Compile ``lists``. ``thresholds`` override each type's default; ``min_quality`` each type's floor;
        ``roles`` each type's role (``{"phash": "match"}`` lets pHash make findings alone: see
        docs/matching.md for what that costs in false matches).

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
        for hash_type, role in (roles or {}).items():
            if signals.find(hash_type) is None or role not in ("match", "corroborate"):
                raise ConfigError(f"{hash_type}={role!r} is not a hash type and role (match or corroborate)")

        exact_parts: dict[str, list[tuple[int, HashColumn]]] = {}
        family_parts: dict[str, list[tuple[int, HashColumn]]] = {}
        unsupported: dict[str, int] = {}
        for li, hash_list in enumerate(lists):
            for hash_type, column in hash_list.columns.items():
                if len(column) == 0:
                    continue
                signal = signals.get(hash_type)
                if signal.role == "context":  # suspected-only signals (scene windows) never match
                    continue
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
        return cls(lists, exact, perceptual, merged, min_quality, unsupported, roles)

    # -- what the workers must compute ------------------------------------------------------------

    def needed_digests(self) -> frozenset[str]:
        """Digest types some loaded list carries."""
        return frozenset(self._exact)

    def needed_perceptual(self) -> frozenset[str]:
        """Perceptual types to compute so every listed perceptual entry that can make a finding can match.

        A listed video frame (``vpdq``) can match a still's ``pdq`` and a sampled frame's: a family is
        queried with every computable type of the family that applies to some media. Types that only
        corroborate (pHash, dHash) are left out: they never change whether a file is a finding, so they
        are computed only when asked for (``corroborating_types``, ``--hash-set``).
        """
        families = set(self._perceptual)
        return frozenset(
            s.name
            for s in signals.all_types()
            if s.kind == "perceptual" and s.index_family in families and self._roles.get(s.name) == "match"
        )

    def corroborating_types(self) -> frozenset[str]:
        """Perceptual types the lists carry that only corroborate (computed only when asked for)."""
        families = set(self._perceptual)
        return frozenset(
            s.name
            for s in signals.all_types()
            if s.kind == "perceptual" and s.index_family in families and self._roles.get(s.name) != "match"
        )

    @property
    def thresholds(self) -> Mapping[str, int]:
        return dict(self._thresholds)

    @property
    def roles(self) -> Mapping[str, Role]:
        return dict(self._roles)

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

    # -- a cheap superset, for many stored values (rematch) ----------------------------------------

    def searches(self, hash_type: str) -> bool:
        """Whether values of ``hash_type`` are looked up at all (an exact table or a perceptual family)."""
        signal = signals.find(hash_type)
        if signal is None:
            return False
        if signal.kind == "digest":
            return hash_type in self._exact
        return signal.kind == "perceptual" and signal.index_family in self._perceptual

    def may_match(self, hash_type: str, values: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
        """Per row of ``values`` (one hash type): whether it meets some listed value at all.

        A superset of what ``match_many`` reports for files holding these values (no rule, allow entry or
        quality floor is applied): a caller with many stored files (``state/bulk.py``) sends only the
        files with a row marked here through ``match_many``, and gets the same findings.
        """
        out = np.zeros(len(values), dtype=np.bool_)
        if not len(values) or not self.searches(hash_type):
            return out
        signal = signals.get(hash_type)
        if signal.kind == "digest":
            table = self._exact[hash_type]
            keys = table._prefix(np.ascontiguousarray(values))
            out |= np.searchsorted(table.keys, keys, side="left") < np.searchsorted(table.keys, keys, side="right")
            return out
        qi, _, _ = self._perceptual[signal.index_family].search(np.ascontiguousarray(values))
        out[qi] = True
        return out

    # -- matching --------------------------------------------------------------------------------

    def match(self, result: HashResult) -> list[Match]:
        """Matches of one file, exact first, then perceptual by distance; ``[]`` if allow-listed."""
        return self.match_many([result])[0]

    def match_many(self, results: Sequence[HashResult], near: list[list[Candidate]] | None = None) -> list[list[Match]]:
        """``match`` for many files, with one index search per hash family for all of them.

        ``near`` (one list per result), when given, also receives near-misses the video rule turned down
        (``partial-video`` candidates, for the suspected signals); the matches are the same either way.
        """
        exact, exact_allowed = self._match_exact(results)
        perceptual = self._match_perceptual(results, near)
        return [[] if exact_allowed[i] else self._corroborated(exact[i] + perceptual[i]) for i in range(len(results))]

    def _corroborated(self, matches: list[Match]) -> list[Match]:
        """The matches, without those of ``corroborate`` types that no ``match``-type match of the same
        listed item (same list, same entry id) stands beside."""
        if all(self._roles.get(m.hash_type) == "match" for m in matches):
            return matches
        anchors = {(m.list, m.entry.id) for m in matches if self._roles.get(m.hash_type) == "match"}
        return [
            m
            for m in matches
            if self._roles.get(m.hash_type) == "match" or (m.entry.id is not None and (m.list, m.entry.id) in anchors)
        ]

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
                    entry = column.entry(row)
                    matches[owner].append(Match("exact", hash_type, 0, list_name, entry, list_variant=entry.variant))
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
                # a partial picture against a whole listed picture is not evidence of a match. They are
                # searched only when lists hold videos, to find the listed videos a watermark hides.
                if not self._video_lists:
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

    def near_band(self, band: Band) -> NearBand | None:
        """Near-band candidates against the PDQ family's entries (``None`` when no list holds PDQ)."""
        index = self._perceptual.get(signals.get("pdq").index_family)
        if index is None:
            return None
        return NearBand(index, [hl.info.name for hl in self._lists], band, self.quality_floor("pdq"))

    def _match_perceptual(
        self, results: Sequence[HashResult], near: list[list[Candidate]] | None = None
    ) -> list[list[Match]]:
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
            # (result, gid) -> (through a region?, turned or mirrored?, dist, query). The file as it is
            # wins whenever it matches: a closer rotated query only means the list also holds a rotated
            # copy, not that the file is turned; and a whole-picture match explains more than a region's.
            best: dict[tuple[int, int], tuple[bool, bool, int, int]] = {}
            # (result, segment, first row of a listed video) -> the file's frames: for the video rule.
            videos: dict[tuple[int, int, int], HashValues] = {}
            for qi, gid, dist, seg, row in hits:
                query = queries[qi]
                column = index.segments.columns[seg]
                if column.allow[row] or (query.result, _time(query)) in suppressed:
                    continue
                if query.values.times is not None and is_frame(column, row):
                    # A video against a listed video: the timelines decide (below), never one frame.
                    videos.setdefault((query.result, seg, entry_rows(column, row)[0]), query.values)
                    continue
                query_variant = query.values.transforms[query.row]
                list_variant = column.variant(row)
                if query_variant.startswith(PARTIAL) or (list_variant or "").startswith(PARTIAL):
                    continue  # a masked frame serves the video rule only
                if not admissible(query_variant, list_variant):
                    continue
                regional = is_region(query_variant) or is_region(list_variant)
                key = (query.result, gid)
                rank = (regional, dihedral_part(query_variant) != "original", dist, qi)
                best[key] = min(best.get(key, rank), rank)
            found = self._region_rule(best, queries, index)
            ordered = sorted(found, key=lambda kv: (kv[0][0], kv[1][2], kv[0][1]))
            unknown = self._ambiguous(ordered, queries, index)
            for (ri, gid), (_, _, dist, qi) in ordered:
                seg_arr, row_arr = index.segments.locate(np.array([gid], dtype=np.int64))
                seg, row = int(seg_arr[0]), int(row_arr[0])
                column = index.segments.columns[seg]
                query = queries[qi]
                values = query.values
                query_variant = values.transforms[query.row]
                entry = column.entry(row)
                out[ri].append(
                    Match(
                        method="perceptual",
                        hash_type=column.hash_type,
                        distance=dist,
                        list=self._lists[int(index.segments.lists[seg])].info.name,
                        entry=entry,
                        frame_time=_time(query),
                        transform=UNKNOWN if (ri, gid) in unknown else relation(query_variant, entry.variant),
                        quality=None if values.quality is None else int(values.quality[query.row]),
                        query_variant=query_variant,
                        list_variant=entry.variant,
                    )
                )
            self._match_videos(videos, index, out, near)
        return out

    def _match_videos(
        self,
        videos: Mapping[tuple[int, int, int], HashValues],
        index: PerceptualIndex,
        out: list[list[Match]],
        near: list[list[Candidate]] | None = None,
    ) -> None:
        """Compare each (file, listed video) pair the frame index brought together by the video rule; pairs
        it turns down with some frames aligned go to ``near`` (when given) as ``partial-video`` candidates."""
        query_frames: dict[int, FrameSet] = {}
        listed: dict[tuple[int, int], FrameSet] = {}
        for (ri, seg, low), values in sorted(videos.items(), key=lambda kv: kv[0]):
            column = index.segments.columns[seg]
            if (seg, low) not in listed:
                listed[(seg, low)] = listed_frames(column, *entry_rows(column, low))
            if id(values) not in query_frames:
                query_frames[id(values)] = FrameSet.from_hash_values(values)
            list_name = self._lists[int(index.segments.lists[seg])].info.name
            match, compared = video_outcome(query_frames[id(values)], listed[(seg, low)], column.entry(low), list_name)
            if match is not None:
                out[ri].append(match)
            elif near is not None and compared is not None:
                candidate = partial_video(compared, column.entry(low), list_name)
                if candidate is not None:
                    near[ri].append(candidate)

    def _ambiguous(
        self,
        found: Sequence[tuple[tuple[int, int], tuple[bool, bool, int, int]]],
        queries: Sequence[_Query],
        index: PerceptualIndex,
    ) -> set[tuple[int, int]]:
        """The (result, entry) pairs whose relation to the listed picture cannot be told.

        A list that records no variants may still hold turned or mirrored copies of a picture under one id
        (``libra hash --robust`` output of older versions did): a row is then the picture as it is or one of
        its turns, and nothing says which. When rows of one listed item (same list, id and frame) met the
        file through different relations, a turned copy could explain the match, so none is claimed.
        """
        relations: dict[tuple[object, ...], set[str]] = {}
        items: dict[tuple[int, int], tuple[object, ...]] = {}
        for (ri, gid), (_, _, _, qi) in found:
            seg_arr, row_arr = index.segments.locate(np.array([gid], dtype=np.int64))
            seg, row = int(seg_arr[0]), int(row_arr[0])
            column = index.segments.columns[seg]
            ident = column.ids[row]
            if column.variant(row) is not None or ident is None:
                continue
            query = queries[qi]
            item = (ri, _time(query), int(index.segments.lists[seg]), column.hash_type, ident)
            items[(ri, gid)] = item
            relations.setdefault(item, set()).add(relation(query.values.transforms[query.row]))
        return {key for key, item in items.items() if len(relations[item]) > 1}

    @staticmethod
    def _region_rule(
        best: Mapping[tuple[int, int], tuple[bool, bool, int, int]],
        queries: Sequence[_Query],
        index: PerceptualIndex,
    ) -> list[tuple[tuple[int, int], tuple[bool, bool, int, int]]]:
        """The (result, entry) pairs that stand: every whole-picture match, and region matches of a listed
        item that ``REGION_AGREEMENT`` different regions of the same file (and frame) found, or one
        found within ``REGION_THRESHOLD``.

        A listed item is its (list, entry id); entries without an id stand alone.
        """
        agreeing: dict[tuple[object, ...], set[str]] = {}
        items: dict[tuple[int, int], tuple[object, ...]] = {}
        for (ri, gid), (regional, _, _, qi) in best.items():
            if not regional:
                continue
            seg_arr, row_arr = index.segments.locate(np.array([gid], dtype=np.int64))
            seg, row = int(seg_arr[0]), int(row_arr[0])
            column = index.segments.columns[seg]
            ident = column.ids[row]
            query = queries[qi]
            item = (ri, _time(query), int(index.segments.lists[seg]), ident if ident is not None else ("gid", gid))
            items[(ri, gid)] = item
            variant = query.values.transforms[query.row]
            if variant.startswith(REGION_PREFIX) and variant == column.variant(row):
                # Only a window meeting the same window of the listed picture is a region of the file that
                # can agree with another; an inset, or the whole file against a listed window, stands alone.
                agreeing.setdefault(item, set()).add(variant)
        kept = []
        for key, rank in best.items():
            regional, _, dist, _ = rank
            if regional and dist > REGION_THRESHOLD and len(agreeing.get(items[key], ())) < REGION_AGREEMENT:
                continue
            kept.append((key, rank))
        return kept


def _time(query: _Query) -> float | None:
    times = query.values.times
    return None if times is None else round(float(times[query.row]), 3)
