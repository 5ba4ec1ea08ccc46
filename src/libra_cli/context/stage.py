"""The context stage: unmatched media that share a group with a confirmed match become *suspected*.

It sees every result after the match stage and keeps, per file, only what the end of the run needs:
the reference (location and identity), its media type, its digests and one PDQ hash (32 bytes) —
never media. At the end of the run every group (folder, account, archive, upload batch) that holds a
confirmed match turns its unmatched media into suspected findings, scored by how close each looks to
the group's matches (PDQ distance: other framings of the same scene are near, unrelated photos far),
so reviewers see a series first. A suspected file is never a match (``docs/suspected.md``).

Memory: about 400 bytes per unmatched media file, up to ``max_files`` (then files in groups without a
match yet are no longer kept, and the run says so in its log).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..match.candidates import Candidate
from ..models import Finding, HashResult, Match, MediaRef, Member
from ..textsafe import location_text, log_value
from .groups import DEFAULT_GROUP_BY, AccountPattern, Group, groups_of
from .keywords import KeywordList
from .scene import Rows, scene_rows
from .score import Scored, score
from .signals import combine, explain

log = logging.getLogger("libra.scan")

#: How a group reads in a reason and a cluster line.
_KIND_ORDER = {"archive": 0, "account": 1, "folder": 2, "batch": 3}


@dataclass(frozen=True)
class ContextOptions:
    """How the context stage groups files (settings ``group_by``, ``account_pattern``, ``batch_window``)."""

    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    account_patterns: tuple[AccountPattern, ...] = ()
    batch_window: float = 600.0  #: seconds either side of a match's mtime (``batch`` grouping)
    pdq_threshold: int = 31  #: the match threshold: distances just above it score highest
    min_quality: int = 50  #: PDQ hashes below this quality are not compared (flat pictures look alike)
    max_files: int = 1_000_000  #: unmatched media kept at most (memory bound)
    min_score: float = 0.0  #: suspected files scoring below this are not reported
    keywords: tuple[KeywordList, ...] = ()  #: keyword lists matched against file and folder names


@dataclass(frozen=True)
class Cluster:
    """One group with confirmed matches and the suspected files counted under it."""

    kind: str
    key: str
    confirmed: int
    suspected: int
    top_score: float

    def record(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "key": self.key,
            "confirmed": self.confirmed,
            "suspected": self.suspected,
            "top_score": self.top_score,
        }

    def line(self) -> str:
        """``account alice: 3 confirmed, 41 suspected (top score 0.93)``."""
        return (
            f"{self.kind} {self.key}: {self.confirmed} confirmed, {self.suspected} suspected "
            f"(top score {self.top_score:.2f})"
        )


@dataclass
class _Kept:
    """An unmatched media file as the stage keeps it."""

    ref: MediaRef
    media_type: str | None
    digests: Mapping[str, bytes]
    pdq: bytes | None
    groups: tuple[Group, ...]
    candidates: tuple[Candidate, ...] = ()  #: near band, partial video (``match/candidates.py``)
    keywords: tuple[tuple[str, str], ...] = ()  #: (keyword list, ``file``/``folder``) hits
    member: Member | None = None  #: set for an archive member (its location is never opened as a path)
    scene: Rows | None = None  #: scene windows (``hashers/scene.py``), with ``--suspected`` only


@dataclass
class _Confirmed:
    """A matched file: its PDQ rows (every variant that passed the quality floor) and what it matched."""

    location: str
    mtime_ns: int | None
    pdq: npt.NDArray[np.uint8] | None
    entry: str
    groups: tuple[Group, ...]
    scene: Rows | None = None


@dataclass
class ContextResult:
    """What the end of the run yields: suspected findings (best first) and their clusters."""

    findings: list[Finding] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)


def _pdq_rows(result: HashResult, floor: int, original_only: bool) -> npt.NDArray[np.uint8] | None:
    for values in result.perceptual:
        if values.hash_type != "pdq" or not len(values):
            continue
        keep = np.ones(len(values), dtype=bool)
        if values.quality is not None:
            keep &= values.quality >= floor
        if original_only:
            keep &= np.array([t == "original" for t in values.transforms], dtype=bool)
        if values.times is not None:  # a video: frames are not framings of one picture
            return None
        rows = values.values[keep]
        return rows if len(rows) else None
    return None


class ContextStage:
    """Sees every outcome of the match stage; at the end, yields suspected findings and clusters."""

    def __init__(self, options: ContextOptions | None = None) -> None:
        self.options = options or ContextOptions()
        self._by = frozenset(self.options.group_by)
        self._kept: list[_Kept] = []
        self._confirmed: list[_Confirmed] = []
        self._matched_groups: set[Group] = set()
        self._names: dict[str, str] = {}  # one string per folder or account, however many files share it
        self._full = False

    def _intern(self, groups: Iterable[Group]) -> tuple[Group, ...]:
        return tuple((kind, self._names.setdefault(key, key)) for kind, key in groups)

    def see(
        self,
        result: HashResult,
        matches: Sequence[Match],
        archive: str | None = None,
        candidates: Sequence[Candidate] = (),
    ) -> None:
        """One result of the match stage. Only media count; files that could not be read are left out.

        ``candidates`` are the matcher's near-misses of this file (near band, partial video).
        """
        if result.fatal or not result.media_type:
            return
        groups = self._intern(groups_of(result.ref.uri, self._by, self.options.account_patterns, archive))
        if matches:
            top = matches[0]
            self._confirmed.append(
                _Confirmed(
                    result.ref.uri,
                    result.ref.mtime_ns,
                    _pdq_rows(result, self.options.min_quality, original_only=False),
                    top.entry.id or top.entry.label or top.list,
                    groups,
                    scene_rows(result),
                )
            )
            self._matched_groups.update(groups)
            return
        hits = tuple((kl.name, where) for kl in self.options.keywords for where in kl.hits(result.ref.uri))
        own = bool(candidates or hits)  # suspected on its own signals: kept past the memory bound too
        if len(self._kept) >= self.options.max_files and not own and not (self._matched_groups & set(groups)):
            if not self._full:
                self._full = True
                log.warning(
                    "context incomplete reason=%s",
                    log_value(f"more than {self.options.max_files} unmatched media files; later ones are "
                              "kept only in groups that already hold a match"),
                )  # fmt: skip
            return
        rows = _pdq_rows(result, self.options.min_quality, original_only=True)
        pdq = None if rows is None else bytes(rows[0])
        scene = scene_rows(result)
        self._kept.append(
            _Kept(result.ref, result.media_type, dict(result.digests), pdq, groups, tuple(candidates), hits,
                  result.member, scene)
        )  # fmt: skip

    def finish(self) -> ContextResult:
        """Suspected findings, best score first, and one cluster per group with a confirmed match."""
        if not self._confirmed and not any(k.candidates or k.keywords for k in self._kept):
            return ContextResult()
        batches = self._batches()
        members: dict[Group, list[_Confirmed]] = {}
        for confirmed in self._confirmed:
            for group in confirmed.groups:
                members.setdefault(group, []).append(confirmed)
        for group, confirmed_in in batches.items():
            members[group] = confirmed_in
        scored: list[tuple[Scored, _Kept, Group | None]] = []
        for kept in self._kept:
            groups = [g for g in kept.groups if g in members]
            groups += [g for g in self._batch_of(kept.ref.mtime_ns, batches)]
            if not groups and not kept.candidates and not kept.keywords:
                continue
            groups.sort(key=lambda g: _KIND_ORDER[g[0]])
            result = self._score(kept, groups, members)
            if result.score >= self.options.min_score:
                scored.append((result, kept, groups[0] if groups else None))
        scored.sort(key=lambda s: (-s[0].score, s[1].ref.uri))
        findings = [
            Finding(
                kept.ref,
                kept.media_type,
                kept.digests,
                (),
                suspected={**result.record(), "cluster": None if cluster is None else _cluster_name(*cluster)},
                member=kept.member,
            )
            for result, kept, cluster in scored
        ]
        return ContextResult(findings, self._clusters(members, scored))

    def _score(self, kept: _Kept, groups: Sequence[Group], members: Mapping[Group, list[_Confirmed]]) -> Scored:
        """Co-location (when the file shares a group with a match) joined with its own signals."""
        values: list[float] = []
        reasons: list[str] = []
        signals: list[str] = []
        distance = None
        if groups:
            nearby = [c for g in groups for c in members[g]]
            sizes = {g: len(members[g]) for g in groups}
            colocated = score(kept.pdq, groups, nearby, sizes, self.options, kept.scene)
            values.append(colocated.score)
            reasons.extend(colocated.reasons)
            signals.append("colocation")
            distance = colocated.distance
        own, why = explain(kept.candidates, kept.keywords)
        scene = colocated.scene if groups else None
        if not own:
            return Scored(combine(values), tuple(reasons), distance, scene=scene)
        values.extend(own)
        reasons.extend(why)
        signals.extend(dict.fromkeys([c.signal for c in kept.candidates] + ["keyword"] * bool(kept.keywords)))
        evidence = tuple(c.record() for c in kept.candidates) + tuple(
            {"signal": "keyword", "list": name, "where": where} for name, where in kept.keywords
        )
        return Scored(combine(values), tuple(reasons), distance, tuple(signals), evidence, scene)

    def _batches(self) -> dict[Group, list[_Confirmed]]:
        """Upload batches: matches whose mtimes lie within the window of each other, chained."""
        if "batch" not in self._by:
            return {}
        window = int(self.options.batch_window * 1e9)
        timed = sorted((c for c in self._confirmed if c.mtime_ns is not None), key=lambda c: c.mtime_ns or 0)
        out: dict[Group, list[_Confirmed]] = {}
        chain: list[_Confirmed] = []
        for confirmed in timed:
            if chain and (confirmed.mtime_ns or 0) - (chain[-1].mtime_ns or 0) > 2 * window:
                out[_batch_key(chain, window)] = chain
                chain = []
            chain.append(confirmed)
        if chain:
            out[_batch_key(chain, window)] = chain
        return out

    @staticmethod
    def _batch_of(mtime_ns: int | None, batches: Mapping[Group, list[_Confirmed]]) -> list[Group]:
        if mtime_ns is None:
            return []
        found = []
        for group in batches:
            start, _, end = group[1].partition("..")
            if int(start) <= mtime_ns <= int(end):
                found.append(group)
        return found

    def _clusters(
        self, members: Mapping[Group, list[_Confirmed]], scored: Sequence[tuple[Scored, _Kept, Group | None]]
    ) -> list[Cluster]:
        counts: dict[Group, list[float]] = {}
        for result, _, cluster in scored:
            if cluster is not None:  # suspected on its own signals, beside no match: in no cluster
                counts.setdefault(cluster, []).append(result.score)
        clusters = [
            Cluster(kind, _shown(kind, key), len(members[(kind, key)]), len(scores), round(max(scores), 3))
            for (kind, key), scores in counts.items()
        ]
        return sorted(clusters, key=lambda c: (-c.suspected, -c.confirmed, c.kind, c.key))


def _batch_key(chain: Sequence[_Confirmed], window: int) -> Group:
    return ("batch", f"{(chain[0].mtime_ns or 0) - window}..{(chain[-1].mtime_ns or 0) + window}")


def _cluster_name(kind: str, key: str) -> str:
    return f"{kind}:{_shown(kind, key)}"


def _shown(kind: str, key: str) -> str:
    """A group key as a cluster names it (a batch as its time span, ISO 8601)."""
    from ..findings.schema import iso_time

    if kind != "batch":
        return location_text(key)

    start, _, end = key.partition("..")
    return f"{iso_time(int(start))}..{iso_time(int(end))}"
