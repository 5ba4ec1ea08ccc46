"""Local filesystem backend: walks directories with ``os.scandir``, opens files checked against the walk.

The walk is iterative (a hostile tree thousands of folders deep costs a list entry per level, never a
stack frame). Workers open by path long after the walk, so ``open`` refuses to be fooled by a race:
``O_NOFOLLOW | O_NONBLOCK`` (a file swapped for a symlink or a FIFO cannot redirect or hang the read),
then ``fstat`` of the descriptor: it must be a regular file with the inode the walk saw. The device
number is not compared: it differs between clients of one network filesystem.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import FileTooLarge, StorageError
from ..models import MediaRef, Skip
from .base import Changed, Gone, Storage, WalkError, WalkItem, WalkOptions, register, resized


def _excluded(path: str, name: str, patterns: tuple[str, ...]) -> bool:
    if not patterns:  # the usual case, asked once per file walked
        return False
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in patterns)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


#: How workers open a file: never through a swapped-in link, never blocking on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC

#: Why a second name of a file already walked is not hashed again (``--follow-symlinks``).
_DUPLICATE = "the same file as a path already scanned in this folder (reached again through a link)"


class LocalStorage(Storage):
    """Plain paths. Symlinks are not followed unless asked; each real folder is entered once."""

    scheme = "file"

    def walk(self, target: str, options: WalkOptions) -> Iterator[WalkItem]:
        root = os.path.abspath(target)
        try:
            st = os.stat(root)  # a link named on the command line is followed, as ``find -H`` does
        except OSError as err:
            yield WalkError(root, err.strerror or str(err))
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self._walk_dir(root, st.st_dev, options, {(st.st_dev, st.st_ino)}, set())
        else:
            yield self._item(root, st, options)

    def _item(self, path: str, st: os.stat_result, options: WalkOptions) -> WalkItem:
        if (st.st_dev, st.st_ino) in options.own_files:
            return Skip(path, "libra's own output file", "own_output", listed=False)
        if not stat.S_ISREG(st.st_mode):
            kind = _kind(st.st_mode)
            rule = "symlink" if kind == "symlink" else "special_file"
            reason = "a symbolic link, not followed (--follow-symlinks)" if rule == "symlink" else kind
            return Skip(path, reason, rule)
        if options.max_file_size is not None and st.st_size > options.max_file_size:
            return Skip(path, f"larger than --max-file-size ({st.st_size} bytes)", "max_file_size")
        if options.since is not None and st.st_mtime < options.since:
            return Skip(path, "not modified since --since", "since", listed=False)
        return MediaRef(path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)

    def _walk_dir(
        self, root: str, device: int, options: WalkOptions, seen: set[tuple[int, int]], files: set[int]
    ) -> Iterator[WalkItem]:
        """Depth-first, names sorted, with an explicit stack of open listings.

        Following links, one real file can be reached under several names (a link to a file, a link to a
        folder, a hard link): ``files`` holds each file's (device, inode) as one integer, and every later
        name of it is a listed ``duplicate`` skip, so it is hashed and counted once and every name walked is
        still accounted for. Without ``--follow-symlinks`` nothing is kept (each name is its own file).
        """
        first = self._entries(root)
        if isinstance(first, WalkError):
            yield first
            return
        stack: list[Iterator[os.DirEntry[str]]] = [first]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            path = entry.path
            if options.exclude and _excluded(path, entry.name, options.exclude):
                yield Skip(path, "excluded (--exclude)", "exclude", listed=False)
                continue
            try:
                st = entry.stat(follow_symlinks=options.follow_symlinks)
            except OSError as err:
                yield WalkError(path, err.strerror or str(err))
                continue
            if not stat.S_ISDIR(st.st_mode):
                item = self._item(path, st, options)
                if options.follow_symlinks and isinstance(item, MediaRef):
                    real = (st.st_dev << 64) | st.st_ino
                    if real in files:
                        item = Skip(path, _DUPLICATE, "duplicate")
                    files.add(real)
                yield item
                continue
            if options.one_file_system and st.st_dev != device:
                yield Skip(path, "on another filesystem (--one-file-system)", "other_filesystem", listed=False)
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
        fd = self._checked_fd(ref)
        try:
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def read(self, ref: MediaRef, limit: int) -> tuple[bytes, MediaRef]:
        """The whole file with plain ``read`` calls on the checked descriptor (no buffered file object):
        most files of a tree are small, and for them the wrapper costs as much as the read itself."""
        fd = self._checked_fd(ref)
        try:
            want = min(limit, max(ref.size, 0)) + 1
            parts: list[bytes] = []
            got = 0
            while got <= limit:
                part = os.read(fd, max(want - got, 1 << 16))
                if not part:
                    break
                parts.append(part)
                got += len(part)
        except OSError as err:
            raise StorageError(f"the file cannot be read: {err.strerror or err}") from None
        finally:
            os.close(fd)
        if got > limit:
            raise FileTooLarge(f"larger than the {limit}-byte in-memory limit")
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return data, ref if got == ref.size else resized(ref, got)

    def _checked_fd(self, ref: MediaRef) -> int:
        """A descriptor of ``ref`` opened without following a swapped-in link or blocking on a FIFO, and
        checked to be the regular file (inode) the walk saw."""
        try:
            fd = os.open(ref.uri, _OPEN_FLAGS)
        except FileNotFoundError:
            raise Gone("the file was removed during the scan") from None
        except OSError as err:
            if err.errno != errno.ELOOP:
                raise StorageError(f"the file cannot be read: {err.strerror or err}") from None
            fd = self._open_link(ref)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Changed(f"the file was replaced by {_kind(st.st_mode)} during the scan; it was not read")
            if ref.inode is not None and st.st_ino != ref.inode:
                raise Changed("the file was replaced by another file during the scan; it was not read")
            return fd
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def _open_link(ref: MediaRef) -> int:
        """A symlink where the walk saw a file: only acceptable if it leads to that very file (the walk
        followed it, with --follow-symlinks); the inode check in ``open`` decides."""
        try:
            return os.open(ref.uri, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
        except FileNotFoundError:
            raise Changed("the file was replaced by a broken symbolic link during the scan") from None
        except OSError as err:
            raise StorageError(f"the file cannot be read: {err.strerror or err}") from None


register("file", LocalStorage)
