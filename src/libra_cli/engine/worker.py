"""The main function of a local worker process: read task batches from a pipe, hash, send plain results.

The process comes from a ``forkserver`` (never a fork of the parent, so the decrypted lists are never
in its memory), dies with its parent (``PR_SET_PDEATHSIG``), keeps native libraries to one thread
(one worker, one core), ignores SIGINT (Ctrl-C reaches the whole process group; the parent decides when
its workers stop, and a worker's ``KeyboardInterrupt`` traceback must never reach the user), and imports
the parent's plug-in modules. It handles one file at a time, in order, so when it dies or stalls the
parent knows exactly which file did it: results are sent in small bursts, and never held back more than
``FLUSH_AFTER`` seconds (a flusher thread sends them even while the next file is being decoded), so the
first file without a result is the one being worked on.
"""

from __future__ import annotations

import signal
import threading
import time
from multiprocessing.connection import Connection

from ..errors import LibraError
from ..hashing import check_config, hash_ref
from ..lifeline import die_with_parent
from ..models import HashConfig
from .framing import FrameReader, frame, write_all
from .wire import decode_tasks, encode_failure, encode_heartbeat, encode_result

#: Seconds between heartbeats while one long file is read.
HEARTBEAT_EVERY = 1.0
#: Longest a finished file's result waits in the worker before it is sent.
FLUSH_AFTER = 0.002
#: Task batches from the parent are small; this bounds what a confused parent could make us buffer.
MAX_TASK_FRAME = 16 * 1024 * 1024


class Outbox:
    """Results waiting to be written to the parent, sent in bursts by whichever thread comes first."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._pending: list[bytes] = []
        self._first = 0.0
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._flusher, name="libra-outbox", daemon=True)
        self._thread.start()

    def put(self, message: bytes, urgent: bool = False) -> None:
        with self._cond:
            if not self._pending:
                self._first = time.monotonic()
                self._cond.notify()
            self._pending.append(frame(message))
            if urgent:
                self._flush()

    def flush(self) -> None:
        with self._cond:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            data, self._pending = b"".join(self._pending), []
            write_all(self.fd, data)

    def _flusher(self) -> None:
        with self._cond:
            while True:
                if not self._pending:
                    self._cond.wait()
                    continue
                wait = self._first + FLUSH_AFTER - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                try:
                    self._flush()
                except OSError:  # the parent went away: the main thread finds out on its next read
                    self._pending = []


def _single_threaded() -> None:
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover - OpenCV missing or built without threading
        pass


def serve(conn: Connection, config: HashConfig) -> None:
    """Hash every task the parent sends until it sends an empty frame or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the forkserver hands us Python's default Ctrl-C handler
    die_with_parent()
    _single_threaded()
    fd = conn.fileno()
    outbox = Outbox(fd)
    try:
        check_config(config)  # imports plug-ins; a bad config is reported once, not per file
    except LibraError as err:
        outbox.put(encode_failure(str(err)), urgent=True)
        return
    reader = FrameReader(fd, MAX_TASK_FRAME)
    while True:
        batches = reader.frames()
        if not batches:
            outbox.flush()  # about to wait for work: send everything finished
            try:
                reader.feed()
            except (EOFError, OSError):
                return
            continue
        for data in batches:
            if not data:
                outbox.flush()
                return
            parts: dict[int, tuple[int, int]] = {}
            for task_id, ref in decode_tasks(data, parts):
                last = time.monotonic()

                def heartbeat(task_id: int = task_id) -> None:
                    nonlocal last
                    now = time.monotonic()
                    if now - last >= HEARTBEAT_EVERY:
                        last = now
                        outbox.put(encode_heartbeat(task_id), urgent=True)

                outbox.put(encode_result(task_id, hash_ref(ref, config, heartbeat, parts.get(task_id))))
