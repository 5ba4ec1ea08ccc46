"""Remove what a killed scan's multiprocessing left in the temp folder: empty ``pymp-*`` socket folders.

While workers run, Python's forkserver listens on a Unix socket in a ``pymp-*`` folder of ``$TMPDIR``.
A normal exit removes it; a SIGKILL (the OOM killer, systemd's stop timeout) cannot. It never holds
file content, but a nightly job must not leave litter, so each run removes the ones a dead run left:
folders of this user that hold nothing but sockets no process has bound.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def _bound_paths() -> set[str] | None:
    """Paths of the Unix sockets some process has bound right now (Linux ``/proc/net/unix``).

    Looking, not connecting: a connection to a live forkserver would be taken for a request.
    ``None`` where the table cannot be read (then nothing is removed).
    """
    try:
        lines = Path("/proc/net/unix").read_text(errors="replace").splitlines()[1:]
    except OSError:
        return None
    return {parts[-1] for parts in (line.split() for line in lines) if len(parts) >= 8}


def remove_stale_socket_folders(tmpdir: str | None = None) -> int:
    """Remove this user's ``pymp-*`` folders in ``tmpdir`` that hold dead sockets and nothing else.

    A live forkserver's socket is bound (listed in ``/proc/net/unix``), so its folder is never taken; an
    empty folder is left alone too. Returns how many folders were removed.
    """
    base = Path(tmpdir or tempfile.gettempdir())
    bound = _bound_paths()
    if bound is None:
        return 0
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
            # An empty folder may belong to a live process that has not made its socket yet: keep it.
            if not entries or not all(stat.S_ISSOCK(e.lstat().st_mode) and str(e) not in bound for e in entries):
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
