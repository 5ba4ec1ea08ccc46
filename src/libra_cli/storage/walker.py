"""The source stage: walk many targets, in their own thread, as one stream of walk items.

Walking folders or listing a bucket page by page can be slow; in its own thread it never stalls
dispatching work to the hash engine or matching results. Items go through a bounded queue, so the
walk runs at most a queue's length ahead of the hashing and memory stays flat on any tree.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence

from ..errors import LibraError
from ..models import MediaRef, Skip
from ..queues import Closed, WakeQueue
from ..textsafe import one_line
from .base import StorageOptions, WalkError, WalkItem, WalkOptions, scheme_of, storage_for

#: Walk items buffered between the walk thread and the main loop.
QUEUE_SIZE = 2048
#: Walk items handed on together while the consumer is busy.
PUT_BATCH = 32


def distinct_targets(targets: Sequence[str]) -> list[str]:
    """Targets without repeats or local paths inside another local target, so no file is reported twice.

    >>> distinct_targets(["/srv/a", "/srv/a/b.jpg", "/srv/a/", "/srv/c"])
    ['/srv/a', '/srv/c']
    """
    local = {t: os.path.abspath(t) for t in targets if scheme_of(t) == "file"}
    kept: list[str] = []
    seen: set[str] = set()
    for target in targets:
        key = local.get(target, target)
        if key in seen:
            continue
        inside = any(key != other and key.startswith(other.rstrip(os.sep) + os.sep) for other in local.values())
        if not inside:
            seen.add(key)
            kept.append(target)
    return kept


class Source:
    """Walks ``targets`` (and single named locations from ``named``) into ``queue`` from a thread.

    ``named`` may also yield ``Skip`` items (lines of a ``--files-from`` list that name nothing to
    scan): they are passed on as they are, so they are counted.

    ``discovered`` and ``discovered_bytes`` count references found so far (for progress displays).
    """

    def __init__(
        self,
        targets: Sequence[str],
        walk: WalkOptions,
        storage: StorageOptions | None = None,
        named: Iterable[str | Skip] = (),
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.targets = distinct_targets(targets)
        self.walk_options = walk
        self.storage = storage or StorageOptions()
        self.named = named
        self.queue: WakeQueue[WalkItem] = WakeQueue(queue_size)
        self.discovered = 0
        self.discovered_bytes = 0
        self._pending: list[WalkItem] = []
        self._thread = threading.Thread(target=self._run, name="libra-walk", daemon=True)

    def start(self) -> Source:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for target in self.targets:
                self._walk(target)
            for uri in self.named:  # --files-from: one named location at a time, lazily
                self._put(uri if isinstance(uri, Skip) else self._stat(uri))
            self._flush()
        except Closed:
            self.queue.finish()
            return
        except BaseException as err:  # a bug in the walk: the scan must end with code 2, not hang
            self.queue.finish(err)
            return
        self.queue.finish()

    def _walk(self, target: str) -> None:
        try:
            backend = storage_for(target, self.storage)
            for item in backend.walk(target, self.walk_options):
                self._put(item)
        except Closed:
            raise
        except LibraError as err:
            self._put(WalkError(target, str(err)))
        except Exception as err:  # a backend's own failure costs its target, never the scan
            self._put(WalkError(target, f"the storage backend failed ({type(err).__name__}: {one_line(err)})"))

    def _stat(self, uri: str) -> WalkItem:
        try:
            return storage_for(uri, self.storage).stat(uri, self.walk_options)
        except LibraError as err:
            return WalkError(uri, str(err))
        except Exception as err:
            return WalkError(uri, f"the storage backend failed ({type(err).__name__}: {one_line(err)})")

    def _put(self, item: WalkItem) -> None:
        """Hand ``item`` on: at once while the consumer waits for work, else in runs of ``PUT_BATCH``
        (one lock and one wake-up per run: on a tree of small files the hand-off costs as much as the
        hashing)."""
        if isinstance(item, MediaRef):
            self.discovered += 1
            self.discovered_bytes += item.size
        self._pending.append(item)
        if len(self._pending) >= PUT_BATCH or not len(self.queue):
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            items, self._pending = self._pending, []
            self.queue.put_many(items)

    def stop(self) -> None:
        """Stop the walk thread (after an interrupt or error) and release the queue."""
        self.queue.abort()
        self._thread.join(timeout=5)
        self.queue.close()
