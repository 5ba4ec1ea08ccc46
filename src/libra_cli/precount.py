"""A cheap count of the files a scan will hash, in its own thread, so progress has a total and an ETA early.

The real walk runs at most a queue's length ahead of the hashing (memory stays flat), so its count
of files found reaches the true total only near the end. This count walks the local targets on its
own, reading only directory entries (``os.scandir``: names and ``stat``), with the walk's rules
(excludes, size cap, --since, symlinks, one filesystem), and never delays the walk, the hashing or a finding:
it is only a display hint, and the exact count takes over when the walk ends. Remote targets
(``s3://``) are not counted: listing a bucket twice would cost requests and money.

>>> counter = PreCount(["/srv/uploads"], WalkOptions()).start()  # doctest: +SKIP
>>> counter.done, counter.files  # doctest: +SKIP
(True, 120345)
"""

from __future__ import annotations

import fnmatch
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence

from .storage.base import WalkOptions, scheme_of
from .storage.walker import distinct_targets

#: Entries counted between two yields of the interpreter lock, so the count never starves the main loop.
YIELD_EVERY = 256


class PreCount:
    """Counts regular files (and their bytes) under local ``targets`` in a daemon thread.

    ``on_done`` is called (in the counting thread) with the total when the count is complete.
    """

    def __init__(
        self, targets: Sequence[str], options: WalkOptions, on_done: Callable[[int], None] | None = None
    ) -> None:
        self.targets = [t for t in distinct_targets(targets) if scheme_of(t) == "file"]
        self.remote = len(self.targets) != len(distinct_targets(targets))
        self.options = options
        self.on_done = on_done
        self.files = 0
        self.bytes = 0
        self.done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="libra-precount", daemon=True)

    @property
    def total(self) -> int | None:
        """The number of files to hash, once counted (``None`` while counting, or with remote targets)."""
        return self.files if self.done and not self.remote else None

    def start(self) -> PreCount:
        if self.targets and not self.remote:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        try:
            for target in self.targets:
                self._target(os.path.abspath(target))
                if self._stop.is_set():
                    return
        except Exception:  # only a hint: a failed count leaves the total unknown, never the scan
            return
        self.done = not self._stop.is_set()
        if self.done and self.on_done is not None:
            self.on_done(self.files)

    def _target(self, root: str) -> None:
        try:
            st = os.stat(root)
        except OSError:
            return
        if not stat.S_ISDIR(st.st_mode):
            self._file(st)
            return
        seen = {(st.st_dev, st.st_ino)}
        stack = [root]
        steps = 0
        while stack and not self._stop.is_set():
            try:
                with os.scandir(stack.pop()) as entries:
                    listing = list(entries)
            except OSError:
                continue
            for entry in listing:
                steps += 1
                if steps % YIELD_EVERY == 0:
                    time.sleep(0)  # let the main loop and the walk run
                if self._excluded(entry):
                    continue
                try:
                    est = entry.stat(follow_symlinks=self.options.follow_symlinks)
                except OSError:
                    continue
                if stat.S_ISDIR(est.st_mode):
                    key = (est.st_dev, est.st_ino)
                    if key in seen or (self.options.one_file_system and est.st_dev != st.st_dev):
                        continue
                    seen.add(key)
                    stack.append(entry.path)
                else:
                    self._file(est)

    def _excluded(self, entry: os.DirEntry[str]) -> bool:
        patterns = self.options.exclude
        return any(fnmatch.fnmatch(entry.name, p) or fnmatch.fnmatch(entry.path, p) for p in patterns)

    def _file(self, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            return
        limit = self.options.max_file_size
        if limit is not None and st.st_size > limit:
            return
        if self.options.since is not None and st.st_mtime < self.options.since:
            return
        self.files += 1
        self.bytes += st.st_size
