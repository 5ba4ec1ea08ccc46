"""An engine started at the first file that needs hashing, not at the start of the run.

A rescan with a state answers unchanged files from stored hashes: when nothing changed, nothing needs a
worker, and starting a pool (processes, imports, a cluster connection) would be most of the run's cost.
The pipeline wraps the engine in this when a filter may answer files; the real engine is created and
started on the first ``submit``, and until then waiting means waiting for the walk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from multiprocessing.connection import wait

from .engine import Engine
from .engine.base import EngineOptions, Waitable
from .models import HashConfig, HashResult, MediaRef


class LazyEngine(Engine):
    name = "lazy"

    def __init__(self, factory: Callable[[], Engine]) -> None:
        super().__init__(HashConfig(), EngineOptions())
        self._factory = factory
        self._engine: Engine | None = None

    @property
    def started(self) -> bool:
        return self._engine is not None

    def _real(self) -> Engine:
        if self._engine is None:
            engine = self._factory()
            try:
                engine.start()
            except BaseException:  # a start cut short (Ctrl-C, a cluster that never came up): stop what it began
                engine.close(abort=True)
                raise
            self._engine = engine
        return self._engine

    def capacity(self) -> int:
        return 1 if self._engine is None else self._engine.capacity()  # one walk item at a time until then

    def pending(self) -> int:
        return 0 if self._engine is None else self._engine.pending()

    def submit(self, ref: MediaRef) -> None:
        self._real().submit(ref)

    def submit_many(self, refs: Sequence[MediaRef]) -> None:
        if refs:
            self._real().submit_many(refs)

    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        if self._engine is not None:
            return self._engine.poll(timeout, wake)
        if wake:
            wait(list(wake), timeout=timeout)  # type: ignore[arg-type]
        return []

    def close(self, abort: bool = False) -> None:
        if self._engine is not None:
            self._engine.close(abort)
