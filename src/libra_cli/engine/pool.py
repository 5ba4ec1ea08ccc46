"""The local engine: worker processes on this machine, each with its own pipe, queue and deadline.

Why not ``ProcessPoolExecutor``: it unpickles whatever a worker sends (a decoder exploit could send a
pickle that runs code in the parent, which holds the decrypted lists), it can only time out the pool
as a whole (a hung file is noticed after every other task has finished), and stopping a stuck worker
needs its private ``_processes``. Here each worker is a ``multiprocessing.Process`` we own, joined to
the parent by a pipe that carries msgpack bytes (``wire.py``) and nothing else:

- small files travel in batches (one message, one wake-up for up to 16 files) and results come back in
  bursts (``worker.py``), read many frames per ``read`` (``framing.py``): per-file system calls would
  cost more than hashing a small file;
- when a worker dies, any file it held may be the culprit (its last results may not have left it):
  each becomes a suspect and runs alone on a fresh worker; one that kills its worker alone is reported,
  the others are hashed normally;
- the head file has a deadline: ``timeout`` seconds without progress (a result or a heartbeat). A
  worker past it is killed and replaced, its file reported, the rest re-queued. Other workers go on;
- files queued behind a slow file are handed to an idle worker after ``STEAL_AFTER`` seconds, so one
  slow file does not hold back its batch-mates (the slow worker's late copies are discarded).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerProcess

from ..errors import ConfigError, LibraError
from ..hashing import merge_parts
from ..models import HashConfig, HashResult, MediaRef
from .base import Engine, EngineOptions, Waitable, register
from .framing import FrameError, FrameReader, frame, write_all
from .janitor import tidy
from .wire import FAILED, HEARTBEAT, MAX_MESSAGE, WireError, decode_message, decode_result, encode_tasks
from .worker import serve

log = logging.getLogger("libra.engine")

#: Files queued per worker: enough that a worker never waits for the parent between small files.
PER_WORKER = 32
#: Files sent in one message, and the bytes of files one message may stand for: small files travel
#: in batches (one write, one wake-up for many files); a large one goes alone.
BATCH_FILES = 16
BATCH_BYTES = 4 * 1024 * 1024
#: Workers that die in a row without sending anything: the pool cannot start, the run stops.
SILENT_DEATHS = 4
#: Seconds a worker's current file may run before the files queued behind it move to an idle worker.
STEAL_AFTER = 0.5
#: A file this large (when archives are read) is one task per worker, up to one per this many bytes: an
#: archive's members are then hashed by several workers at once (``hashing.hash_ref``'s ``part``).
SPLIT_BYTES = 8 * 1024 * 1024

_CRASHED = "the worker process died while hashing this file (a decoder crash); it was not covered"
_HUNG = "hashing this file made no progress for {:g} s, so its worker was stopped; it was not covered"
_INVALID = "the worker hashing this file sent an invalid result ({}); it was stopped and the file not covered"


#: What the forkserver imports once, so every worker starts with the decoders loaded, in milliseconds.
PRELOAD = [
    "libra_cli._forkserver",
    "libra_cli.engine.worker",
    "libra_cli.media.image",
    "libra_cli.hashers.pdq",
    "libra_cli.hashers.robust",
]
_WARM = threading.Lock()
_warmed = False


def warm_up() -> None:
    """Start the forkserver in the background: its imports (decoders, numpy) then overlap with the parent
    loading and decrypting the lists, instead of delaying the first file. Idempotent."""
    global _warmed
    with _WARM:
        if _warmed:
            return
        _warmed = True
    tidy()  # a SIGKILLed earlier run could not remove its forkserver socket folder
    mp.get_context("forkserver").set_forkserver_preload(PRELOAD)
    threading.Thread(target=forkserver.ensure_running, name="libra-forkserver", daemon=True).start()


class EngineError(LibraError):
    """The engine cannot work at all (its workers cannot start)."""


@dataclass
class _Whole:
    """A file shared out as several part tasks: their results, until all are in."""

    parts: int
    results: dict[int, HashResult] = field(default_factory=dict)


@dataclass
class _Task:
    id: int
    ref: MediaRef
    attempt: int = 0
    abandoned: bool = False  #: moved to another worker; this copy's result is discarded
    part: tuple[int, int] | None = None  #: ``(index, parts)`` of a file shared out between workers
    whole: _Whole | None = None

    def again(self, task_id: int, attempt: int) -> _Task:
        return _Task(task_id, self.ref, attempt, part=self.part, whole=self.whole)


@dataclass
class _Worker:
    process: ForkServerProcess
    conn: Connection  #: kept for its descriptor; bytes go through ``reader`` and ``write_all``
    reader: FrameReader
    queue: deque[_Task] = field(default_factory=deque)
    progress: float = 0.0  #: when the head task started, or last showed progress
    spoke: bool = False  #: it sent at least one message (a worker that dies silently may not start at all)


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
        self._silent_deaths = 0

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        warm_up()  # a no-op when ``prepare`` already started it
        self._workers = [self._spawn(i) for i in range(max(1, self.options.workers))]

    def _spawn(self, index: int) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=serve, args=(child, self.config), name=f"libra-worker-{index}", daemon=True)
        try:
            process.start()
        except OSError as err:  # e.g. the forkserver's socket refused (a sandbox, a user without /dev/shm)
            parent.close()
            child.close()
            raise LibraError(
                f"worker processes could not start ({err.strerror or err}); "
                "--workers 1 hashes in this process instead"
            ) from None
        child.close()
        return _Worker(process, parent, FrameReader(parent.fileno(), MAX_MESSAGE), progress=time.monotonic())

    def close(self, abort: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            if abort:
                worker.process.kill()
            else:
                try:
                    write_all(worker.conn.fileno(), frame(b""))  # an empty frame: exit when done
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
        """Queue ``ref``; it is sent (in a batch with others) on the next ``poll``."""
        self._outstanding += 1
        parts = min(len(self._workers), ref.size // SPLIT_BYTES) if self.config.archives is not None else 1
        if parts < 2:
            self._retry.append(_Task(next(self._ids), ref))
            return
        whole = _Whole(parts)
        self._retry.extend(_Task(next(self._ids), ref, part=(i, parts), whole=whole) for i in range(parts))

    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        self._dispatch()
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
        """Send waiting tasks in batches to the least-loaded workers with room, slow ones last.

        A suspect (a file that was in a worker when it died) goes alone to an idle worker, which then
        gets nothing else until it is done: if that worker dies too, the culprit is certain.
        """
        now = time.monotonic()
        while self._retry:
            if self._retry[0].attempt:
                idle = [w for w in self._workers if not w.queue]
                if not idle:
                    return
                self._send(idle[0], [self._retry.popleft()], now)
                continue
            open_workers = [w for w in self._workers if not (w.queue and w.queue[0].attempt)]
            if not open_workers:
                return
            worker = min(open_workers, key=lambda w: (self._slow(w, now), len(w.queue)))
            room = PER_WORKER - len(worker.queue)
            if room <= 0 or (self._slow(worker, now) and len(open_workers) > 1):
                return
            batch: list[_Task] = []
            size = 0
            while self._retry and len(batch) < min(room, BATCH_FILES) and not self._retry[0].attempt:
                task = self._retry[0]
                if batch and size + task.ref.size > BATCH_BYTES:
                    break
                batch.append(self._retry.popleft())
                size += task.ref.size
            if not self._send(worker, batch, now):
                return

    def _send(self, worker: _Worker, batch: list[_Task], now: float) -> bool:
        try:
            parts = {t.id: t.part for t in batch if t.part is not None}
            write_all(worker.conn.fileno(), frame(encode_tasks([(t.id, t.ref) for t in batch], parts)))
        except OSError:  # the worker died under us: its sentinel reports it on the next poll
            self._retry.extendleft(reversed(batch))
            return False
        if not worker.queue:
            worker.progress = now
        worker.queue.extend(batch)
        return True

    def _read(self, worker: _Worker, out: list[HashResult], dead: bool) -> None:
        try:
            while True:  # once if alive; to the end of the pipe if it died (its last results count)
                worker.reader.feed()
                for data in worker.reader.frames():
                    self._message(worker, data, out)
                if not dead:
                    break
        except (EOFError, OSError):
            dead = True
        except (WireError, FrameError) as err:
            log.error("worker sent an invalid message: %s; stopping it", err)
            self._lose(worker, _INVALID.format(err), out, isolate=True)
            return
        if dead or not worker.process.is_alive():
            if worker.queue:
                log.warning("worker process died; running its files one at a time to find the culprit")
            self._lose(worker, _CRASHED, out, isolate=True)

    def _message(self, worker: _Worker, data: bytes, out: list[HashResult]) -> None:
        kind, task_id, body = decode_message(data)
        if kind == FAILED:
            raise ConfigError(str(task_id))  # a worker could not start (a bad hash set): the run stops
        if not worker.queue or worker.queue[0].id != task_id:
            raise WireError("a message for a task the worker is not working on")
        worker.progress = time.monotonic()
        worker.spoke = True
        self._silent_deaths = 0
        if kind == HEARTBEAT:
            return
        task = worker.queue.popleft()
        if task.abandoned:
            return
        self._done(task, decode_result(body, task.ref, self.config), out)

    def _done(self, task: _Task, result: HashResult, out: list[HashResult]) -> None:
        """A task's result; a part's waits for the other parts of its file, then they make one result."""
        if task.whole is not None and task.part is not None:
            task.whole.results[task.part[0]] = result
            if len(task.whole.results) < task.whole.parts:
                return
            result = merge_parts([task.whole.results[i] for i in range(task.whole.parts)])
        out.append(result)
        self._outstanding -= 1

    def _lose(self, worker: _Worker, reason: str, out: list[HashResult], isolate: bool) -> None:
        """Stop ``worker`` and start a replacement; decide what becomes of the files it held.

        ``isolate`` (it died, or sent garbage): its last results may not have left it, so any of its
        files could be the culprit. Each becomes a suspect and runs alone; a suspect that was already
        alone is the culprit and is reported. Otherwise (a missed deadline) the file at the head of its
        queue is reported and the rest are queued again as usual.
        """
        worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
        if not worker.spoke:
            self._silent_deaths += 1
            if self._silent_deaths >= SILENT_DEATHS:
                raise LibraError(
                    f"worker processes die before hashing anything ({SILENT_DEATHS} in a row, exit code "
                    f"{worker.process.exitcode}); see the log above for why"
                )
        tasks = [t for t in worker.queue if not t.abandoned]
        head = worker.queue[0] if worker.queue else None
        again: list[_Task] = []
        for task in tasks:
            culprit = (task.attempt and len(tasks) == 1) if isolate else task is head
            if culprit:
                self._done(task, HashResult(task.ref, None, error=reason, fatal=True), out)
            else:
                again.append(task.again(next(self._ids), task.attempt + 1 if isolate else task.attempt))
        self._retry.extendleft(reversed(again))
        index = self._workers.index(worker)
        self._workers[index] = self._spawn(index)

    def _check_deadlines(self, out: list[HashResult]) -> None:
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.queue and now - worker.progress > self.options.timeout:
                log.warning("no progress for %g s on one file; stopping its worker", self.options.timeout)
                self._lose(worker, _HUNG.format(self.options.timeout), out, isolate=False)

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
                        self._retry.append(task.again(next(self._ids), task.attempt))


register("local", LocalPoolEngine)
