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

from .lifeline import die_with_parent
from .models import HashConfig, HashResult, MediaRef
from .pipeline import hash_ref

log = logging.getLogger("libra.workers")

#: References per task: amortises inter-process overhead, small enough to keep both cores busy.
BATCH = 8


def hash_batch(refs: tuple[MediaRef, ...], config: HashConfig) -> list[HashResult]:
    """Top-level (picklable) task: hash a few references in this worker process."""
    return [hash_ref(ref, config) for ref in refs]


def _init_worker() -> None:
    """One worker, one core, dying with its parent: keep native libraries from spawning threads."""
    die_with_parent()
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


#: Default for ``timeout``: a worker pool with no result for this long has a file that hangs a decoder.
DEFAULT_TIMEOUT = 300.0

_CRASHED = "the worker process died while hashing this file (a decoder crash); it was not covered"
_HUNG = "hashing this file took longer than {:g} s, so its worker was stopped; it was not covered"


def _lost(ref: MediaRef, reason: str) -> HashResult:
    return HashResult(ref=ref, media_type=None, error=reason)


Task = Callable[[tuple[MediaRef, ...], HashConfig], list[HashResult]]


def hash_many(
    refs: Iterable[MediaRef],
    config: HashConfig,
    workers: int,
    task: Task = hash_batch,
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[HashResult]:
    """Yield one ``HashResult`` per reference, in completion order.

    ``workers <= 1`` hashes in this process (no pool, so no crash or hang protection), which is what
    small runs use. With a pool, a worker that crashes, or a pool that returns nothing for ``timeout``
    seconds, is replaced and the file responsible is reported. ``task`` must be a top-level function
    (it is pickled by name); tests pass ones that crash or hang on purpose.
    """
    if workers <= 1:
        for ref in refs:
            yield from task((ref,), config)
        return
    yield from _PoolRun(refs, config, workers, task, timeout).results()


class _PoolRun:
    def __init__(self, refs: Iterable[MediaRef], config: HashConfig, workers: int, task: Task, timeout: float) -> None:
        self.task = task
        self.timeout = timeout
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
        ctx.set_forkserver_preload(["libra_cli._forkserver", "libra_cli.pipeline"])
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker)

    def results(self) -> Iterator[HashResult]:
        executor = self._executor()
        pending: dict[Future[list[HashResult]], _Task] = {}
        finished = False
        try:
            while True:
                while len(pending) < self._limit(pending):
                    task = self._next_task()
                    if task is None:
                        break
                    pending[executor.submit(self.task, task.refs, self.config)] = task
                if not pending:
                    finished = True
                    return
                done, _ = wait(pending, timeout=self.timeout, return_when=FIRST_COMPLETED)
                lost: str | None = None
                if not done:  # nothing came back for `timeout` seconds: a file hangs its worker
                    lost = _HUNG.format(self.timeout)
                    log.warning("no result for %g s; stopping the workers and retrying files one by one", self.timeout)
                for future in done:
                    task = pending.pop(future)
                    try:
                        yield from future.result()
                    except BrokenProcessPool:
                        lost = _CRASHED
                        yield from self._requeue(task, lost)
                if lost is not None:
                    for task in pending.values():
                        yield from self._requeue(task, lost)
                    pending.clear()
                    _stop(executor)
                    if lost == _CRASHED:
                        log.warning("worker process died; restarting the pool and retrying files one by one")
                    executor = self._executor()
        finally:
            if finished:
                executor.shutdown(wait=True)
            else:  # an error or interrupt: do not wait for workers that may be stuck
                _stop(executor)

    def _limit(self, pending: dict[Future[list[HashResult]], _Task]) -> int:
        """After a crash, retries run strictly one at a time, so a second crash names its culprit."""
        if self.retry or any(task.attempt for task in pending.values()):
            return 1
        return self.window

    def _requeue(self, task: _Task, reason: str) -> Iterator[HashResult]:
        """Split a lost batch into single retries; a single that already failed is the culprit."""
        if len(task.refs) == 1 and task.attempt >= 1:
            yield _lost(task.refs[0], reason)
            return
        for ref in task.refs:
            self.retry.append(_Task((ref,), attempt=1 if len(task.refs) == 1 else task.attempt + 1))


def _stop(executor: ProcessPoolExecutor) -> None:
    """Stop a pool now, killing workers that may be stuck in a decoder (there is no public API for it)."""
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        process.kill()
    executor.shutdown(wait=False, cancel_futures=True)
