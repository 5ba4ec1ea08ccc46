"""The progress bar: drawn on stderr for a person at a terminal, never touching stdout (the data)."""

from __future__ import annotations

import sys

import pytest

from libra_cli.cli.progress import ScanBar
from libra_cli.pipeline import Progress


def test_bar_never_redirects_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    before = sys.stdout
    with ScanBar(enabled=True) as bar:
        assert bar.enabled
        progress = Progress(discovered=3, walk_done=True)
        progress.report.files = 3
        bar.update(progress)
        assert sys.stdout is before


def test_bar_is_off_when_not_a_terminal_or_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not ScanBar(enabled=True).enabled
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert not ScanBar(enabled=False).enabled
