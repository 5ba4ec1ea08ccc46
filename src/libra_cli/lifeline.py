"""Processes that die with their parent, so a killed scan leaves nothing running.

When the main process is SIGKILLed (the OOM killer, systemd's stop timeout), nothing in it can clean
up. On Linux the kernel can send a signal to a child when its parent dies (``PR_SET_PDEATHSIG``); we set
it in the forkserver (whose parent is the main process) and in every worker (whose parent is the
forkserver), so the whole tree goes with the main process.
"""

from __future__ import annotations

import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return  # pragma: no cover
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - no prctl: workers still exit with their pipes
        pass
