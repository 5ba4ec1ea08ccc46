"""``--nice``: a daytime scan gives way to the server's real work, for CPU and for disk.

Lowers this process's CPU priority to niceness 10 (as ``nice -n 10`` from 0; a process already at 10
or nicer is left there, so calling it twice changes nothing) and its I/O priority to the idle
class (as ``ionice -c 3``: the disk serves libra only when nothing else asks). Worker processes are
started after this and inherit both. The I/O class is set with the Linux ``ioprio_set`` system call;
it takes effect with the BFQ (and the older CFQ) disk scheduler and is ignored by ``mq-deadline`` and
``none``, which most NVMe and virtual disks use: there, ``--max-rate`` is what bounds the disk load.
On systems without ``ioprio_set`` only the CPU priority changes, and the result says so.

>>> lower_priority()  # doctest: +SKIP
Priority(nice=10, io_class='idle')
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from dataclasses import dataclass

#: The niceness ``--nice`` runs at, at least (systemd's ``Nice=10``).
NICENESS = 10
#: ``ioprio_set`` numbers, from the kernel's ``include/uapi/linux/ioprio.h``.
IOPRIO_WHO_PROCESS = 1
IOPRIO_CLASS_IDLE = 3
IOPRIO_CLASS_SHIFT = 13
#: The ``ioprio_set``/``ioprio_get`` system call numbers per architecture (``asm/unistd``).
_SYSCALLS = {
    "x86_64": (251, 252),
    "i386": (289, 290),
    "i686": (289, 290),
    "aarch64": (30, 31),
    "arm64": (30, 31),
    "riscv64": (30, 31),
    "armv7l": (314, 315),
    "ppc64le": (273, 274),
    "s390x": (282, 283),
}


@dataclass(frozen=True)
class Priority:
    """The priority the process runs at after ``lower_priority``."""

    nice: int
    io_class: str | None  #: ``"idle"``, or ``None`` when the I/O priority could not be set


def _syscall(number: int, *args: int) -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return int(libc.syscall(number, *args))


def _numbers() -> tuple[int, int] | None:
    """(ioprio_set, ioprio_get) on Linux on a known architecture, else ``None``."""
    return _SYSCALLS.get(platform.machine().lower()) if platform.system() == "Linux" else None


def io_priority_class() -> int | None:
    """This process's I/O scheduling class (0 none, 1 real-time, 2 best-effort, 3 idle), if readable."""
    numbers = _numbers()
    if numbers is None:
        return None
    try:
        value = _syscall(numbers[1], IOPRIO_WHO_PROCESS, 0)
    except (OSError, AttributeError):
        return None
    return None if value < 0 else value >> IOPRIO_CLASS_SHIFT


def _set_idle_io() -> bool:
    numbers = _numbers()
    if numbers is None:
        return False
    try:
        return _syscall(numbers[0], IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) == 0
    except (OSError, AttributeError):
        return False


def lower_priority(niceness: int = NICENESS) -> Priority:
    """Lower the CPU priority to ``niceness`` (unless it is already that low) and the I/O priority to idle."""
    try:
        nice = os.nice(0)
        if nice < niceness:
            nice = os.nice(niceness - nice)
    except (OSError, AttributeError):  # pragma: no cover - a system without nice(2)
        nice = 0
    return Priority(nice, "idle" if _set_idle_io() else None)
