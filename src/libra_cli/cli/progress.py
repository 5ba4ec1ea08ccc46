"""The progress bar of long runs: on stderr, only for a person at a terminal."""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..pipeline import Progress as ScanProgress
from .common import stderr


class ScanBar:
    """A rich progress bar fed by the scan's listener; a no-op when disabled or not a TTY."""

    def __init__(self, enabled: bool, label: str = "scan", matches: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        columns = [
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[mib]:.0f} MiB"),
            TextColumn("{task.fields[rate]:.0f} files/s"),
            *([TextColumn("[red]{task.fields[matched]} matched")] if matches else []),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        # Never redirect stdout: it carries the data (findings, hashes), however the bar is drawn.
        self._bar = Progress(*columns, console=stderr, transient=False, redirect_stdout=False, redirect_stderr=False)
        self._task = self._bar.add_task("scan", total=None, mib=0.0, rate=0.0, matched=0)
        self._start = time.monotonic()
        self._last = 0.0

    def __enter__(self) -> ScanBar:
        if self.enabled:
            self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self._bar.stop()

    def update(self, progress: ScanProgress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and not progress.walk_done:
            return
        self._last = now
        report = progress.report
        elapsed = max(now - self._start, 1e-6)
        self._bar.update(
            self._task,
            completed=report.files,
            total=progress.discovered,
            mib=report.bytes / 2**20,
            rate=report.files / elapsed,
            matched=report.matched,
        )
