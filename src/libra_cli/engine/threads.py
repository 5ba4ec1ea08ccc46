"""The threads engine: exact digests in threads of this process, for hash sets that decode nothing.

When the lists hold only exact digests (an MD5 list, a hashdeep audit file), no decoder ever runs: a
file is read and fed to ``hashlib``/``blake3``, which release the GIL on large buffers, so threads
digest in parallel. Worker processes would only add start-up time (a forkserver, imports) and a pipe
per message; with no parsing of the file's content there is nothing for a process boundary to
contain. ``api.run`` picks this engine for such hash sets unless ``--engine`` says otherwise.

Deadlines still hold: a file whose thread makes no progress for ``timeout`` seconds (a read stuck on a
dead network mount) is reported as not covered and a fresh thread takes over the queue; the stuck
thread is abandoned (it cannot be killed) and ends with the process.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from ..hashing import hash_ref
from ..models import HashConfig, HashResult, MediaRef
from ..queues import Closed, WakeQueue
from .base import Engine, EngineOptions, Waitable, register

#: References waiting per thread: enough to keep every thread busy between polls.
PER_THREAD = 256
#: Most references a thread takes at once. A thread hands its results back per batch, so the main
#: loop wakes once per batch instead of once per file (per-file hand-offs between threads cost more
#: than hashing a small file). A smaller share is taken when little is queued, so no thread idles.
BATCH = 32

_HUNG = "hashing this file made no progress for {:g} s (a stuck read?); it was not covered"


@dataclass
class _Slot:
    """What one thread is doing: its batch, the index being hashed and since when, and what it finished.

    The thread writes ``current``/``since`` and appends to ``done`` without the lock (single attribute
    writes and list appends are atomic); the deadline check reads them under the lock and, for a stuck
    file, keeps ``done``, requeues the rest of the batch and abandons the thread.
    """

    batch: list[MediaRef] = field(default_factory=list)
    current: int = 0
    since: float = 0.0
    done: list[HashResult] = field(default_factory=list)
    abandoned: bool = False


class ThreadsEngine(Engine):
    name = "threads"

    def __init__(self, config: HashConfig, options: EngineOptions) -> None:
        super().__init__(config, options)
        self._todo: deque[MediaRef] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._done: WakeQueue[HashResult] = WakeQueue(maxsize=1 << 30)
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()
        self._pending = 0
        self._names = itertools.count()
        self._stopping = False

    def start(self) -> None:
        for _ in range(max(1, self.options.workers)):
            self._spawn()

    def _spawn(self) -> None:
        slot = _Slot()
        with self._lock:
            self._slots.append(slot)
        threading.Thread(target=self._work, args=(slot,), name=f"libra-digest-{next(self._names)}", daemon=True).start()

    def _take(self) -> list[MediaRef] | None:
        """The next batch for a thread (``None``: stop). A fair share of what waits, at most ``BATCH``."""
        with self._ready:
            while not self._todo and not self._stopping:
                self._ready.wait()
            if self._stopping:
                return None
            share = max(1, min(BATCH, len(self._todo) // max(1, self.options.workers)))
            return [self._todo.popleft() for _ in range(min(share, len(self._todo)))]

    def _work(self, slot: _Slot) -> None:
        def heartbeat() -> None:
            slot.since = time.monotonic()

        while True:
            batch = self._take()
            if batch is None:
                return
            with self._lock:
                if slot.abandoned:
                    return
                slot.batch, slot.done, slot.current, slot.since = batch, [], 0, time.monotonic()
            for index, ref in enumerate(batch):
                if slot.abandoned:  # the deadline check gave the rest of the batch to another thread
                    return
                slot.since = time.monotonic()
                slot.current = index
                slot.done.append(hash_ref(ref, self.config, heartbeat))
            with self._lock:
                if slot.abandoned:  # reported as hung meanwhile: its late results are dropped
                    return
                results, slot.batch, slot.done = slot.done, [], []
            try:
                self._done.put_many(results)
            except (Closed, OSError):  # the run ended (closed the queue) while this batch was hashed
                return

    def capacity(self) -> int:
        return max(0, PER_THREAD * max(1, self.options.workers) - self._pending)

    def submit(self, ref: MediaRef) -> None:
        self.submit_many([ref])

    def submit_many(self, refs: Sequence[MediaRef]) -> None:
        """Queue several references with one lock and one wake-up."""
        if not refs:
            return
        self._pending += len(refs)
        with self._ready:
            self._todo.extend(refs)
            self._ready.notify(len(self._slots))

    def pending(self) -> int:
        return self._pending

    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        if not len(self._done):
            wait([self._done, *wake], timeout=min(timeout, self._next_deadline()))  # type: ignore[list-item]
        out = self._done.take()
        self._check_deadlines(out)
        self._pending -= len(out)
        return out

    def _next_deadline(self) -> float:
        now = time.monotonic()
        with self._lock:
            busy = [s.since + self.options.timeout - now for s in self._slots if s.batch]
        return max(0.0, min(busy)) if busy else 3600.0

    def _check_deadlines(self, out: list[HashResult]) -> None:
        now = time.monotonic()
        stuck: list[MediaRef] = []
        with self._lock:
            for slot in self._slots:
                index = slot.current
                if not slot.batch or now - slot.since <= self.options.timeout or len(slot.done) != index:
                    continue  # idle, progressing, or between two files
                slot.abandoned = True
                out.extend(slot.done[:index])
                stuck.append(slot.batch[index])
                rest = slot.batch[index + 1 :]
                if rest:
                    with self._ready:
                        self._todo.extendleft(reversed(rest))
                        self._ready.notify()
            self._slots = [s for s in self._slots if not s.abandoned]
        for ref in stuck:
            out.append(HashResult(ref, None, error=_HUNG.format(self.options.timeout), fatal=True))
            self._spawn()

    def close(self, abort: bool = False) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        self._done.close()


register("threads", ThreadsEngine)
