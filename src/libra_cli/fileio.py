"""Reading the small files an operator names (keys, lists, sources) with one-sentence errors.

Only regular files are read: a FIFO, ``/dev/zero`` or a terminal named by mistake would otherwise
hang the run or fill memory. Every failure is one ``LibraError`` sentence naming the file.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .errors import LibraError


def open_regular(path: str, what: str, kind: str, error: type[LibraError]) -> BinaryIO:
    """Open ``path`` for reading, or raise ``error("<what> <path>: ...")``; ``kind`` names what it should be."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{what} {path}: is a directory, not a {kind}")
        if not stat.S_ISREG(mode):
            raise error(f"{what} {path}: is not a regular file, not a {kind}")
        return open(path, "rb")
    except FileNotFoundError:
        raise error(f"{what} {path}: no such file") from None
    except OSError as err:
        raise error(f"{what} {path}: cannot be read ({err.strerror})") from None


def read_regular(path: str, what: str, kind: str, error: type[LibraError], limit: int | None = None) -> bytes:
    """All bytes of a regular file (at most ``limit``), or one sentence naming the problem."""
    with open_regular(path, what, kind, error) as handle:
        try:
            data = handle.read(-1 if limit is None else limit + 1)
        except OSError as err:
            raise error(f"{what} {path}: cannot be read ({err.strerror})") from None
    if limit is not None and len(data) > limit:
        raise error(f"{what} {path}: is larger than {limit} bytes, too large for a {kind}")
    return data
