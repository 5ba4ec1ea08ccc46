"""The in-process engine: hashes in the calling process, one file per ``poll``.

For tests, small runs and ``--workers 1``. It has no crash or hang protection (a decoder that
crashes takes the run with it, a hang hangs it): the documented price of having no worker process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import wait

from ..hashing import hash_ref
from ..models import HashConfig, HashResult, MediaRef
from .base import Engine, EngineOptions, Waitable, register

#: References queued ahead of the one being hashed: enough to keep the loop simple, small for memory.
WINDOW = 4


class InProcessEngine(Engine):
    name = "inprocess"

    def __init__(self, config: HashConfig, options: EngineOptions) -> None:
        super().__init__(config, options)
        self._queue: deque[MediaRef] = deque()

    def capacity(self) -> int:
        return max(0, WINDOW - len(self._queue))

    def submit(self, ref: MediaRef) -> None:
        self._queue.append(ref)

    def pending(self) -> int:
        return len(self._queue)

    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        if self._queue:
            return [hash_ref(self._queue.popleft(), self.config)]
        if wake:
            wait(list(wake), timeout=timeout)  # type: ignore[arg-type]
        return []


register("inprocess", InProcessEngine)
