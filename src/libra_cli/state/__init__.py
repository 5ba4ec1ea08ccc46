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
from .filter import StateFilter
from .sink import StateSink
from .store import SCHEMA, StateStore, default_state_path

__all__ = ["SCHEMA", "StateError", "StateFilter", "StateSession", "StateSink", "StateStore", "default_state_path",
           "session"]  # fmt: skip

log = logging.getLogger("libra.state")


@dataclass
class StateSession:
    """One run's use of an open, locked store."""

    store: StateStore
    filter: StateFilter
    sink: StateSink
    run_id: int
    started: float

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
        run_id = _begin_run(store, started, command, targets, config)
        filter = StateFilter(store, config)
        sink = StateSink(store, filter, run_id, targets, mark_gone=mark_gone)
        state = StateSession(store, filter, sink, run_id, started)
        try:
            yield state
        finally:
            with contextlib.suppress(StateError):  # the run's own error (if any) is the one to report
                sink.flush()
    finally:
        store.close()


def _begin_run(store: StateStore, started: float, command: str, targets: Sequence[str], config: HashConfig) -> int:
    run_id = 0
    hash_set = ",".join((*config.digests, *config.perceptual))

    def work(db: sqlite3.Connection) -> None:
        nonlocal run_id
        cursor = db.execute(
            "INSERT INTO runs (started, command, targets, hash_set) VALUES (?, ?, ?, ?)",
            (started, command, json.dumps([str(t) for t in targets]), hash_set),
        )
        run_id = int(cursor.lastrowid or 0)

    store.transaction(work)
    return run_id
