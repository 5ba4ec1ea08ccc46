"""The state store (``--state``): incremental scans, history, re-matching without reading media.

It keeps hashes, locations and metadata of what was hashed, never media and never list entries
(``docs/state.md``). ``session`` joins it to a run: a filter that answers unchanged files from the
store, and a sink that records every result and the run itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..errors import StateError
from ..models import HashConfig
from ..report import Report
from .allow import StateReview
from .filter import StateFilter
from .sink import StateSink, target_prefixes
from .store import SCHEMA, StateStore, default_state_path

__all__ = ["SCHEMA", "StateError", "StateFilter", "StateReview", "StateSession", "StateSink", "StateStore",
           "default_state_path", "interrupted_run", "session"]  # fmt: skip

log = logging.getLogger("libra.state")


@dataclass
class StateSession:
    """One run's use of an open, locked store."""

    store: StateStore
    filter: StateFilter
    sink: StateSink
    run_id: int
    started: float
    review: StateReview
    resumed_from: int | None = None  #: the interrupted run this one continues (``--resume``)

    def finish(self, report: Report) -> None:
        """The run's outcome, after its last result (an interrupted run is recorded as incomplete)."""
        self.sink.flush()
        outcome = (time.time(), int(report.complete), int(report.exit_code), json.dumps(report.summary()))
        self.store.transaction(
            lambda db: db.execute(
                "UPDATE runs SET finished = ?, complete = ?, exit_code = ?, counts = ? WHERE id = ?",
                (*outcome, self.run_id),
            )
        )
        log.info(
            "state recorded run=%d reused=%d hashed=%d stored=%d",
            self.run_id, self.filter.hits, self.filter.misses, self.sink.stored,
        )  # fmt: skip


@contextlib.contextmanager
def session(
    path: str | None,
    config: HashConfig,
    targets: Sequence[str],
    *,
    mark_gone: bool = True,
    command: str = "scan",
    resume: bool = False,
) -> Iterator[StateSession | None]:
    """Open and lock the state at ``path`` for one run (``None``: no state, yields ``None``).

    What was recorded stays recorded if the run stops early: pending results are committed on the way out.
    """
    if path is None:
        yield None
        return
    store = StateStore.open(path)
    try:
        started = time.time()
        resumed = _resumable(store, targets) if resume else None
        run_id = _begin_run(store, started, command, targets, config, resumed)
        filter = StateFilter(store, config)
        sink = StateSink(store, filter, run_id, targets, mark_gone=mark_gone)
        review = StateReview(store, run_id)
        state = StateSession(store, filter, sink, run_id, started, review, resumed)
        try:
            yield state
        finally:
            with contextlib.suppress(StateError):  # the run's own error (if any) is the one to report
                sink.flush()
    finally:
        store.close()


def interrupted_run(store: StateStore) -> tuple[int, list[str]] | None:
    """The last scan of the state, with its targets, if it did not run to its end (a signal, SIGKILL, a crash)."""
    with store.guard("read the history"):
        row = store.db.execute(
            "SELECT id, targets, finished, counts FROM runs WHERE command = 'scan' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        return None
    run_id, targets, finished, counts = row
    if finished is not None and not json.loads(counts or "{}").get("interrupted"):
        return None
    return int(run_id), [str(t) for t in json.loads(targets)]


def _resumable(store: StateStore, targets: Sequence[str]) -> int | None:
    """``--resume``: the interrupted run this one continues, if it scanned the same targets."""
    last = interrupted_run(store)
    if last is None:
        log.info("nothing to resume: the last scan of this state ran to its end; scanning everything")
        return None
    if sorted(target_prefixes(last[1])) != sorted(target_prefixes([str(t) for t in targets])):
        raise StateError(
            f"--resume: the interrupted run {last[0]} scanned {' '.join(last[1])}; "
            "resume it with the same targets (or name none), or drop --resume"
        )
    log.info("resuming run=%d (files it recorded are matched from their stored hashes)", last[0])
    return last[0]


def _begin_run(
    store: StateStore,
    started: float,
    command: str,
    targets: Sequence[str],
    config: HashConfig,
    resumed: int | None = None,
) -> int:
    run_id = 0
    hash_set = ",".join((*config.digests, *config.perceptual))

    def work(db: sqlite3.Connection) -> None:
        nonlocal run_id
        cursor = db.execute(
            "INSERT INTO runs (started, command, targets, hash_set, resumed_from) VALUES (?, ?, ?, ?, ?)",
            (started, command, json.dumps([str(t) for t in targets]), hash_set, resumed),
        )
        run_id = int(cursor.lastrowid or 0)

    store.transaction(work)
    return run_id
