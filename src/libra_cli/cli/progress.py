"""The progress bar of long runs: on stderr, only for a person at a terminal, never inside a line of data.

The bar is a rich ``Live`` display on stderr. When stdout is the same terminal (a person running
``libra scan`` or ``libra hash`` by hand), data lines are printed through the bar's console, which
lifts the bar, prints the line above it and redraws it: a line of data is never split or erased by a
redraw. Log lines go the same way (``scan._ConsoleHandler``).

The total comes early from a counting walk of local targets in its own thread (``precount.PreCount``);
until it is known the bar shows how many files were found so far, and when the real walk ends its
exact count takes over. The matched counter is redrawn as soon as a match is logged.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from ..models import HashResult, Match
from ..pipeline import Progress as ScanProgress
from ..precount import PreCount
from ..sinks import Sink
from ..storage.base import WalkOptions
from .common import stderr_console

if TYPE_CHECKING:  # rich loads only when there is a bar or a terminal to draw on
    from rich.console import Console
    from rich.progress import (
        Progress,
        Task,
    )
    from rich.text import Text


#: Seconds between two bar updates (a redraw per result would cost more than it shows).
UPDATE_EVERY = 0.1


def same_terminal(first: TextIO | None, second: TextIO | None) -> bool:
    """True when both streams are the same terminal device (``libra scan ...`` typed at a shell)."""
    try:
        if first is None or second is None or not (first.isatty() and second.isatty()):
            return False
        a, b = os.fstat(first.fileno()), os.fstat(second.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (a.st_rdev, a.st_ino) == (b.st_rdev, b.st_ino)


class _LineRouter:
    """A text stream that hands complete lines to ``ScanBar.echo`` (for writers that want ``write``)."""

    def __init__(self, bar: ScanBar, stream: TextIO) -> None:
        self.bar, self.stream, self._partial = bar, stream, ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self.bar.echo(line.removesuffix("\r"))  # csv's \r\n: the terminal needs no carriage return
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self.bar.echo(self._partial)
            self._partial = ""

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return True


class ScanBar(Sink):
    """A rich progress bar fed by the scan's listener; a no-op when disabled or stderr is not a TTY.

    ``targets`` and ``walk`` (optional) start the counting walk that gives the bar its total early.
    As a sink (optional), it redraws the matched counter the moment a match is logged.
    """

    def __init__(
        self,
        enabled: bool,
        label: str = "scan",
        matches: bool = True,
        targets: Sequence[str] = (),
        walk: WalkOptions | None = None,
    ) -> None:
        self.enabled = enabled and sys.stderr is not None and sys.stderr.isatty()
        #: Data to stdout must pass through the bar's console: both are drawn on one screen.
        self.shares_screen = self.enabled and same_terminal(sys.stdout, sys.stderr)
        self._bar: Progress | None = self._progress(label, matches) if self.enabled else None
        self._task = self._bar.add_task(label, total=None, mib=0.0, rate=0.0, matched=0) if self._bar else None
        self._start = time.monotonic()
        self._last = 0.0
        self._matched = 0
        self._files = 0
        self._walk_done = False
        self._out: Console | None = None
        self.counter = PreCount(targets, walk or WalkOptions(), self._counted) if self.enabled and targets else None

    @staticmethod
    def _progress(label: str, matches: bool) -> Progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[mib]:.0f} MiB"),
            TextColumn("{task.fields[rate]:.0f} files/s"),
            *([TextColumn("[red]{task.fields[matched]} matched")] if matches else []),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        # Never redirect stdout: it carries the data (findings, hashes), however the bar is drawn.
        return Progress(
            *columns, console=stderr_console(), transient=False, redirect_stdout=False, redirect_stderr=False
        )

    def __enter__(self) -> ScanBar:
        if self._bar is not None:
            if self.counter is not None:
                self.counter.start()
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        if self.counter is not None:
            self.counter.stop()
        if self._bar is not None:
            self._bar.stop()

    @property
    def task(self) -> Task:
        """The bar's rich task (its ``total``, ``completed`` and fields); only while it is enabled."""
        assert self._bar is not None, "the bar is disabled"
        return self._bar.tasks[0]

    def _counted(self, files: int) -> None:
        """The early count is complete (called in its thread): show the total and an ETA from now on."""
        if not self._walk_done and self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=max(files, self._files))

    def result(self, result: HashResult, matches: Sequence[Match]) -> None:
        self._files += 1
        if matches and self._bar is not None and self._task is not None:  # in step with the match log line
            self._matched += 1
            self._bar.update(self._task, completed=self._files, matched=self._matched)
            self._bar.refresh()

    def total(self, progress: ScanProgress) -> int | None:
        """What the bar counts to: the exact count once the walk is done, else the early count if ready."""
        if progress.walk_done:
            return progress.discovered
        early = self.counter.total if self.counter is not None else None
        return None if early is None else max(early, progress.discovered)

    def update(self, progress: ScanProgress) -> None:
        if self._bar is None or self._task is None:
            return
        now = time.monotonic()
        report = progress.report
        if now - self._last < UPDATE_EVERY and not progress.walk_done:
            return
        self._last = now
        self._walk_done = progress.walk_done
        elapsed = max(now - self._start, 1e-6)
        self._bar.update(
            self._task,
            completed=report.files,
            total=self.total(progress),
            mib=report.bytes / 2**20,
            rate=report.files / elapsed,
            matched=report.matched,
        )

    def echo(self, line: str | Text) -> None:
        """One line of data for the person at the terminal: above the bar when they share the screen."""
        if self.shares_screen and self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
            return
        if self._out is None:
            from rich.console import Console

            self._out = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self._out.print(line, markup=False, highlight=False, soft_wrap=True)

    def stream(self, stream: TextIO) -> TextIO:
        """``stream`` itself, or a stream that prints through the bar when stdout and the bar share a screen."""
        if self.shares_screen and stream is sys.stdout:
            return _LineRouter(self, stream)  # type: ignore[return-value]
        return stream
