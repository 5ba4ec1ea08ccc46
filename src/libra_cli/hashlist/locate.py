"""Where lists are: a ``--list`` value may be a folder of ``*.libra`` files (like clamscan's ``--database=DIR``),
and a scan target that is itself a list is almost always a mistyped command line.

>>> expand_list_paths(["/etc/libra/lists", "extra.libra"])         # doctest: +SKIP
['/etc/libra/lists/iwf.libra', '/etc/libra/lists/ncmec.libra', 'extra.libra']
>>> looks_like_list("/etc/libra/lists/ncmec.libra")                 # doctest: +SKIP
True
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from ..errors import ConfigError
from .container import MAGIC_PREFIX

#: The suffix a list needs to be picked up from a folder. ``NAME.libra.previous`` (kept by
#: ``libra hashlist update`` for rollback) and temporary files of an update in progress never match it.
LIST_SUFFIX = ".libra"


def lists_in_folder(folder: str) -> list[str]:
    """The ``*.libra`` regular files directly in ``folder``, sorted by name (hidden files skipped)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as err:
        raise ConfigError(f"list folder {folder}: cannot be read ({err.strerror})") from None
    found = []
    for name in names:
        if name.startswith(".") or not name.endswith(LIST_SUFFIX):
            continue
        path = os.path.join(folder, name)
        try:
            if stat.S_ISREG(os.stat(path).st_mode):
                found.append(path)
        except OSError:  # vanished or a dangling link: loading it would fail with a clearer sentence
            found.append(path)
    return found


def expand_list_paths(paths: Iterable[str]) -> list[str]:
    """``--list`` values with each folder replaced by the ``*.libra`` files in it (sorted; not recursive).

    A file is kept as given (it may be a plain age file with any name); a folder with no ``*.libra`` file is
    one sentence. The same file named twice (directly and through its folder) is loaded once.
    """
    out: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            found = lists_in_folder(path)
            if not found:
                raise ConfigError(f"list folder {path} holds no *.libra file")
        else:
            found = [path]
        for item in found:
            key = os.path.realpath(item)
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out


def looks_like_list(path: str) -> bool:
    """Whether ``path`` is a libra hash list, judged by its magic line only (nothing is decrypted).

    For a scan to refuse a target that is a list (``libra scan -l a.libra b.libra /srv``: did you mean
    ``--list``?). Folders, special files and unreadable paths are not lists.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC_PREFIX)) == MAGIC_PREFIX
    except OSError:
        return False
