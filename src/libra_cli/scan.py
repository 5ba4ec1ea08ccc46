"""The scan orchestrator: walk -> workers -> match -> write -> report.

The parent walks storage, hands references to worker processes, matches the hashes they send back
against the (decrypted, in-memory) lists, and streams findings to the writer. Nothing here reads
media bytes itself, and nothing is held per file once it has been written.

>>> report = scan(["/srv/uploads"], matcher, writer, ScanOptions())  # doctest: +SKIP
>>> report.exit_code
<ExitCode.CLEAN: 0>
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from . import __version__
from .findings import FindingsWriter, ScanHeader
from .hashlist.table import HashList
from .matcher import Matcher
from .models import Finding, HashConfig, HashResult, Match, ScanError
from .report import Report
from .storage import Walker, WalkOptions
from .textsafe import log_value, unicode_safe
from .workers import DEFAULT_TIMEOUT, default_workers, hash_many

log = logging.getLogger("libra.scan")

#: Results matched together: one index look-up per hash type for many files (the per-call cost of
#: numpy dominates small files), while findings still stream out within a few dozen files.
MATCH_BATCH = 32

#: Digests every finding reports, whatever the lists use: what hotlines and reports ask for.
REPORTED_DIGESTS = ("md5", "sha1", "sha256")


@dataclass(frozen=True)
class ScanOptions:
    """How to scan: walking rules, worker count and what to hash (beyond what the lists need)."""

    walk: WalkOptions = field(default_factory=WalkOptions)
    workers: int = 0  #: 0 means all cores
    file_timeout: float = DEFAULT_TIMEOUT  #: seconds without any result before a hung worker is stopped
    hash_config: HashConfig = field(default_factory=HashConfig)
    report_digests: tuple[str, ...] = REPORTED_DIGESTS


@dataclass
class Progress:
    """What a progress display needs; the scan updates it and calls the listener after each file."""

    discovered: int = 0
    discovered_bytes: int = 0
    walk_done: bool = False
    report: Report = field(default_factory=Report)


Listener = Callable[[Progress], None]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def list_header(lists: Sequence[HashList]) -> list[dict[str, object]]:
    """The findings file's ``lists`` array: which lists, how big, which exact file."""
    return [{"name": hl.info.name, "entries": len(hl), "sha256": hl.info.sha256} for hl in lists]


def hash_config_for(matcher: Matcher, options: ScanOptions) -> HashConfig:
    """Compute only what the lists can match plus the digests findings report."""
    digests = tuple(sorted(set(options.report_digests) | set(matcher.needed_digests())))
    perceptual = tuple(sorted(matcher.needed_perceptual()))
    return replace(
        options.hash_config,
        digests=digests,
        perceptual=perceptual,
        dihedral=options.hash_config.dihedral and "pdq" in perceptual,
    )


def _observe(progress: Progress, walker: Walker) -> None:
    progress.discovered = walker.discovered
    progress.discovered_bytes = walker.discovered_bytes
    progress.walk_done = walker.done


def scan(
    targets: Sequence[str],
    matcher: Matcher,
    writer: FindingsWriter,
    options: ScanOptions | None = None,
    *,
    lists: Sequence[HashList] = (),
    listener: Listener | None = None,
) -> Report:
    """Scan ``targets`` and stream findings to ``writer``; return the report (which owns the exit code)."""
    options = options or ScanOptions()
    progress = Progress()
    report = progress.report
    config = hash_config_for(matcher, options)
    walker = Walker(targets, options.walk)
    workers = options.workers or default_workers()
    writer.begin(ScanHeader(__version__, now_iso(), [unicode_safe(t) for t in targets], list_header(lists)))
    log.info("scan started targets=%d workers=%d lists=%d", len(targets), workers, len(lists))

    def drain() -> None:
        while walker.errors:
            item = walker.errors.popleft()
            error = ScanError(item.location, item.reason, fatal=True)
            report.errors += 1
            report.fatal_errors += 1
            writer.error(error)
            log.error("unreadable location=%s reason=%s", log_value(error.location), log_value(error.reason))
        while walker.skipped:
            skip = walker.skipped.popleft()
            report.skipped += 1
            level = logging.WARNING if skip.notable else logging.DEBUG  # --exclude was asked for; a big file was not
            log.log(level, "skipped location=%s reason=%s", log_value(skip.location), log_value(skip.reason))

    pending: list[HashResult] = []
    for result in hash_many(walker.refs(), config, workers, timeout=options.file_timeout):
        drain()
        pending.append(result)
        if len(pending) >= MATCH_BATCH:
            _record(pending, matcher, writer, report)
            pending.clear()
        if listener is not None:
            _observe(progress, walker)
            listener(progress)
    _record(pending, matcher, writer, report)
    drain()
    _observe(progress, walker)
    progress.walk_done = True
    if listener is not None:
        listener(progress)
    writer.end(report.summary(), now_iso())
    log.info(
        "scan finished files=%d matched=%d errors=%d exit=%d",
        report.files,
        report.matched,
        report.errors,
        int(report.exit_code),
    )
    return report


def collapse(matches: Sequence[Match]) -> list[Match]:
    """One match per (list, method, hash type, listed item), the closest, exact ones first.

    A list built with ``libra hash --robust`` holds several hashes of one item (crops, scales) under
    one id; reporting each would bury the finding. Entries without an id are kept apart by value.
    """
    best: dict[tuple[object, ...], Match] = {}
    for match in matches:
        entry = match.entry
        item = (entry.id, entry.label, entry.category) if entry.id else (entry.value,)
        key = (match.list, match.method, match.hash_type, *item)
        if key not in best or match.distance < best[key].distance:
            best[key] = match
    return sorted(best.values(), key=lambda m: (m.method != "exact", m.distance, m.list, m.hash_type))


def _record(results: Sequence[HashResult], matcher: Matcher, writer: FindingsWriter, report: Report) -> None:
    """Count, match (one batched look-up) and write a few files' findings and errors."""
    for result, found in zip(results, matcher.match_many(results), strict=True):
        _record_one(result, collapse(found), writer, report)


def _record_one(result: HashResult, matches: list[Match], writer: FindingsWriter, report: Report) -> None:
    ref = result.ref
    report.files += 1
    report.bytes += ref.size
    if result.media_type:
        report.media += 1
    if result.error:
        fatal = not result.digests  # no digests: the file was not covered at all
        report.errors += 1
        report.fatal_errors += int(fatal)
        writer.error(ScanError(ref.uri, result.error, fatal=fatal))
        level = logging.ERROR if fatal else logging.WARNING  # errors behind exit code 2 show even with -q
        kind = "unreadable" if fatal else "undecodable"
        log.log(level, "%s location=%s reason=%s", kind, log_value(ref.uri), log_value(result.error))
    if not matches:
        return
    report.matched += 1
    writer.finding(
        Finding(
            location=ref.uri,
            size=ref.size,
            mtime=ref.mtime,
            media_type=result.media_type,
            digests=dict(result.digests),
            matches=tuple(matches),
        )
    )
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
