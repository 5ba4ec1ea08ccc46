"""What ``libra scan`` prints for a person at a terminal: one line per finding, then totals (clamscan-like).

JSON on a terminal is for machines; with stdout a terminal and no ``-o``/``--format``, ``libra scan``
prints this summary instead (as ``gh`` and ``ripgrep`` change their output for a terminal). Files and
pipes get the findings formats exactly as before. Every line starts with the location, so it can be
copied; names are shown with control characters escaped (a hostile name cannot repaint the screen)::

    /srv/uploads/a/IMG_2041.jpg: MATCH list=hotline entry=H-1187 (exact md5)
    /srv/uploads/b/banner.png: MATCH list=hotline entry=H-1190 category=A (pdq distance 8, mirrored)
    /srv/uploads/c/broken.jpg: WARNING the image file is truncated (exact digests were still matched)
    /srv/uploads/d/disk.img: SKIPPED larger than --max-file-size (21474836480 bytes)
    /srv/uploads/private: ERROR Permission denied
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from rich.text import Text

from ..findings import ScanHeader
from ..models import HashResult, Match, ScanError, Skip
from ..report import Report
from ..sinks import Sink
from ..textsafe import count, log_value, printable, unicode_safe

#: How a transform reads in a sentence ("pdq distance 8, mirrored").
_TRANSFORMS = {
    "mirror": "mirrored",
    "flip": "flipped",
    "rot90": "rotated 90°",
    "rot180": "rotated 180°",
    "rot270": "rotated 270°",
    "transpose": "transposed",
    "transverse": "transposed the other way",
}
#: Clusters of suspected files listed in the totals (the rest are counted; the findings hold them all).
CLUSTER_LINES = 10
#: Style of each line's status word.
_STYLES = {"MATCH": "bold red", "ERROR": "bold yellow", "WARNING": "yellow", "SKIPPED": "dim"}


def location(uri: str) -> str:
    """A location as a terminal may show it: valid Unicode, control characters escaped."""
    return printable(unicode_safe(uri))


def how(match: Match) -> str:
    """``exact md5``, ``pdq distance 8, mirrored``, ``vpdq distance 5 at 12.4 s``."""
    text = f"exact {match.hash_type}" if match.method == "exact" else f"{match.hash_type} distance {match.distance}"
    if match.frame_time is not None:
        text += f" at {match.frame_time:.1f} s"
    if match.transform not in ("original", "unknown", ""):  # unknown: nothing is claimed
        text += ", " + _TRANSFORMS.get(match.transform, printable(match.transform))
    return text


def match_line(uri: str, matches: Sequence[Match]) -> Text:
    """``LOCATION: MATCH list=… entry=… (how)``; further matches of the file are counted, not listed."""
    top = matches[0]
    entry = top.entry
    fields = [f"list={log_value(printable(top.list))}"]
    if entry.id:  # never the listed hash itself: findings name entries, not list contents
        fields.append(f"entry={log_value(printable(entry.id))}")
    if entry.label:
        fields.append(f"label={log_value(printable(entry.label))}")
    if entry.category:
        fields.append(f"category={log_value(printable(entry.category))}")
    more = f" and {count(len(matches) - 1, 'more match', 'more matches')}" if len(matches) > 1 else ""
    return _line(uri, "MATCH", f"{' '.join(fields)} ({how(top)}{more})")


def _line(uri: str, status: str, rest: str) -> Text:
    text = Text(f"{location(uri)}: ")
    text.append(status, style=_STYLES[status])
    text.append(f" {printable(rest)}")
    return text


class TerminalSink(Sink):
    """Prints each outcome worth a person's attention as one line through ``echo``; totals at the end.

    ``only_matches`` leaves out the skipped, warning and error lines (the totals still count them).
    """

    def __init__(self, echo: Callable[[Text | str], None], only_matches: bool = False) -> None:
        self.echo = echo
        self.only_matches = only_matches
        self.lists: Sequence[Mapping[str, object]] = ()
        self.started = time.monotonic()

    def begin(self, header: ScanHeader) -> None:
        self.lists = header.lists
        self.started = time.monotonic()

    def result(self, result: HashResult, matches: Sequence[Match]) -> None:
        if matches:
            self.echo(match_line(result.ref.uri, matches))
        elif result.error and not self.only_matches:
            status = "ERROR" if result.fatal else "WARNING"
            note = "" if result.fatal or not result.digests else " (exact digests were still matched)"
            self.echo(_line(result.ref.uri, status, f"{result.error}{note}"))
        if matches and result.error and not self.only_matches:
            self.echo(_line(result.ref.uri, "WARNING", f"{result.error} (exact digests were still matched)"))

    def skip(self, skip: Skip) -> None:
        if skip.listed and not self.only_matches:
            self.echo(_line(skip.location, "SKIPPED", skip.reason))

    def error(self, error: ScanError) -> None:
        if not self.only_matches:
            self.echo(_line(error.location, "ERROR" if error.fatal else "WARNING", error.reason))

    @staticmethod
    def _suspected(report: Report) -> list[str]:
        """``Suspected: 44 files (not matches)`` and a line per cluster: ``account alice: 3 confirmed, …``."""
        if not report.suspected:
            return []
        lines = [f"Suspected:     {count(report.suspected, 'file')} beside matches (not matches; -o FILE lists them)"]
        for cluster in report.clusters[:CLUSTER_LINES]:
            lines.append(
                f"  {printable(str(cluster['kind']))} {printable(str(cluster['key']))}: {cluster['confirmed']} "
                f"confirmed, {cluster['suspected']} suspected (top score {cluster['top_score']})"
            )
        if len(report.clusters) > CLUSTER_LINES:
            lines.append(f"  … and {count(len(report.clusters) - CLUSTER_LINES, 'more cluster')}")
        return lines

    def totals(self, report: Report, kept: str | None = None) -> list[str]:
        """The summary block after the last line (also after an incomplete run)."""
        lists = ", ".join(f"{printable(x.get('name'))} ({count(int(str(x.get('entries', 0))), 'entry', 'entries')})"
                          for x in self.lists) or "none"  # fmt: skip
        filtered = sum(report.filtered.values())
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(report.filtered.items()))
        seconds = time.monotonic() - self.started
        if report.matched or report.exit_code == 1:
            verdict = "known material FOUND (exit code 1)"
            if not report.matched:
                verdict = "suspected files found, nothing matched (exit code 1: --fail-on-suspected)"
            if not report.complete:
                verdict += "; coverage incomplete"
        elif not report.complete:
            verdict = "coverage INCOMPLETE: some files or folders could not be read (exit code 2)"
        else:
            verdict = "nothing found, every file covered (exit code 0)"
        lines = [
            "",
            "----------- libra scan summary -----------",
            f"Lists:         {lists}",
            f"Scanned:       {count(report.files, 'file')} ({report.media} media, {report.bytes / 2**20:.1f} MiB)"
            + (f", {count(report.members, 'archive member')}" if report.members else ""),
            f"Matched:       {count(report.matched, 'file')}",
            *self._suspected(report),
            f"Skipped:       {count(report.skipped, 'file')} (not looked at: size limit, special file or link)"
            if report.skipped
            else "Skipped:       0 files",
            f"Filtered:      {count(filtered, 'file')} ({rules})" if filtered else "Filtered:      0 files",
            f"Errors:        {report.fatal_errors} (files or folders not read: not covered)",
            f"Warnings:      {report.errors - report.fatal_errors} (hashed in part: see the WARNING lines)",
            f"Time:          {seconds:.1f} s",
            f"Result:        {verdict}",
        ]
        if kept:
            lines.append(f"Kept:          {kept}")
        return lines
