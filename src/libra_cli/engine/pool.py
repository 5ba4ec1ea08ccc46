"""The local engine: worker processes on this machine, each with its own pipe, queue and deadline.

Why not ``ProcessPoolExecutor``: it unpickles whatever a worker sends (a decoder exploit could send a
pickle that runs code in the parent, which holds the decrypted lists), it can only time out the pool
as a whole (a hung file is noticed after every other task has finished), and stopping a stuck worker
needs its private ``_processes``. Here each worker is a ``multiprocessing.Process`` we own, joined to
the parent by a pipe that carries msgpack bytes (``wire.py``) and nothing else:

- a worker handles its queue in order, so when it dies the parent knows the culprit: the file at the
  head of its queue. That file is retried once on a fresh worker, then reported; the files queued
  behind it go to other workers;
- the head file has a deadline: ``timeout`` seconds without progress (a result or a heartbeat). A
  worker past it is killed and replaced, its file reported, the rest re-queued. Other workers go on;
- files queued behind a slow file are handed to an idle worker after ``STEAL_AFTER`` seconds, so one
  slow file does not hold back its batch-mates (the slow worker's late copies are discarded).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerProcess

from ..errors import ConfigError
from ..models import HashConfig, HashResult, MediaRef
from .base import Engine, EngineOptions, Waitable, register
from .wire import FAILED, HEARTBEAT, MAX_MESSAGE, WireError, decode_message, decode_result, encode_task
from .worker import serve

log = logging.getLogger("libra.engine")

#: Tasks queued per worker: enough that a worker never waits for the parent between small files.
PER_WORKER = 4
#: Seconds a worker's current file may run before the files queued behind it move to an idle worker.
STEAL_AFTER = 0.5

_CRASHED = "the worker process died while hashing this file (a decoder crash); it was not covered"
_HUNG = "hashing this file made no progress for {:g} s, so its worker was stopped; it was not covered"
_INVALID = "the worker hashing this file sent an invalid result ({}); it was stopped and the file not covered"


@dataclass
class _Task:
    id: int
    ref: MediaRef
    attempt: int = 0
    abandoned: bool = False  #: moved to another worker; this copy's result is discarded


@dataclass
class _Worker:
    process: ForkServerProcess
    conn: Connection
    queue: deque[_Task] = field(default_factory=deque)
    progress: float = 0.0  #: when the head task started, or last showed progress


class LocalPoolEngine(Engine):
    """``options.workers`` worker processes from a forkserver; see the module docstring."""

    name = "local"

    def __init__(self, config: HashConfig, options: EngineOptions) -> None:
        super().__init__(config, options)
        self._ctx = mp.get_context("forkserver")
        self._workers: list[_Worker] = []
        self._retry: deque[_Task] = deque()
        self._ready: list[HashResult] = []
        self._outstanding = 0
        self._ids = itertools.count()
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        # Preloaded once by the forkserver: workers start with the decoders imported, in milliseconds.
        self._ctx.set_forkserver_preload(["libra_cli._forkserver", "libra_cli.engine.worker"])
        self._workers = [self._spawn(i) for i in range(max(1, self.options.workers))]

    def _spawn(self, index: int) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=serve, args=(child, self.config), name=f"libra-worker-{index}", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent, progress=time.monotonic())

    def close(self, abort: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            if abort:
                worker.process.kill()
            else:
                try:
                    worker.conn.send_bytes(b"")  # an empty task: exit when done
                except OSError:
                    worker.process.kill()
        deadline = time.monotonic() + (0 if abort else 10)
        for worker in self._workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()

    # -- the engine contract --------------------------------------------------------------------------

    def capacity(self) -> int:
        now = time.monotonic()
        free = sum(PER_WORKER - len(w.queue) for w in self._workers if not self._slow(w, now))
        return max(0, free - len(self._retry))

    def pending(self) -> int:
        return self._outstanding

    def submit(self, ref: MediaRef) -> None:
        self._outstanding += 1
        self._retry.append(_Task(next(self._ids), ref))
        self._dispatch()

    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        out, self._ready = self._ready, []
        if out:
            timeout = 0.0
        now = time.monotonic()
        busy = [w.progress + self.options.timeout for w in self._workers if w.queue]
        if busy:
            timeout = max(0.0, min(timeout, min(busy) - now))
        if self._stealable():
            timeout = min(timeout, STEAL_AFTER)
        watched: list[object] = [w.conn for w in self._workers]
        watched += [w.process.sentinel for w in self._workers]
        watched += list(wake)
        ready = set(wait(watched, timeout=timeout))  # type: ignore[arg-type]
        for worker in list(self._workers):
            if worker.conn in ready or worker.process.sentinel in ready:
                self._read(worker, out, dead=worker.process.sentinel in ready)
        self._check_deadlines(out)
        self._steal()
        self._dispatch()
        return out

    # -- internals ------------------------------------------------------------------------------------

    def _slow(self, worker: _Worker, now: float) -> bool:
        """A worker whose current file has run past ``STEAL_AFTER``: given no more work until it is done."""
        return bool(worker.queue) and now - worker.progress > STEAL_AFTER

    def _dispatch(self) -> None:
        """Send waiting tasks (retries first) to the least-loaded workers with room, slow ones last."""
        now = time.monotonic()
        while self._retry:
            worker = min(self._workers, key=lambda w: (self._slow(w, now), len(w.queue)))
            if len(worker.queue) >= PER_WORKER or (self._slow(worker, now) and len(self._workers) > 1):
                return
            task = self._retry.popleft()
            try:
                worker.conn.send_bytes(encode_task(task.id, task.ref))
            except OSError:  # the worker died under us: its sentinel reports it on the next poll
                self._retry.appendleft(task)
                return
            if not worker.queue:
                worker.progress = time.monotonic()
            worker.queue.append(task)

    def _read(self, worker: _Worker, out: list[HashResult], dead: bool) -> None:
        try:
            while worker.conn.poll():
                self._message(worker, worker.conn.recv_bytes(MAX_MESSAGE), out)
        except (EOFError, OSError):
            dead = True
        except WireError as err:
            log.error("worker sent an invalid message: %s; stopping it", err)
            self._lose(worker, _INVALID.format(err), out, retry_head=False)
            return
        if dead or not worker.process.is_alive():
            if worker.queue:
                log.warning("worker process died; retrying its file once on a fresh worker")
            self._lose(worker, _CRASHED, out, retry_head=True)

    def _message(self, worker: _Worker, data: bytes, out: list[HashResult]) -> None:
        kind, task_id, body = decode_message(data)
        if kind == FAILED:
            raise ConfigError(str(task_id))  # a worker could not start (a bad hash set): the run stops
        if not worker.queue or worker.queue[0].id != task_id:
            raise WireError("a message for a task the worker is not working on")
        worker.progress = time.monotonic()
        if kind == HEARTBEAT:
            return
        task = worker.queue.popleft()
        if task.abandoned:
            return
        out.append(decode_result(body, task.ref, self.config))
        self._outstanding -= 1

    def _lose(self, worker: _Worker, reason: str, out: list[HashResult], retry_head: bool) -> None:
        """Stop ``worker``, report or retry its current file, re-queue the rest, start a replacement."""
        worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
        tasks = list(worker.queue)
        if tasks and not tasks[0].abandoned:
            head = tasks[0]
            if retry_head and head.attempt == 0:
                self._retry.appendleft(_Task(next(self._ids), head.ref, attempt=1))
            else:
                out.append(HashResult(head.ref, None, error=reason, fatal=True))
                self._outstanding -= 1
        rest = [t for t in tasks[1:] if not t.abandoned]
        self._retry.extend(_Task(next(self._ids), t.ref, t.attempt) for t in rest)
        index = self._workers.index(worker)
        self._workers[index] = self._spawn(index)

    def _check_deadlines(self, out: list[HashResult]) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.queue and now - worker.progress > self.options.timeout:
                log.warning("no progress for %g s on one file; stopping its worker", self.options.timeout)
                self._lose(worker, _HUNG.format(self.options.timeout), out, retry_head=False)

    def _stealable(self) -> bool:
        return len(self._workers) > 1 and any(len(w.queue) > 1 for w in self._workers)

    def _steal(self) -> None:
        """Move files queued behind a slow one to the other workers (the slow worker's copies are dropped)."""
        if not self._stealable():
            return
        now = time.monotonic()
        if all(self._slow(w, now) for w in self._workers):
            return  # nowhere better to go
        for worker in self._workers:
            if len(worker.queue) > 1 and self._slow(worker, now):
                for task in list(worker.queue)[1:]:
                    if not task.abandoned:
                        task.abandoned = True
                        self._retry.append(_Task(next(self._ids), task.ref, task.attempt))


register("local", LocalPoolEngine)
