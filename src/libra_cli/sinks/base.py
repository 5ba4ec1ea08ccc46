"""Sinks: where every outcome of a run goes, in order (findings files, hash output, later the state store).

The pipeline calls every sink with every outcome: each hashed file with its matches (none for a clean
file), each skip, each place that could not be walked, then the report. A sink takes what it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..findings import FindingsWriter, ScanHeader
from ..findings.schema import finding_record
from ..models import Finding, HashResult, Match, ScanError, Skip
from ..report import Report

#: Extra fields for a match record: ``(result, matches) -> {"new": True}``.
Annotate = Callable[[HashResult, Sequence[Match]], Mapping[str, Any]]


class Sink:
    """Receives a run's outcomes. Every method is optional: the defaults ignore the outcome."""

    def begin(self, header: ScanHeader) -> None:
        """Before the first outcome."""

    def result(self, result: HashResult, matches: Sequence[Match]) -> None:
        """One file hashed (or matched from stored hashes), with its matches."""

    def suspected(self, finding: Finding) -> None:
        """One suspected file (context signals, never a match), after the last result."""

    def allowed(self, result: HashResult, matches: Sequence[Match], reason: str) -> None:
        """A matched file an allow record covers (a reviewed false positive); ``result`` follows, unmatched."""

    def skip(self, skip: Skip) -> None:
        """One file seen and not looked at (listed), or left out by a user's filter (not listed)."""

    def error(self, error: ScanError) -> None:
        """A place that could not be walked or listed."""

    def end(self, report: Report, finished: str) -> None:
        """After the last outcome; also after a graceful stop (SIGINT/SIGTERM), with ``report.interrupted`` set.

        Not called when the run is aborted (a second signal, an error): its outputs are then discarded."""


class FindingsSink(Sink):
    """Findings files: matches, files that could not be covered, and files that were not looked at."""

    def __init__(self, writer: FindingsWriter, annotate: Annotate | None = None) -> None:
        self.writer = writer
        #: extra fields of a match record (the state's ``new``), from the run's review
        self.annotate = annotate

    def begin(self, header: ScanHeader) -> None:
        self.writer.begin(header)

    def result(self, result: HashResult, matches: Sequence[Match]) -> None:
        if matches:
            finding = Finding(
                result.ref, result.media_type, result.digests, tuple(matches), warning=result.error,
                member=result.member,
            )  # fmt: skip
            if self.annotate is None:
                self.writer.finding(finding)
            else:
                self.writer.record({**finding_record(finding), **self.annotate(result, matches)})
        elif result.error:
            self.writer.error(ScanError(result.ref.uri, result.error, fatal=result.fatal))

    def suspected(self, finding: Finding) -> None:
        self.writer.finding(finding)

    def allowed(self, result: HashResult, matches: Sequence[Match], reason: str) -> None:
        finding = Finding(
            result.ref, result.media_type, result.digests, tuple(matches), warning=result.error, member=result.member
        )
        self.writer.record({**finding_record(finding), "status": "allowed", "allowed": reason})

    def skip(self, skip: Skip) -> None:
        if skip.listed:
            self.writer.skip(skip)

    def error(self, error: ScanError) -> None:
        self.writer.error(error)

    def end(self, report: Report, finished: str) -> None:
        self.writer.end(report.summary(), report.complete, finished)
