"""The main function of a local worker process: read tasks from a pipe, hash, send checked plain results.

The process comes from a ``forkserver`` (never a fork of the parent, so the decrypted lists are never
in its memory), dies with its parent (``PR_SET_PDEATHSIG``), keeps native libraries to one thread
(one worker, one core), and imports the parent's plug-in modules. It handles one file at a time, in
order, so when it dies or stalls the parent knows exactly which file did it.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection

from ..errors import LibraError
from ..hashing import check_config, hash_ref
from ..lifeline import die_with_parent
from ..models import HashConfig
from .wire import decode_task, encode_failure, encode_heartbeat, encode_result

#: Seconds between heartbeats while one long file is read.
HEARTBEAT_EVERY = 1.0


def _single_threaded() -> None:
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover - OpenCV missing or built without threading
        pass


def serve(conn: Connection, config: HashConfig) -> None:
    """Hash every task the parent sends until it sends an empty message or goes away."""
    die_with_parent()
    _single_threaded()
    try:
        check_config(config)  # imports plug-ins; a bad config is reported once, not per file
    except LibraError as err:
        conn.send_bytes(encode_failure(str(err)))
        return
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not data:
            return
        task_id, ref = decode_task(data)
        last = time.monotonic()

        def heartbeat(task_id: int = task_id) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= HEARTBEAT_EVERY:
                last = now
                conn.send_bytes(encode_heartbeat(task_id))

        result = hash_ref(ref, config, heartbeat)
        conn.send_bytes(encode_result(task_id, result))
