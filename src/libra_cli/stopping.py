"""A graceful stop on SIGINT/SIGTERM: finish what is in hand, then end the run with its outputs written.

A maintenance window or ``systemctl stop`` must not cost the hours already spent: the first signal
only asks the run to stop. The pipeline notices between batches (within about a second), matches the
results it holds, and ends every sink as for a finished run, marked interrupted (the findings file is
complete for what was scanned, ``"complete": false``; the state records the run as interrupted). A
second signal stops at once (``KeyboardInterrupt``: nothing half-written is kept).

Signal handlers can only be set in the main thread; elsewhere (a library caller's thread) the run
keeps Python's own behaviour.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

log = logging.getLogger("libra.scan")

SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by the first SIGINT/SIGTERM; a second one raises ``KeyboardInterrupt`` (stop now)."""

    def __init__(self) -> None:
        self.signal: int | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        log.info("stop requested signal=%s (finishing what is in hand; a second signal stops at once)",
                 signal.Signals(signum).name)  # fmt: skip


@contextlib.contextmanager
def graceful_stop() -> Iterator[StopRequest]:
    """While inside, SIGINT and SIGTERM set the yielded request instead of interrupting."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous: dict[int, Any] = {}
    try:
        for signum in SIGNALS:
            previous[signum] = signal.signal(signum, request)
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
