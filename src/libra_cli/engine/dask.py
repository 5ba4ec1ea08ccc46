"""The dask engine: hashing on a Dask distributed cluster, for hosts that outgrow one machine.

``--engine dask --scheduler tcp://host:8786`` sends references to the cluster as tasks; without
``--scheduler`` a ``LocalCluster`` of ``--workers`` process workers on 127.0.0.1 is started (for one
machine, and for the tests). The client (this process) walks, lists and matches: the decrypted lists
never leave it. Workers open, decode and hash the references of a task (small files up to 16 to a task,
as in the local pool: one task per file cost the client and scheduler more CPU than hashing a small
file) and return the results as the compact msgpack bytes of ``wire.py``, checked here like a local
worker's: only hashes travel back.

Why it is built this way:

- **Back-pressure.** Dask futures run eagerly, so a 100-million-key listing must never become 100
  million futures: at most ``PER_THREAD`` tasks per worker thread are in flight (the cluster's size is
  looked up again every few seconds, so workers that join or leave change the window).
- **Results stream.** A done-callback hands each finished future to a collector thread, which gathers
  finished results in batches (one round trip for many) and puts them on a ``WakeQueue``: ``poll``
  waits on its descriptor beside the pipeline's, so a new reference or a result, whichever comes
  first, wakes the main loop.
- **Faults.** Dask reruns the tasks of a worker that died elsewhere; a file that kills every worker it
  is tried on fails with ``KilledWorker`` after ``allowed-failures`` (2 on the cluster libra starts) and
  is reported as not covered, naming how many workers died on it (a failed task of several files first
  runs again one file per task, so batch-mates are hashed normally). Any other worker-side failure is
  one file's error. A scheduler that goes away ends the run (``EngineLost``): the findings so far are
  written, marked incomplete.
- **Ctrl-C.** A terminal sends SIGINT to the whole process group. The cluster libra starts is started
  with SIGINT blocked in this thread, so Dask's event-loop thread and the worker processes it spawns
  inherit the block: they never see Ctrl-C (libra stops them), and no worker prints a traceback. A
  start that fails or is interrupted closes what it started at once, quietly, so Dask's exit hook has
  nothing left to close (it would print an ``AssertionError`` after libra's sentence).
- **No media on disk.** Worker memory spilling is off on the workers libra starts (``NO_SPILL``); task
  results are a few hundred bytes of hashes, never file contents. For an external cluster libra asks
  the workers for their settings and warns if spilling is on (``docs/cluster.md``).

Residual risk (``docs/cluster.md``): Dask's own protocol pickles some messages, so a compromised Dask
worker stands closer to the client than a compromised local worker; results are still decoded with
the size and type checks of ``wire.py``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

import msgpack

from ..errors import ConfigError
from ..models import HashConfig, HashResult, MediaRef
from ..queues import WakeQueue
from ..textsafe import one_line
from .base import Engine, EngineLost, EngineOptions, Waitable, register
from .pool import BATCH_BYTES, BATCH_FILES
from .wire import (
    MAX_MESSAGE,
    RESULT,
    WireError,
    decode_message,
    decode_result,
    decode_tasks,
    encode_result,
    encode_tasks,
)

log = logging.getLogger("libra.engine")

#: Tasks in flight per worker thread: enough that no worker waits for the client between tasks. Small
#: files travel up to ``BATCH_FILES`` (and ``BATCH_BYTES``) to a task, as in the local pool: one task per
#: file cost the client and the scheduler more CPU than hashing a small file.
PER_THREAD = 4
#: Worker deaths a file may cause on the cluster libra starts before it is named (Dask's default is 3).
ALLOWED_FAILURES = 2
#: Seconds between looks at the cluster's size (workers join and leave).
RESIZE_EVERY = 5.0
#: Seconds to reach a scheduler, and to wait for its first worker.
CONNECT_TIMEOUT = 30.0
WORKERS_TIMEOUT = 60.0

#: Worker settings for the workers libra starts: never spill task data to disk. Pausing stays on (it
#: writes nothing: a worker near its memory limit stops taking tasks until results are gathered).
NO_SPILL: dict[str, Any] = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False}
#: Scheduler settings for the cluster libra starts: one task per worker thread, so a worker's death
#: implicates only the file it was hashing, and a bounded number of tries per file.
SCHEDULER: dict[str, Any] = {"distributed.scheduler.worker-saturation": 1.0}

_INSTALL = "the dask engine needs Dask distributed: pip install 'libra-cli[cluster]'"
_KILLED = "a Dask worker died while hashing this file, {} times (a decoder crash?); it was not covered"
_HUNG = "hashing this file on the cluster took longer than {:g} s; it was not covered"
_INVALID = "the Dask worker hashing this file sent an invalid result ({}); the file was not covered"
_FAILED = "the Dask task hashing this file failed ({}); the file was not covered"


def _distributed() -> Any:
    """The ``distributed`` module, imported only when the engine starts (it is an optional extra)."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(_INSTALL) from None
    return distributed


def _quiet_dask_logs(level: int = logging.WARNING) -> dict[str, int]:
    """Dask logs its clusters' start and stop at INFO, which would reach libra's log handler: keep Dask's
    loggers at libra's own level, and never below ``level`` (a cron run stays silent). Returns the levels
    it replaced, for ``_restore_levels``."""
    level = max(level, logging.getLogger("libra").getEffectiveLevel())
    names = [n for n in logging.root.manager.loggerDict if n == "distributed" or n.startswith("distributed.")]
    replaced: dict[str, int] = {}
    for name in dict.fromkeys(["distributed", *names]):
        logger = logging.getLogger(name)
        if logger.level < level and (logger.level != logging.NOTSET or name == "distributed"):
            replaced[name] = logger.level
            logger.setLevel(level)
    return replaced


def _restore_levels(levels: dict[str, int]) -> None:
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _ctrl_c_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread while inside: threads started meanwhile (Dask's event loop) and the
    processes they spawn (the local cluster's workers) keep the block, so a terminal's Ctrl-C, sent to the
    whole process group, reaches libra only. libra itself still gets it: the kernel delivers it to another
    of its threads, or here once the block is lifted, and Python runs the handler in the main thread."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not a POSIX system
        yield
        return
    from multiprocessing import resource_tracker

    # Started later, from Dask's event-loop thread, the tracker would unblock SIGINT in that thread.
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def _worker_log_level() -> Iterator[None]:
    """The local cluster's worker processes log only errors (warnings too when libra logs at info or debug):
    stopped mid-task, as on Ctrl-C, a worker warns about its cancelled task, which is no news to the user.
    Dask reads its logging settings from the environment when a worker process imports it."""
    name = "DASK_LOGGING__DISTRIBUTED"
    previous = os.environ.get(name)
    os.environ[name] = "warning" if logging.getLogger("libra").getEffectiveLevel() <= logging.INFO else "error"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _close_quietly(part: Any, timeout: float) -> None:
    """Close a Dask client or cluster; one that cannot be closed (it never started, or is gone) is marked
    closed, so Dask's own exit hook does not try again and print a traceback after libra's sentence."""
    try:
        part.close(timeout=timeout)
    except BaseException as err:  # closing a cluster that is already gone, or a second Ctrl-C
        log.debug("closing the Dask %s failed reason=%s", type(part).__name__, one_line(err))
    from distributed.core import Status

    if isinstance(getattr(part, "status", None), Status) and part.status != Status.closed:  # a cluster
        with contextlib.suppress(Exception):
            part.status = Status.closed


def _clusters() -> list[Any]:
    """The Dask clusters alive in this process (a cluster whose start failed is not returned to us)."""
    from distributed.deploy.spec import SpecCluster

    return list(SpecCluster._instances)


# -- the worker side ------------------------------------------------------------------------------------


def hash_task(task: bytes, config: HashConfig) -> bytes:
    """Runs in a Dask worker: hash a batch of references in order, return their results as ``wire``
    messages in one msgpack array of bytes (hashes only).

    Never raises: whatever goes wrong here (a plug-in missing on this worker, a bug) becomes that
    file's error, so one bad worker costs files, not the scan.
    """
    from ..hashing import check_config, hash_ref
    from .worker import _single_threaded

    out: list[bytes] = []
    for index, ref in decode_tasks(task):
        try:
            _single_threaded()
            check_config(config)
            result = hash_ref(ref, config)
        except Exception as err:
            reason = f"the Dask worker could not hash this file ({type(err).__name__}: {one_line(err)})"
            result = HashResult(ref, None, error=reason, fatal=True)
        out.append(encode_result(index, result))
    packed: bytes = msgpack.packb(out, use_bin_type=True)
    return packed


def decode_batch(data: object, refs: Sequence[MediaRef], config: HashConfig) -> list[HashResult]:
    """The checked results of a batch task, one per reference in order (``WireError`` if anything is off)."""
    if not isinstance(data, bytes) or len(data) > MAX_MESSAGE * 4:
        raise WireError("the result is not bytes of a sane size")
    try:
        messages = msgpack.unpackb(data, max_bin_len=MAX_MESSAGE, max_array_len=len(refs), max_map_len=0)
    except Exception as err:  # msgpack raises several types for malformed input
        raise WireError(f"the result is not valid msgpack ({type(err).__name__})") from None
    if not isinstance(messages, list) or len(messages) != len(refs):
        raise WireError("the result does not hold one message per file")
    out: list[HashResult] = []
    for index, (ref, message) in enumerate(zip(refs, messages, strict=True)):
        if not isinstance(message, bytes):
            raise WireError("a message is not bytes")
        kind, task_id, body = decode_message(message)
        if kind != RESULT or task_id != index:
            raise WireError("a message is not the result of its file")
        out.append(decode_result(body, ref, config))
    return out


def memory_settings() -> tuple[object, object]:
    """Runs in a Dask worker (``client.run``): its spill settings, to warn when it may spill to disk."""
    import dask.config

    return dask.config.get("distributed.worker.memory.target"), dask.config.get("distributed.worker.memory.spill")


# -- checks before a run ------------------------------------------------------------------------------


def check_tls(options: EngineOptions) -> tuple[str, str, str] | None:
    """The TLS files (CA, certificate, key) of ``options``, each checked to be a file; ``None`` without TLS."""
    extra = dict(options.extra)
    ca, cert, key = extra.get("tls_ca_file"), extra.get("tls_cert"), extra.get("tls_key")
    if not (ca or cert or key):
        return None
    if not (ca and cert):
        raise ConfigError("TLS to the Dask cluster needs both --tls-ca-file and --tls-cert (and --tls-key)")
    key = key or cert  # a key may be in the certificate's file
    for flag, path in (("--tls-ca-file", ca), ("--tls-cert", cert), ("--tls-key", key)):
        if not os.path.isfile(path):
            raise ConfigError(f"{flag} {path!r} is not a file")
    return ca, cert, key


def check_options(options: EngineOptions) -> None:
    """What can be checked before a run starts (lists decrypted, findings opened): Dask is installed, the
    TLS files exist, the scheduler (``--scheduler``) accepts connections. Raises ``ConfigError``."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise ConfigError(_INSTALL)
    check_tls(options)
    if options.scheduler:
        probe_scheduler(options.scheduler)


def probe_scheduler(address: str) -> None:
    """Open (and close) a TCP connection to the scheduler at ``address`` (``tcp://`` or ``tls://``):
    a refused connection or an unknown host fails at once, where Dask's client would retry for
    ``CONNECT_TIMEOUT`` seconds. Other protocols are left to Dask."""
    import socket
    from urllib.parse import urlsplit

    scheme, _, rest = address.rpartition("://")
    if scheme.lower() not in ("", "tcp", "tls"):
        return
    try:
        parts = urlsplit(f"tcp://{rest}")
        host, port = parts.hostname, parts.port or 8786
    except ValueError:
        raise ConfigError(f"--scheduler {address!r} is not an address such as tcp://host:8786") from None
    if not host:
        raise ConfigError(f"--scheduler {address!r} is not an address such as tcp://host:8786")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as err:
        reason = "connection refused" if isinstance(err, ConnectionRefusedError) else err.strerror or one_line(err)
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {reason}") from None


# -- the client side ------------------------------------------------------------------------------------


@dataclass
class _Task:
    future: Any
    refs: list[MediaRef]
    deadline: float


class DaskEngine(Engine):
    """See the module docstring."""

    name = "dask"

    def __init__(self, config: HashConfig, options: EngineOptions) -> None:
        super().__init__(config, options)
        self._client: Any = None
        self._cluster: Any = None
        self._tasks: dict[str, _Task] = {}
        self._batch: list[MediaRef] = []  #: references not sent yet (``_flush``)
        self._batch_bytes = 0
        self._files = 0  #: references submitted whose results have not been returned
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._results: WakeQueue[tuple[str, str, Any]] = WakeQueue(maxsize=1 << 30)
        self._collector: threading.Thread | None = None
        self._cluster_threads = 1
        self._sized = 0.0
        self._lost: str | None = None
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        distributed = _distributed()
        import dask.config

        _quiet_dask_logs()

        security = self._security(distributed)
        address = self.options.scheduler
        before = {id(c) for c in _clusters()}
        if address:
            probe_scheduler(address)
        try:
            with _ctrl_c_blocked():
                self._connect(distributed, dask.config, address, security)
        except BaseException as err:
            for cluster in _clusters():  # a start cut short leaves a cluster we hold no reference to
                if id(cluster) not in before:
                    _close_quietly(cluster, 2)
            self.close(abort=True)
            if not isinstance(err, Exception):
                raise  # KeyboardInterrupt: the CLI says "interrupted"
            where = f"the Dask scheduler at {address}" if address else "a local Dask cluster"
            verb = "reach" if isinstance(err, OSError | TimeoutError) else "start"
            raise ConfigError(f"cannot {verb} {where}: {one_line(err)}") from None
        self._wait_for_workers()
        if address:
            self._check_spilling()
        self._collector = threading.Thread(target=self._collect, name="libra-dask-collector", daemon=True)
        self._collector.start()

    def _connect(self, distributed: Any, config: Any, address: str | None, security: Any) -> None:
        """A client of the scheduler at ``address``, or of a local cluster started here."""
        if address:
            self._client = distributed.Client(address, security=security, timeout=CONNECT_TIMEOUT, set_as_default=False)
        else:
            with config.set(SCHEDULER), _worker_log_level():
                self._cluster = distributed.LocalCluster(
                    n_workers=max(1, self.options.workers),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    protocol="tls://" if security else "tcp://",
                    security=security,
                    dashboard_address=None,
                    # no dashboard; its HTTP server (health checks) on a free port of 127.0.0.1
                    scheduler_kwargs={"allowed_failures": ALLOWED_FAILURES, "dashboard_address": "127.0.0.1:0"},
                    config=NO_SPILL,
                )
            self._client = distributed.Client(self._cluster, security=security, set_as_default=False)

    def _security(self, distributed: Any) -> Any:
        """``Security`` from the TLS options (``tls_ca_file``, ``tls_cert``, ``tls_key``), or ``None``."""
        tls = check_tls(self.options)
        if tls is None:
            return None
        ca, cert, key = tls
        return distributed.Security(
            require_encryption=True,
            tls_ca_file=ca,
            tls_client_cert=cert,
            tls_client_key=key,
            tls_scheduler_cert=cert,
            tls_scheduler_key=key,
            tls_worker_cert=cert,
            tls_worker_key=key,
        )

    def _wait_for_workers(self) -> None:
        try:
            self._client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except TimeoutError:
            self.close(abort=True)
            raise ConfigError(
                f"the Dask scheduler at {self.options.scheduler} has no workers (waited {WORKERS_TIMEOUT:g} s)"
            ) from None
        self._resize(force=True)

    def _check_spilling(self) -> None:
        """Warn if an external cluster's workers may spill task data to disk (libra's results are small,
        but the rule is that no worker writes anything of a scan)."""
        try:
            settings = self._client.run(memory_settings)
        except Exception as err:  # workers that refuse ``run`` cannot be checked: say so, go on
            log.warning("could not check the Dask workers' spill settings reason=%s", one_line(err))
            return
        spilling = [addr for addr, (target, spill) in settings.items() if target is not False or spill is not False]
        if spilling:
            log.warning(
                "Dask workers may spill to disk workers=%d; set distributed.worker.memory.target and .spill "
                "to false (docs/cluster.md)",
                len(spilling),
            )

    def close(self, abort: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks.values():  # released while the client is open (later, releasing logs an error)
            with contextlib.suppress(Exception):
                task.future.release()
        self._done.put(None)
        self._tasks.clear()
        # A client whose scheduler is gone logs its cancelled reconnection as a traceback: the run has
        # already said what happened in one sentence.
        silenced = _quiet_dask_logs(logging.CRITICAL + 1) if self._lost or abort else {}
        try:
            for part in (self._client, self._cluster):
                if part is not None:
                    _close_quietly(part, 2 if abort or self._lost else 10)
        finally:
            _restore_levels(silenced)
        self._results.close()

    # -- the engine contract --------------------------------------------------------------------------

    def capacity(self) -> int:
        self._resize()
        return max(0, PER_THREAD * BATCH_FILES * self._cluster_threads - self._files)

    def pending(self) -> int:
        return self._files

    def submit(self, ref: MediaRef) -> None:
        """Queue ``ref``; small files go out in batches (up to ``BATCH_FILES``, ``BATCH_BYTES``), the rest on
        the next ``poll``."""
        if self._lost:
            raise EngineLost(self._lost)
        self._files += 1
        if self._batch and self._batch_bytes + ref.size > BATCH_BYTES:
            self._flush()
        self._batch.append(ref)
        self._batch_bytes += ref.size
        if len(self._batch) >= BATCH_FILES:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            refs, self._batch, self._batch_bytes = self._batch, [], 0
            self._send(refs)

    def _send(self, refs: list[MediaRef]) -> None:
        try:
            future = self._client.submit(hash_task, encode_tasks(list(enumerate(refs))), self.config, pure=False)
        except Exception as err:
            raise EngineLost(self._lost_sentence(err)) from None
        self._tasks[future.key] = _Task(future, refs, time.monotonic() + self.options.timeout)
        future.add_done_callback(self._done.put)

    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        out: list[HashResult] = []
        if not self._lost:
            self._flush()
        if not len(self._results) and not self._lost:
            wait([self._results, *wake], timeout=min(timeout, self._next_deadline()))  # type: ignore[list-item]
        while (item := self._results.get_nowait()) is not None:
            key, status, payload = item
            task = self._tasks.pop(key, None)
            if task is None:  # given up on (deadline) meanwhile
                continue
            if status == "cancelled":  # libra cancels only futures it gave up on: the scheduler went away
                self._lost = self._lost or self._lost_sentence(None)
                continue
            out.extend(self._results_of(task, status, payload))
        if not self._lost:
            self._check_deadlines(out)
        self._files -= len(out)
        if self._lost and not out:  # results in hand are matched and written first; the next poll raises
            raise EngineLost(self._lost)
        return out

    # -- internals ------------------------------------------------------------------------------------

    def _resize(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._sized < RESIZE_EVERY:
            return
        self._sized = now
        try:
            self._cluster_threads = max(1, sum(self._client.nthreads().values()))
        except Exception as err:  # the scheduler is gone: ``poll`` finds out through the futures
            log.debug("could not size the Dask cluster reason=%s", one_line(err))

    def _collect(self) -> None:
        """The collector thread: gather finished futures in batches, hand results to ``poll``."""
        while True:
            first = self._done.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    more = self._done.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._done.put(None)
                    break
                batch.append(more)
            finished = [f for f in batch if f.status == "finished"]
            for future in batch:
                if future.status == "error":
                    self._results.put((future.key, "error", future.exception()))
                elif future.status == "cancelled":
                    self._results.put((future.key, "cancelled", None))
            if not finished:
                continue
            try:
                values = self._client.gather(finished)
            except Exception as err:
                if self._closed:
                    return
                self._lost = self._lost or self._lost_sentence(err)
                self._results.put(("", "lost", None))  # wakes ``poll``
                continue
            for future, value in zip(finished, values, strict=True):
                self._results.put((future.key, "finished", value))

    def _results_of(self, task: _Task, status: str, payload: Any) -> list[HashResult]:
        """A finished task's checked results; a failed batch runs again one file per task, so a file that
        kills workers or fails a task is named alone and its batch-mates are hashed normally."""
        if status == "finished":
            try:
                return decode_batch(payload, task.refs, self.config)
            except WireError as err:
                log.error("Dask worker sent an invalid result: %s", err)
                return [HashResult(ref, None, error=_INVALID.format(err), fatal=True) for ref in task.refs]
        if len(task.refs) > 1:
            log.warning("a Dask task of %d files failed; running them one per task to find the culprit", len(task.refs))
            for ref in task.refs:
                self._send([ref])
            return []
        (ref,) = task.refs
        if isinstance(payload, _distributed().KilledWorker):
            return [HashResult(ref, None, error=_KILLED.format(payload.allowed_failures + 1), fatal=True)]
        reason = _FAILED.format(f"{type(payload).__name__}: {one_line(payload)}")
        return [HashResult(ref, None, error=reason, fatal=True)]

    def _lost_sentence(self, err: BaseException | None) -> str:
        address = self.options.scheduler
        where = f"the Dask scheduler at {address}" if address else "the local Dask scheduler"
        if err is not None:  # Dask's own words name its connection pools: for the log, not the sentence
            log.debug("Dask scheduler lost reason=%s", one_line(err))
        return f"lost the connection to {where}; the findings so far are written, marked incomplete"

    def _next_deadline(self) -> float:
        if not self._tasks:
            return 3600.0
        first = min(t.deadline for t in self._tasks.values())
        return max(0.0, first - time.monotonic())

    def _check_deadlines(self, out: list[HashResult]) -> None:
        now = time.monotonic()
        late = [key for key, task in self._tasks.items() if task.deadline <= now]
        for key in late:
            task = self._tasks.pop(key)
            task.future.cancel()
            if len(task.refs) > 1:  # which file hangs is not known: each runs again in a task of its own
                log.warning("no result for %g s on a batch; running its files one per task", self.options.timeout)
                for ref in task.refs:
                    self._send([ref])
                continue
            log.warning("no result for %g s on one file; giving up on it", self.options.timeout)
            out.append(HashResult(task.refs[0], None, error=_HUNG.format(self.options.timeout), fatal=True))


def _factory(config: HashConfig, options: EngineOptions) -> Engine:
    return DaskEngine(config, options)


register("dask", _factory)
