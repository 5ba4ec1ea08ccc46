"""A bounded queue between two threads that a ``select``-style wait can watch.

The source stage (walking folders, listing buckets) runs in its own thread and hands references to
the main loop through this queue. The main loop must wait for two things at once, worker results
and new references, so besides blocking ``put`` (back-pressure: a walk never runs far ahead of the
hashing) the queue has a ``fileno()`` that is readable whenever items are waiting or the producer is
done: ``multiprocessing.connection.wait`` watches it beside the worker pipes.

>>> q = WakeQueue(maxsize=2)
>>> q.put("a"); q.get_nowait()
'a'
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Closed(Exception):
    """The consumer went away (``abort``): the producer stops putting."""


class WakeQueue(Generic[T]):
    """Bounded FIFO with a readable file descriptor while items wait or the producer has finished."""

    def __init__(self, maxsize: int) -> None:
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        self._signalled = False
        self.finished = False  #: the producer will put nothing more
        self.aborted = False
        self.error: BaseException | None = None  #: what ended the producer, if it failed

    def fileno(self) -> int:
        return self._read

    def _signal(self) -> None:
        if not self._signalled:
            self._signalled = True
            os.write(self._write, b"x")

    def _unsignal(self) -> None:
        if self._signalled and not self._items and not self.finished:
            self._signalled = False
            with contextlib.suppress(BlockingIOError):  # the byte is always there when signalled
                os.read(self._read, 64)

    def put(self, item: T) -> None:
        """Add ``item``, waiting while the queue is full; ``Closed`` once the consumer aborted."""
        self.put_many([item])

    def put_many(self, items: list[T]) -> None:
        """Add several items at once (one lock, one wake-up), waiting while the queue is full."""
        with self._cond:
            while len(self._items) >= self._maxsize and not self.aborted:
                self._cond.wait()
            if self.aborted:
                raise Closed
            self._items.extend(items)
            self._signal()

    def take(self, limit: int | None = None) -> list[T]:
        """Up to ``limit`` items waiting right now (every one with ``None``), in order, under one lock: a
        busy consumer drains in bursts."""
        with self._cond:
            if limit is None or limit >= len(self._items):
                items = list(self._items)
                self._items.clear()
            else:
                items = [self._items.popleft() for _ in range(limit)]
            if items:
                self._cond.notify_all()
            self._unsignal()
            return items

    def finish(self, error: BaseException | None = None) -> None:
        """The producer is done (``error`` if it failed): the descriptor stays readable from now on."""
        with self._cond:
            self.finished = True
            self.error = error
            self._signal()

    def get_nowait(self) -> T | None:
        """The next item, or ``None`` if none is waiting right now."""
        with self._cond:
            if not self._items:
                self._unsignal()
                return None
            item = self._items.popleft()
            self._cond.notify()
            self._unsignal()
            return item

    @property
    def drained(self) -> bool:
        """The producer finished and every item was taken."""
        with self._cond:
            return self.finished and not self._items

    def __len__(self) -> int:
        return len(self._items)

    def abort(self) -> None:
        """The consumer stops: a producer blocked in ``put`` wakes up with ``Closed``."""
        with self._cond:
            self.aborted = True
            self._cond.notify_all()

    def close(self) -> None:
        self.abort()
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)
