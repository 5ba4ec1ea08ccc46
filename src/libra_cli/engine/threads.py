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
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from ..hashing import hash_ref
from ..models import HashConfig, HashResult, MediaRef
from ..queues import WakeQueue
from .base import Engine, EngineOptions, Waitable, register

#: References waiting per thread: enough to keep every thread busy between polls.
PER_THREAD = 64

_HUNG = "hashing this file made no progress for {:g} s (a stuck read?); it was not covered"


@dataclass
class _Slot:
    """What one thread is doing: the reference and since when (``None`` while idle)."""

    ref: MediaRef | None = None
    since: float = 0.0
    abandoned: bool = False


class ThreadsEngine(Engine):
    name = "threads"

    def __init__(self, config: HashConfig, options: EngineOptions) -> None:
        super().__init__(config, options)
        self._todo: queue.SimpleQueue[MediaRef | None] = queue.SimpleQueue()
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

    def _work(self, slot: _Slot) -> None:
        while True:
            ref = self._todo.get()
            if ref is None or self._stopping:
                return
            with self._lock:
                slot.ref, slot.since = ref, time.monotonic()

            def heartbeat() -> None:
                slot.since = time.monotonic()

            result = hash_ref(ref, self.config, heartbeat)
            with self._lock:
                if slot.abandoned:  # reported as hung meanwhile: its late result is dropped
                    return
                slot.ref = None
            self._done.put(result)

    def capacity(self) -> int:
        return max(0, PER_THREAD * max(1, self.options.workers) - self._pending)

    def submit(self, ref: MediaRef) -> None:
        self._pending += 1
        self._todo.put(ref)

    def pending(self) -> int:
        return self._pending

    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        if not len(self._done):
            wait([self._done, *wake], timeout=min(timeout, self._next_deadline()))  # type: ignore[list-item]
        out = self._done.take_all()
        self._check_deadlines(out)
        self._pending -= len(out)
        return out

    def _next_deadline(self) -> float:
        now = time.monotonic()
        with self._lock:
            busy = [s.since + self.options.timeout - now for s in self._slots if s.ref is not None]
        return max(0.0, min(busy)) if busy else 3600.0

    def _check_deadlines(self, out: list[HashResult]) -> None:
        now = time.monotonic()
        stuck: list[_Slot] = []
        with self._lock:
            for slot in self._slots:
                if slot.ref is not None and now - slot.since > self.options.timeout:
                    slot.abandoned = True
                    stuck.append(slot)
            self._slots = [s for s in self._slots if not s.abandoned]
        for slot in stuck:
            assert slot.ref is not None
            out.append(HashResult(slot.ref, None, error=_HUNG.format(self.options.timeout), fatal=True))
            self._spawn()

    def close(self, abort: bool = False) -> None:
        self._stopping = True
        for _ in range(len(self._slots)):
            self._todo.put(None)
        self._done.close()


register("threads", ThreadsEngine)
