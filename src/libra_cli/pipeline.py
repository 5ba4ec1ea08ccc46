"""The stages of a run, joined: source -> filter -> hash engine -> match stage -> sinks.

```
Source ──walk items──▶ Filter ──refs──▶ Engine ──results──▶ MatchStage ──outcomes──▶ sinks
(own thread,           (state: skip      (in-process, local    (parent only: the       (findings, hash
 bounded queue)         unchanged)        pool, cluster)        decrypted lists)         output, state)
```

The walk runs in its own thread and hands items over a bounded queue (``queues.WakeQueue``); the
main loop feeds the engine while it has capacity, waits for results or new items (whichever comes
first), matches results in small batches (one index look-up per hash type for many files) and passes
every outcome to every sink in order. ``libra scan`` and ``libra hash`` run this same pipeline with
different sinks. A ``Report`` counts outcomes and owns the exit code.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from . import __version__, signals
from .engine import Engine
from .engine.base import EngineLost
from .errors import LibraError
from .findings import ScanHeader
from .hashers.exact import raw_digests_of_chunks
from .hashing import member_digests
from .lazyengine import LazyEngine
from .match.matcher import Matcher
from .match.relation import dihedral_part
from .models import HashConfig, HashResult, Match, MediaRef, ScanError, Skip
from .report import Report
from .sinks import Sink
from .stopping import StopRequest, graceful_stop
from .storage import Source, WalkError, storage_for
from .textsafe import log_value, one_line

if TYPE_CHECKING:  # the suspected signals' modules load only in runs that use them
    from .context import ContextStage
    from .match.candidates import Candidate
    from .match.nearband import Band, NearBand

log = logging.getLogger("libra.scan")

#: Results matched together: one index look-up per hash type for many files (the per-call cost of
#: numpy dominates small files), while findings still stream out within a fraction of a second.
MATCH_BATCH = 32
#: A partial batch is matched after this long, so findings never wait for a batch to fill.
MATCH_DELAY = 0.25
#: Digests every finding reports, whatever the lists use: what hotline reports ask for.
REPORTED_DIGESTS = ("md5", "sha1", "sha256")


@dataclass
class Progress:
    """What a progress display needs; the pipeline updates it and calls the listener as results come."""

    discovered: int = 0
    discovered_bytes: int = 0
    walk_done: bool = False
    report: Report = field(default_factory=Report)


Listener = Callable[[Progress], None]


class Filter:
    """Decides per reference whether it must be hashed, or is known (unchanged since it was last hashed).

    This one hashes everything; the state store's filter answers from stored hashes.
    """

    def check(self, ref: MediaRef) -> HashResult | None:
        """The stored result for ``ref`` if it can be matched without reading it, else ``None``."""
        return None


class Review:
    """Reviewed outcomes of matched files: an allow record suppresses a reviewed false positive, and a
    match seen in an earlier run is not new. This one allows nothing and calls every match new; the
    state's (``state/allow.py``) answers from the state file.
    """

    def allowed(self, result: HashResult, matches: Sequence[Match]) -> str | None:
        """The reason of the allow record that covers this matched file, else ``None``."""
        return None

    def is_new(self, result: HashResult, matches: Sequence[Match]) -> bool:
        """Whether any of the file's matches was not reported by an earlier run."""
        return True


def collapse(matches: Sequence[Match]) -> list[Match]:
    """One match per (list, method, hash type, listed item), the closest, exact ones first.

    A list built with ``libra hash --robust`` holds several hashes of one item (crops, scales) under
    one id; reporting each would bury the finding. Entries without an id are kept apart by value.
    """
    if not matches:  # most files: nothing to order
        return []
    best: dict[tuple[object, ...], Match] = {}
    for match in matches:
        entry = match.entry
        item = (entry.id, entry.label, entry.category) if entry.id else (entry.value,)
        key = (match.list, match.method, match.hash_type, *item)
        if key not in best or _preference(match) < _preference(best[key]):
            best[key] = match
    order = {name: i for i, name in enumerate(signals.names())}  # md5 before blake3, pdq before phash
    return sorted(best.values(), key=lambda m: (m.method != "exact", m.distance, order.get(m.hash_type, 99), m.list))


def _preference(match: Match) -> tuple[bool, int]:
    """The file hashed as it is before its mirrors and turns, then the closest: a closer turned hash of
    the file only means the list also holds a turned copy of the picture (as ``Matcher`` ranks one row)."""
    return (dihedral_part(match.query_variant) != "original", match.distance)


class MatchStage:
    """Matches results against the lists (parent only) and completes the reported digests of matches.

    The engine computes only the hash set the lists need; a finding also reports MD5, SHA-1 and
    SHA-256, so for the few matched files the missing ones are computed here, in a second read of
    just that file (digests only: the parent never decodes).
    """

    def __init__(
        self,
        matcher: Matcher | None,
        config: HashConfig,
        report_digests: Sequence[str] = (),
        near_band: Band | None = None,
    ) -> None:
        self.matcher = matcher
        self.config = config
        self.report_digests = tuple(report_digests)
        #: Near-band candidates of unmatched stills (``match/nearband.py``); built on first use.
        self.near_band = near_band
        self._near: NearBand | None = None
        self._near_built = False

    def run(self, results: Sequence[HashResult]) -> list[tuple[HashResult, list[Match]]]:
        return [(result, matches) for result, matches, _ in self.run_with_candidates(results, candidates=False)]

    def run_with_candidates(
        self, results: Sequence[HashResult], candidates: bool = True
    ) -> list[tuple[HashResult, list[Match], list[Candidate]]]:
        """``run``, and per unmatched file its candidates (near band, partial video) for the context stage."""
        if self.matcher is None or not results:
            return [(r, [], []) for r in results]
        near: list[list[Candidate]] | None = [[] for _ in results] if candidates else None
        out = []
        for i, (result, found) in enumerate(zip(results, self.matcher.match_many(results, near), strict=True)):
            matches = collapse(found)
            out.append((result, matches, [] if matches or near is None else near[i]))
        matched = [i for i, (_, matches, _) in enumerate(out) if matches]
        # Together: the matched members of one archive are completed from one more walk of it.
        for i, done in zip(matched, self.complete_many([out[i][0] for i in matched]), strict=True):
            out[i] = (done, out[i][1], out[i][2])
        if candidates and self.near_band is not None:
            if not self._near_built:
                self._near, self._near_built = self.matcher.near_band(self.near_band), True
            if self._near is not None:
                skip = [bool(matches) for _, matches, _ in out]
                for (_, _, own), found_near in zip(out, self._near.search(results, skip), strict=True):
                    own.extend(found_near)
        return out

    def complete_many(self, results: Sequence[HashResult]) -> list[HashResult]:
        """``complete`` for many results; archive members are completed from one walk per archive."""
        out = list(results)
        by_archive: dict[str, list[int]] = {}
        for i, result in enumerate(results):
            if result.member is None:
                out[i] = self.complete(result)
            elif any(d not in result.digests for d in self.report_digests):
                by_archive.setdefault(result.member.archive, []).append(i)
        for indexes in by_archive.values():
            members = [m for m in (results[i].member for i in indexes) if m is not None]
            found: dict[tuple[str, ...], dict[str, bytes]] = {}
            try:
                if members[0].ref is not None:
                    found = member_digests(members[0].ref, {m.path for m in members}, self.report_digests, self.config)
            except Exception as err:  # a finding is never lost to its report's digests
                log.warning("digests not completed location=%s reason=%s", log_value(members[0].archive), one_line(err))
            for i, member in zip(indexes, members, strict=True):
                extra = found.get(member.path, {})
                known = results[i].digests
                if extra and all(extra[d] == v for d, v in known.items() if d in extra):  # the very bytes scanned
                    out[i] = replace(results[i], digests={**extra, **known})
        return out

    def complete(self, result: HashResult) -> HashResult:
        missing = [d for d in self.report_digests if d not in result.digests]
        if not missing:
            return result
        if result.member is not None:  # a member's location is never opened as a path
            return self.complete_many([result])[0]
        try:
            with storage_for(result.ref.uri, self.config.storage).open(result.ref) as handle:
                extra = raw_digests_of_chunks(iter(lambda: handle.read(1 << 20), b""), missing)
        except LibraError as err:
            log.warning("digests not completed location=%s reason=%s", log_value(result.ref.uri), log_value(err))
            return result
        except Exception as err:  # a backend bug must not lose the finding
            log.warning("digests not completed location=%s reason=%s", log_value(result.ref.uri), one_line(err))
            return result
        return replace(result, digests={**result.digests, **extra})


class Pipeline:
    """One run: the source's items through the filter, engine and match stage, out to the sinks."""

    def __init__(
        self,
        source: Source,
        engine_factory: Callable[[], Engine],
        match: MatchStage,
        sinks: Sequence[Sink],
        *,
        header: ScanHeader | None = None,
        filter: Filter | None = None,
        listener: Listener | None = None,
        context: ContextStage | None = None,
        graceful: bool = False,
        review: Review | None = None,
    ) -> None:
        self.source = source
        #: SIGINT/SIGTERM end the run with its outputs written, marked interrupted (``stopping.py``)
        self.graceful = graceful
        self.review = review or Review()
        self.context = context  #: suspected files from context (``context/``), emitted at the end
        self.engine_factory = engine_factory
        self.match = match
        self.sinks = list(sinks)
        self.header = header
        self.filter = filter or Filter()
        self.listener = listener
        self.progress = Progress()
        self.report = self.progress.report

    def run(self) -> Report:
        """Run to the end and return the report. Interrupts propagate after workers are stopped.

        With ``graceful``, a first SIGINT/SIGTERM ends the run early instead: the results in hand are
        matched and every sink is ended as usual, with ``report.interrupted`` set.
        """
        header = self.header or ScanHeader(__version__, now_iso(), list(self.source.targets), [])
        for sink in self.sinks:
            sink.begin(header)
        log.info("scan started targets=%d", len(self.source.targets))
        stopping = graceful_stop() if self.graceful else contextlib.nullcontext(StopRequest())
        with stopping as stop:
            self._loop(stop)
            self._suspect()
            self.progress.walk_done = True
            self._notify()
            finished = now_iso()
            for sink in self.sinks:
                sink.end(self.report, finished)
        report = self.report
        log.info(
            "scan finished files=%d matched=%d errors=%d skipped=%d exit=%d",
            report.files,
            report.matched,
            report.errors,
            report.skipped,
            int(report.exit_code),
        )
        return report

    def _loop(self, stop: StopRequest) -> None:
        # With a filter (the state), the workers start only once a file needs hashing (``lazyengine.py``).
        engine = self.engine_factory() if type(self.filter) is Filter else LazyEngine(self.engine_factory)
        queue = self.source.queue
        batch: list[HashResult] = []
        oldest = 0.0
        self.source.start()
        try:
            with engine:
                while True:
                    if stop.requested:
                        raise _Stopped
                    while (room := engine.capacity()) > 0:
                        items = queue.take(min(room, MATCH_BATCH))
                        if not items:
                            break
                        known = self._route_all(items, engine)
                        if known:
                            oldest = oldest if batch else time.monotonic()
                            batch.extend(known)
                            if len(batch) >= MATCH_BATCH or stop.requested:
                                break  # files answered from the state: matched in batches, a stop honoured
                    if queue.drained and queue.error is not None:
                        raise queue.error
                    if queue.drained and engine.pending() == 0:
                        break
                    waiting = bool(batch)
                    wake = [queue] if engine.capacity() > 0 and not queue.finished else []
                    results = engine.poll(MATCH_DELAY if waiting else 1.0, wake)
                    if stop.requested:  # a worker the same signal stopped is no unreadable file
                        results = [r for r in results if not r.fatal]
                    if results and not batch:
                        oldest = time.monotonic()
                    batch.extend(results)
                    if len(batch) >= MATCH_BATCH or (
                        batch and (not results or time.monotonic() - oldest > MATCH_DELAY)
                    ):
                        self._emit(batch)
                        batch = []
                    self._notify()
                self._emit(batch)
        except _Stopped:  # SIGINT/SIGTERM: what is in hand is matched and written, the rest is not covered
            self.report.interrupted = True
            log.info("scan stopped reason=signal files=%d", self.report.files)
            self._emit(batch)
        except EngineLost as err:  # a cluster's scheduler went away: what was found so far is written
            self.report.interrupted = True
            self.report.stopped = str(err)
            log.info("scan stopped reason=%s", log_value(str(err)))  # the CLI says it in one sentence
            self._emit(batch)
        except BaseException:
            self.report.interrupted = True
            raise
        finally:
            self.source.stop()

    def _route_all(self, items: Sequence[MediaRef | Skip | WalkError], engine: Engine) -> list[HashResult]:
        """``_route`` for a run of walk items; the references to hash go to the engine together."""
        known: list[HashResult] = []
        todo: list[MediaRef] = []
        for item in items:
            if isinstance(item, MediaRef):
                found = self.filter.check(item)
                if found is None:
                    todo.append(item)
                else:
                    known.append(found)
            else:
                self._route(item, engine)
        engine.submit_many(todo)
        return known

    def _route(self, item: MediaRef | Skip | WalkError, engine: Engine) -> HashResult | None:
        """A walk item to where it goes: references to the filter and engine, the rest to the sinks."""
        if isinstance(item, MediaRef):
            known = self.filter.check(item)
            if known is None:
                engine.submit(item)
            return known
        if isinstance(item, Skip):
            self._skip(item)
        else:
            error = ScanError(item.location, item.reason, fatal=True)
            self.report.errors += 1
            self.report.fatal_errors += 1
            log.error("unreadable location=%s reason=%s", log_value(error.location), log_value(error.reason))
            for sink in self.sinks:
                sink.error(error)
        return None

    def _skip(self, skip: Skip) -> None:
        if skip.listed:
            self.report.skipped += 1
            log.info(
                "skipped location=%s rule=%s reason=%s", log_value(skip.location), skip.rule, log_value(skip.reason)
            )
        else:
            self.report.filter(skip.rule)
            log.debug("filtered location=%s rule=%s", log_value(skip.location), skip.rule)
        for sink in self.sinks:
            sink.skip(skip)

    def _emit(self, batch: Sequence[HashResult]) -> None:
        # An archive's members follow it, each matched, counted and reported as a result of its own.
        flat = [item for result in batch for item in (result, *result.members)]
        for result, matches, candidates in self.match.run_with_candidates(flat, candidates=self.context is not None):
            if matches:
                matches, candidates = self._reviewed(result, matches, candidates)
            self._count(result, matches)
            for sink in self.sinks:
                sink.result(result, matches)
            if self.context is not None:
                archive = None if result.member is None else result.member.archive
                self.context.see(result, matches, archive=archive, candidates=candidates)

    def _reviewed(
        self, result: HashResult, matches: list[Match], candidates: list[Candidate]
    ) -> tuple[list[Match], list[Candidate]]:
        """An allowed match goes to the sinks as ``allowed`` and on as a clean file; new ones are counted."""
        reason = self.review.allowed(result, matches)
        if reason is None:
            self.report.new_matched += int(self.review.is_new(result, matches))
            return matches, candidates
        self.report.allowed += 1
        log.info("allowed location=%s reason=%s", log_value(result.ref.uri), log_value(reason))
        for sink in self.sinks:
            sink.allowed(result, matches, reason)
        return [], []

    def _suspect(self) -> None:
        """The context stage's suspected files (digests completed like a match's) and clusters, to the sinks."""
        if self.context is None:
            return
        found = self.context.finish()
        self.report.clusters = [c.record() for c in found.clusters]
        completed = self.match.complete_many(
            [HashResult(f.ref, f.media_type, f.digests, member=f.member) for f in found.findings]
        )
        for finding, done in zip(found.findings, completed, strict=True):
            finding = replace(finding, digests=done.digests)
            self.report.suspected += 1
            score = (finding.suspected or {}).get("score")
            log.info("suspected location=%s score=%s", log_value(finding.ref.uri), score)
            for sink in self.sinks:
                sink.suspected(finding)

    def _count(self, result: HashResult, matches: Sequence[Match]) -> None:
        report, ref = self.report, result.ref
        if result.member is not None:
            report.members += 1
        else:
            report.files += 1
            report.bytes += ref.size
            report.media += int(bool(result.media_type))
        if result.error:
            report.errors += 1
            report.fatal_errors += int(result.fatal)
            level = logging.ERROR if result.fatal else logging.WARNING  # errors behind exit code 2 show with -q
            kind = "unreadable" if result.fatal else "undecodable"
            log.log(level, "%s location=%s reason=%s", kind, log_value(ref.uri), log_value(result.error))
        if not matches:
            return
        report.matched += 1
        top = matches[0]
        log.warning(
            "match location=%s list=%s entry=%s method=%s hash_type=%s distance=%d",
            log_value(ref.uri),
            log_value(top.list),
            log_value(top.entry.id or ""),
            top.method,
            top.hash_type,
            top.distance,
        )

    def _notify(self) -> None:
        if self.listener is None:
            return
        self.progress.discovered = self.source.discovered
        self.progress.discovered_bytes = self.source.discovered_bytes
        self.progress.walk_done = self.source.queue.finished
        self.listener(self.progress)


class _Stopped(Exception):
    """Raised inside the engine's block on a graceful stop, so its workers are stopped at once."""


def now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")
