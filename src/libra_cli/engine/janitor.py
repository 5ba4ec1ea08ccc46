"""Remove what a killed scan's multiprocessing left in the temp folder: empty ``pymp-*`` socket folders.

While workers run, Python's forkserver listens on a Unix socket in a ``pymp-*`` folder of ``$TMPDIR``.
A normal exit removes it; a SIGKILL (the OOM killer, systemd's stop timeout) cannot. It never holds
file content, but a nightly job must not leave litter, so each run removes the ones a dead run left:
folders of this user that hold nothing but sockets nobody listens on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import tempfile
from pathlib import Path


def _stale_socket(path: Path) -> bool:
    """A Unix socket that refuses connections: its listener is gone."""
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        except OSError:
            return False
    return False


def remove_stale_socket_folders(tmpdir: str | None = None) -> int:
    """Remove this user's ``pymp-*`` folders in ``tmpdir`` that hold only dead sockets; return how many."""
    base = Path(tmpdir or tempfile.gettempdir())
    removed = 0
    try:
        candidates = list(base.glob("pymp-*"))
    except OSError:
        return 0
    for folder in candidates:
        try:
            st = folder.lstat()
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                continue
            entries = list(folder.iterdir())
            if not all(stat.S_ISSOCK(e.lstat().st_mode) and _stale_socket(e) for e in entries):
                continue
            for entry in entries:
                entry.unlink()
            folder.rmdir()
            removed += 1
        except OSError:  # in use, or gone already: leave it
            continue
    return removed


def tidy() -> None:
    """Best effort, never an error: the run does not depend on it."""
    with contextlib.suppress(Exception):
        remove_stale_socket_folders()
