"""Local filesystem backend: walks directories with ``os.scandir``, reads files into memory."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import StorageError
from ..models import MediaRef
from .base import Skipped, Storage, WalkError, WalkItem, WalkOptions, register


def _excluded(path: str, name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in patterns)


class LocalStorage(Storage):
    """Plain paths. Symlinks are not followed unless asked; each real file is yielded once."""

    scheme = "file"

    def walk(self, target: str, options: WalkOptions) -> Iterator[WalkItem]:
        root = os.path.abspath(target)
        try:
            st = os.stat(root)  # a link named on the command line is followed, as ``find -H`` does
        except OSError as err:
            yield WalkError(root, err.strerror or str(err))
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self._walk_dir(root, st.st_dev, options, {(st.st_dev, st.st_ino)})
        else:
            yield self._item(root, st, options)

    def _item(self, path: str, st: os.stat_result, options: WalkOptions) -> WalkItem:
        if (st.st_dev, st.st_ino) in options.own_files:
            return Skipped(path, "libra's own output file", notable=False)
        if not stat.S_ISREG(st.st_mode):
            kind = "symlink" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            return Skipped(path, kind)
        if options.max_file_size is not None and st.st_size > options.max_file_size:
            return Skipped(path, f"larger than --max-file-size ({st.st_size} bytes)")
        return MediaRef(uri=path, size=st.st_size, mtime=st.st_mtime, inode=st.st_ino, device=st.st_dev)

    def _walk_dir(
        self, root: str, device: int, options: WalkOptions, seen: set[tuple[int, int]]
    ) -> Iterator[WalkItem]:
        """Depth-first, names sorted, with an explicit stack: a tree thousands of folders deep (a hostile
        upload) costs one list entry per level, never a Python stack frame, so it cannot crash the scan."""
        stack: list[Iterator[os.DirEntry[str]]] = []
        pending = self._entries(root)
        if isinstance(pending, WalkError):
            yield pending
            return
        stack.append(pending)
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            path = entry.path
            if _excluded(path, entry.name, options.exclude):
                yield Skipped(path, "excluded (--exclude)", notable=False)
                continue
            try:
                st = entry.stat(follow_symlinks=options.follow_symlinks)
            except OSError as err:
                yield WalkError(path, err.strerror or str(err))
                continue
            if not stat.S_ISDIR(st.st_mode):
                yield self._item(path, st, options)
                continue
            if options.one_file_system and st.st_dev != device:
                yield Skipped(path, "on another filesystem (--one-file-system)")
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:  # a symlink loop
                continue
            seen.add(key)
            children = self._entries(path)
            if isinstance(children, WalkError):
                yield children
            else:
                stack.append(children)

    @staticmethod
    def _entries(directory: str) -> Iterator[os.DirEntry[str]] | WalkError:
        """A folder's entries sorted by name (a stable order for findings), or why it cannot be listed."""
        try:
            with os.scandir(directory) as it:
                return iter(sorted(it, key=lambda e: e.name))
        except OSError as err:
            return WalkError(directory, err.strerror or str(err))

    def open(self, ref: MediaRef) -> BinaryIO:
        try:
            return open(ref.uri, "rb")
        except OSError as err:
            raise StorageError(f"{ref.uri}: {err.strerror or err}") from None


register("file", LocalStorage)
