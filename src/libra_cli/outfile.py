"""Atomic output files that leave nothing behind, even after SIGKILL, and are private from the start.

Findings name the locations of suspected abuse material: they are created ``0600``. A reader must
never see a half-written file, so the content goes to an anonymous file in the target's folder
(Linux ``O_TMPFILE``: it has no name, so a killed run leaves no ``.part`` file and a walk of the same
folder cannot see it) that is given its name only when complete. Where ``O_TMPFILE`` is missing
(other systems, some filesystems) a hidden ``.NAME.PID.part`` file is used instead and removed on
every exit Python sees.

>>> with atomic_output("/var/lib/libra/findings.json") as out:  # doctest: +SKIP
...     out.handle.write("{}")
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

#: Findings and state are private to the account that runs libra.
PRIVATE_MODE = 0o600


@dataclass
class AtomicOutput:
    """An open output: write to ``handle``; ``identity`` is its (device, inode), so a walk can skip it."""

    handle: TextIO
    identity: tuple[int, int]


def _anonymous(directory: str) -> int | None:
    """A nameless file in ``directory``, or ``None`` where the system or filesystem has no ``O_TMPFILE``."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, PRIVATE_MODE)
    except OSError:  # EOPNOTSUPP/EISDIR/EINVAL on filesystems without it: fall back to a named file
        return None


def _name(fd: int, directory: str, name: str) -> None:
    """Give the anonymous file ``fd`` a name in ``directory``. A directory descriptor makes Python call
    ``linkat`` with ``AT_SYMLINK_FOLLOW`` (plain ``link`` does not follow ``/proc/self/fd`` and fails)."""
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def atomic_output(target: str) -> Iterator[AtomicOutput]:
    """Write ``target`` atomically (``OSError`` if it cannot be created). On any exception the target is
    left exactly as it was."""
    directory = os.path.dirname(os.path.abspath(target)) or "."
    fd = _anonymous(directory)
    temp: str | None = None
    if fd is None:
        temp = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.part")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), PRIVATE_MODE)
    try:
        st = os.fstat(fd)
        # backslashreplace: a missed non-UTF-8 name must never cost the whole output.
        handle = open(fd, "w", encoding="utf-8", errors="backslashreplace", newline="", closefd=True)  # noqa: SIM115
    except BaseException:
        os.close(fd)
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise
    try:
        with handle:
            yield AtomicOutput(handle, (st.st_dev, st.st_ino))
            handle.flush()
            os.fsync(handle.fileno())
            if temp is None:
                temp = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.part")
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)  # a leftover of an earlier run with our pid
                _name(handle.fileno(), directory, os.path.basename(temp))
        os.replace(temp, target)
    except BaseException:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise


def open_private_log(path: str) -> TextIO:
    """``path`` opened for appending, created ``0600`` (a log names where matches were found), never through
    a symbolic link (``OSError`` ``ELOOP``: a link planted where the log goes cannot redirect it). An
    existing file keeps its mode: an operator may have made it readable to a log group on purpose."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, PRIVATE_MODE)
    try:
        return open(fd, "a", encoding="utf-8", errors="backslashreplace", closefd=True)
    except BaseException:
        os.close(fd)
        raise
