"""Runs the pure worker function over many references in parallel processes, surviving crashes.

Why a process pool with a bounded window rather than ``Pool.imap``: a hostile file that crashes a
decoder kills its worker process; ``multiprocessing.Pool`` then hangs, while ``ProcessPoolExecutor``
reports a broken pool. We then retry the references that were in flight one by one in a fresh pool,
so the culprit is named in an error and every other file is still hashed.

Workers come from a ``forkserver``: they never inherit the parent's memory, so the decrypted hash
lists (which live only in the parent) are never in a worker's address space.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from .models import HashConfig, HashResult, MediaRef
from .pipeline import hash_ref

log = logging.getLogger("libra.workers")

#: References per task: amortises inter-process overhead, small enough to keep both cores busy.
BATCH = 8


def hash_batch(refs: tuple[MediaRef, ...], config: HashConfig) -> list[HashResult]:
    """Top-level (picklable) task: hash a few references in this worker process."""
    return [hash_ref(ref, config) for ref in refs]


def _init_worker() -> None:
    """One worker, one core: keep native libraries from spawning thread pools of their own."""
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover - OpenCV missing or built without threading
        pass


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class _Task:
    refs: tuple[MediaRef, ...]
    attempt: int = 0


def _crashed(ref: MediaRef) -> HashResult:
    return HashResult(
        ref=ref,
        media_type=None,
        error="the worker process died while hashing this file (a decoder crash); it was not covered",
    )


Task = Callable[[tuple[MediaRef, ...], HashConfig], list[HashResult]]


def hash_many(
    refs: Iterable[MediaRef], config: HashConfig, workers: int, task: Task = hash_batch
) -> Iterator[HashResult]:
    """Yield one ``HashResult`` per reference, in completion order.

    ``workers <= 1`` hashes in this process (no pool), which is also what small runs use. ``task`` must
    be a top-level function (it is pickled by name); tests pass one that crashes on purpose.
    """
    if workers <= 1:
        for ref in refs:
            yield from task((ref,), config)
        return
    yield from _PoolRun(refs, config, workers, task).results()


class _PoolRun:
    def __init__(self, refs: Iterable[MediaRef], config: HashConfig, workers: int, task: Task) -> None:
        self.task = task
        self.source = iter(refs)
        self.config = config
        self.workers = workers
        self.retry: deque[_Task] = deque()
        self.window = workers * 4

    def _next_task(self) -> _Task | None:
        if self.retry:
            return self.retry.popleft()
        batch: list[MediaRef] = []
        for ref in self.source:
            batch.append(ref)
            if len(batch) == BATCH:
                break
        return _Task(tuple(batch)) if batch else None

    def _executor(self) -> ProcessPoolExecutor:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["libra_cli.pipeline"])
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker)

    def results(self) -> Iterator[HashResult]:
        executor = self._executor()
        pending: dict[Future[list[HashResult]], _Task] = {}
        try:
            while True:
                while len(pending) < self._limit(pending):
                    task = self._next_task()
                    if task is None:
                        break
                    pending[executor.submit(self.task, task.refs, self.config)] = task
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    task = pending.pop(future)
                    try:
                        yield from future.result()
                    except BrokenProcessPool:
                        broken = True
                        yield from self._requeue(task)
                if broken:
                    for task in pending.values():
                        yield from self._requeue(task)
                    pending.clear()
                    executor.shutdown(wait=False, cancel_futures=True)
                    log.warning("worker process died; restarting the pool and retrying files one by one")
                    executor = self._executor()
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def _limit(self, pending: dict[Future[list[HashResult]], _Task]) -> int:
        """After a crash, retries run strictly one at a time, so a second crash names its culprit."""
        if self.retry or any(task.attempt for task in pending.values()):
            return 1
        return self.window

    def _requeue(self, task: _Task) -> Iterator[HashResult]:
        """Split a lost batch into single retries; a single that already failed is the culprit."""
        if len(task.refs) == 1 and task.attempt >= 1:
            yield _crashed(task.refs[0])
            return
        for ref in task.refs:
            self.retry.append(_Task((ref,), attempt=1 if len(task.refs) == 1 else task.attempt + 1))
