"""Re-matching the stored hashes of every file against lists, without opening any media.

When a hotline publishes a new list version, the question is whether content already held is on it.
The state holds every file's hashes, so they go through the same match stage as a scan's results and
out through the same findings writers, each finding with ``last_seen``: the location as it was when a
scan last saw it. ``only_new_entries`` narrows a list to the entries an older version of it lacks.

A file whose stored hash set lacks a type the lists use (a list of SHA-1 against a state of MD5) is
not covered by a rematch: it is counted in ``not_covered``, named by an ``error`` record that says which
type is missing (a scan hashes it), and matched with the types it holds. Allow records apply as in a scan:
a covered match is written as ``allowed`` and not counted in ``matched``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from .. import __version__
from ..engine.wire import WireError
from ..findings import FindingsWriter, ScanHeader
from ..findings.schema import finding_record
from ..hashlist.table import HashColumn, HashList
from ..match.matcher import Matcher
from ..models import Finding, HashConfig, HashResult, MediaRef, ScanError
from ..pipeline import MatchStage, now_iso
from ..report import Report
from ..textsafe import log_value
from . import bulk as columnar
from . import codec
from .allow import StateReview
from .history import iso
from .sink import FINDING_SQL, finding_rows
from .store import StateStore, connect, uri

log = logging.getLogger("libra.state")

BATCH = 2048
#: Stored rows read at once by the quick read of blobs (``state/bulk.py``): one index search per type for all.
BULK_BATCH = 16384
#: Stored rows read at once from the hash columns (schema 4): one index search per type for all of them.
COLUMN_BATCH = 65536
#: Bytes of the state a rematch maps into memory while it reads the hash columns (``PRAGMA mmap_size``).
MMAP = 1 << 32
#: Rows read in full at once by id (SQLite allows 32,766 variables; older builds 999).
_BY_ID = 500
#: The archive's fingerprint is written out so that the partial index ``files_archives`` (schema 4) serves it.
_ARCHIVES = f"SELECT location FROM files WHERE gone_at IS NULL AND fingerprint = '{codec.ARCHIVE}' ORDER BY id"
_FULL = (
    "SELECT location, size, mtime_ns, inode, ctime_ns, etag, version_id, media_type, computed, hashes, last_seen "
    "FROM files"
)
_ROWS = f"{_FULL} WHERE gone_at IS NULL ORDER BY id"


def only_new_entries(new: HashList, old: HashList) -> HashList:
    """``new`` with only the entries whose (type, value) ``old`` does not hold."""
    columns: dict[str, HashColumn] = {}
    for hash_type, column in new.columns.items():
        before = old.columns.get(hash_type)
        if before is None or column.raw_values is not None:
            keep = np.ones(len(column), dtype=bool)
        else:
            keep = ~held_in(column.values, before.values)
        index = np.flatnonzero(keep)
        if len(index):
            columns[hash_type] = HashColumn.from_entries(hash_type, [column.entry(int(i)) for i in index])
    return HashList(new.info, columns)


def held_in(values: np.ndarray, among: np.ndarray) -> npt.NDArray[np.bool_]:
    """Per row of ``values``: whether ``among`` has an equal row.

    A list version usually keeps the older version's entries first, in their order, and appends: when
    ``values`` starts with ``among`` row for row (one comparison of the two arrays), only the rows after it
    are looked up, and with the smaller side sorted (a few thousand added rows against a million). Any
    other pair of versions goes through ``_held``, whose result is the same.
    """
    if len(among) and len(values) >= len(among) and np.array_equal(values[: len(among)], among):
        out = np.ones(len(values), dtype=np.bool_)
        out[len(among) :] = _held_few(values[len(among) :], among)
        return out
    if len(values) * 8 <= len(among):
        return _held_few(values, among)
    return _held(values, among)


def _heads(rows: np.ndarray) -> npt.NDArray[np.uint64]:
    """Each row's first 8 bytes (zero-padded) as one integer."""
    padded = np.zeros((len(rows), 8), dtype=np.uint8)
    padded[:, : min(8, rows.shape[1])] = rows[:, :8]
    return padded.view("<u8").ravel()


def _held_few(values: np.ndarray, among: np.ndarray) -> npt.NDArray[np.bool_]:
    """``_held`` for few ``values`` and many ``among``: only ``values`` is sorted (it stays in cache), and
    every row of ``among`` is looked up in it; rows whose heads meet are compared in full."""
    out = np.zeros(len(values), dtype=np.bool_)
    if not len(values) or not len(among):
        return out
    heads = _heads(values)
    order = np.argsort(heads, kind="stable")
    sorted_heads = heads[order]
    theirs = _heads(among)
    lo = np.searchsorted(sorted_heads, theirs, side="left")
    met = np.flatnonzero(sorted_heads[np.minimum(lo, len(sorted_heads) - 1)] == theirs)
    if not len(met):
        return out
    hi = np.searchsorted(sorted_heads, theirs[met], side="right")
    lo = lo[met]
    single = hi - lo == 1
    mine = order[lo[single]]
    out[mine[(values[mine] == among[met[single]]).all(axis=1)]] = True
    for a, start, end in zip(met[~single].tolist(), lo[~single].tolist(), hi[~single].tolist(), strict=True):
        rows = order[start:end]  # heads shared by several of ``values``: each compared in full
        out[rows[(values[rows] == among[a]).all(axis=1)]] = True
    return out


def _held(values: np.ndarray, among: np.ndarray) -> npt.NDArray[np.bool_]:
    """Per row of ``values``: whether ``among`` has an equal row. Rows are compared on their first 8 bytes
    first (sorted integers, where ``np.isin`` on whole rows sorts bytes objects) and in full where those meet."""
    out = np.zeros(len(values), dtype=np.bool_)
    if not len(values) or not len(among):
        return out
    heads = _heads(among)
    order = np.argsort(heads, kind="stable")
    sorted_heads = heads[order]
    mine = _heads(values)
    # Looked up in sorted order (numpy's binary search starts from the last answer: no cache miss per value)
    mine_order = np.argsort(mine, kind="stable")
    lo, hi = np.empty(len(mine), dtype=np.int64), np.empty(len(mine), dtype=np.int64)
    lo[mine_order] = np.searchsorted(sorted_heads, mine[mine_order], side="left")
    hi[mine_order] = np.searchsorted(sorted_heads, mine[mine_order], side="right")
    met = np.flatnonzero(hi > lo)
    out[met] = (among[order[lo[met]]] == values[met]).all(axis=1)  # the first row with that head, in full
    for i in met[~out[met] & (hi[met] - lo[met] > 1)].tolist():  # heads shared by several rows: all of them
        out[i] = bool((among[order[lo[i] : hi[i]]] == values[i]).all(axis=1).any())
    return out


def rematch(
    store: StateStore,
    matcher: Matcher,
    writer: FindingsWriter,
    lists: Sequence[HashList],
    *,
    command: str = "rematch",
    listener: Callable[[Report], None] | None = None,
    partial: str | None = None,
    bulk: bool = True,
    columns: bool = True,
) -> Report:
    """Match every stored file (not gone) against ``matcher``; findings to ``writer`` and to the history.

    ``partial``: why this run does not match every entry of its lists (``--only-new-entries``), recorded
    with the run so ``libra history diff`` does not read what it did not report as gone (``history.partial``).
    ``bulk``: read each batch of rows as hash arrays first and decode in full only the files that may match
    (``state/bulk.py``); ``False`` decodes every row (the reference the tests and the benchmark compare with).
    ``columns``: take those arrays from the hash columns (one query, no msgpack per row), reading from the
    blob only the rows they do not serve; ``False`` unpacks every blob (the path before schema 4).
    """
    extra = {"partial": partial} if partial else {}
    config = HashConfig(
        digests=tuple(sorted(matcher.needed_digests())), perceptual=tuple(sorted(matcher.needed_perceptual()))
    )
    stage = MatchStage(matcher, config)
    report = Report()
    started = time.time()
    header = ScanHeader(
        __version__,
        now_iso(),
        [f"state:{store.path}"],
        [{"name": hl.info.name, "entries": len(hl), "sha256": hl.info.sha256} for hl in lists],
        (*config.digests, *config.perceptual),
    )
    run_id = _begin(store, started, command, header)
    writer.begin(header)
    review = StateReview(store, run_id)
    cursor = store.db.cursor()
    found: list[tuple[object, ...]] = []  # findings are few: written to the history at the end
    try:
        with store.guard("read"):
            for (location,) in store.db.execute(_ARCHIVES).fetchall():
                why = "an archive: its members are not stored in the state; rescan it to match them against new lists"
                _uncovered(report, writer, uri(location), why)
            if bulk and columns:
                _by_columns(store, matcher, config, stage, report, writer, run_id, review, listener, found)
                rows_left = False
            else:
                cursor.execute(_ROWS)
                rows_left = True
            types = columnar.searched_types(matcher)
            while rows_left and (rows := cursor.fetchmany(BULK_BATCH if bulk else BATCH)):
                if bulk:
                    rows = _quick(rows, types, matcher, config, report, writer)
                found += _match_rows(rows, config, stage, report, writer, run_id, review)
                if listener is not None:
                    listener(report)
        cursor.close()
    except BaseException:
        report.interrupted = True
        cursor.close()
        _end(store, run_id, report, found, extra)
        raise
    writer.end(report.summary(), report.complete, now_iso())
    _end(store, run_id, report, found, extra)
    if report.fatal_errors:
        log.warning("not covered by the stored hashes files=%d (a scan hashes them)", report.fatal_errors)
    return report


def _by_columns(
    store: StateStore,
    matcher: Matcher,
    config: HashConfig,
    stage: MatchStage,
    report: Report,
    writer: FindingsWriter,
    run_id: int,
    review: StateReview,
    listener: Callable[[Report], None] | None,
    found: list[tuple[object, ...]],
) -> None:
    """The rows by their hash columns: one query reads a batch's values into arrays, the matcher marks the
    rows that may match, and only those (and rows the columns do not serve: older rows that could not be
    read, videos' frames) are read in full, through ``_quick`` and ``_match_rows`` as before. Findings are
    added to ``found`` as they come (an interrupted run records what it found)."""
    types, others = columnar.column_types(matcher)
    blob_types = columnar.searched_types(matcher)
    picked = "".join(f", coalesce({codec.COLUMNS[codec.COLUMN_TYPES.index(t)]}, x'')" for t in types)
    query = (
        f"SELECT id, size, media_type, columns, computed{picked} FROM files WHERE gone_at IS NULL "
        "ORDER BY id"
    )
    holds: dict[object, bool] = {}
    gaps: dict[tuple[object, object], tuple[str, ...]] = {}
    with _Prefetch(store, query, COLUMN_BATCH) as batches:
        for rows in batches:
            batch = columnar.column_batch(rows, 5, types, others, holds)
            full = columnar.column_candidates(batch, matcher)
            rest = ~full
            sizes = np.fromiter(map(itemgetter(1), rows), dtype=np.int64, count=len(rows))
            media = np.fromiter(map(bool, map(itemgetter(2), rows)), dtype=np.bool_, count=len(rows))
            report.files += int(rest.sum())
            report.bytes += int(sizes[rest].sum())
            report.media += int((media & rest).sum())
            pairs = set(zip(map(itemgetter(4), rows), map(itemgetter(2), rows), strict=True))
            for pair in pairs - gaps.keys():
                gaps[pair] = codec.missing(str(pair[0]), config, cast(str | None, pair[1]))
            if any(gaps[p] for p in pairs):
                lacking = {i: gaps[(rows[i][4], rows[i][2])] for i in np.flatnonzero(rest).tolist()}
                lacking = {i: names for i, names in lacking.items() if names}
                where = _locations(store, [rows[i][0] for i in lacking])
                for i, names in lacking.items():
                    why = f"stored hashes lack {', '.join(names)}, which the lists use; rescan it"
                    _uncovered(report, writer, uri(where[rows[i][0]]), why)
            ids = [rows[i][0] for i in np.flatnonzero(full).tolist()]
            for start in range(0, len(ids), _BY_ID):
                part = ids[start : start + _BY_ID]
                marks = ",".join("?" * len(part))
                whole = store.db.execute(f"{_FULL} WHERE id IN ({marks}) ORDER BY id", part).fetchall()
                whole = _quick(whole, blob_types, matcher, config, report, writer)
                found += _match_rows(whole, config, stage, report, writer, run_id, review)
            if listener is not None:
                listener(report)


def _locations(store: StateStore, ids: Sequence[object]) -> dict[object, bytes]:
    """The stored locations of the rows ``ids``: read only for the few rows a rematch names (the batches
    leave them out, a string per stored file that most runs never use)."""
    where: dict[object, bytes] = {}
    for start in range(0, len(ids), _BY_ID):
        part = list(ids[start : start + _BY_ID])
        marks = ",".join("?" * len(part))
        where.update(store.db.execute(f"SELECT id, location FROM files WHERE id IN ({marks})", part).fetchall())
    return where


class _Prefetch:
    """The rows of ``query`` in batches of ``size``, read ahead by a thread on a connection of its own: SQLite
    reads and Python builds the next batch's rows while the index searches the current one (its kernels
    run without the GIL), instead of the two taking turns on one core."""

    def __init__(self, store: StateStore, query: str, size: int) -> None:
        self.store, self.query, self.size = store, query, size
        self._queue: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="libra-state-read", daemon=True)

    def __enter__(self) -> Iterator[list[Any]]:
        self._thread.start()
        return self._batches()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            self._queue.get_nowait()  # a reader waiting to hand on a batch sees the stop
        self._thread.join()

    def _batches(self) -> Iterator[list[Any]]:
        while True:
            kind, item = self._queue.get()
            if kind == "rows":
                yield cast(list[Any], item)
            elif kind == "error":
                raise cast(BaseException, item)
            else:
                return

    def _put(self, kind: str, item: object) -> bool:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put((kind, item), timeout=0.1)
                return True
        return False

    def _read(self) -> None:
        try:
            db = connect(self.store.path)
        except BaseException as err:  # handed to the consumer, raised there
            self._put("error", err)
            return
        try:
            with self.store.guard("read"):
                db.execute(f"PRAGMA mmap_size = {MMAP}")  # one pass over the whole table: no copy of every page
                cursor = db.execute(self.query)
                while rows := cursor.fetchmany(self.size):
                    if not self._put("rows", rows):
                        return
            self._put("end", None)
        except BaseException as err:  # handed to the consumer, raised there
            self._put("error", err)
        finally:
            db.close()


def _quick(
    rows: list[tuple[object, ...]],
    types: dict[str, int],
    matcher: Matcher,
    config: HashConfig,
    report: Report,
    writer: FindingsWriter,
) -> list[tuple[object, ...]]:
    """Count the rows that cannot match (as ``_match_rows`` would) and return the others, to decode in full."""
    batch = columnar.read([cast(bytes, row[9]) for row in rows], types)
    full = columnar.candidates(batch, matcher)
    gaps: dict[tuple[object, object], tuple[str, ...]] = {}  # a state holds few (hash set, media type) pairs
    for row, meta, whole in zip(rows, batch.meta, full.tolist(), strict=True):
        if whole or meta is None:
            continue
        media_type, size = meta
        lacking = gaps.get((row[8], row[7]))
        if lacking is None:
            lacking = gaps[(row[8], row[7])] = codec.missing(str(row[8]), config, cast(str | None, row[7]))
        if lacking:
            why = f"stored hashes lack {', '.join(lacking)}, which the lists use; rescan it"
            _uncovered(report, writer, uri(row[0]), why)  # type: ignore[arg-type]
        report.files += 1
        report.bytes += size
        report.media += int(bool(media_type))
    return [rows[i] for i in np.flatnonzero(full).tolist()]


def _match_rows(
    rows: list[tuple[object, ...]],
    config: HashConfig,
    stage: MatchStage,
    report: Report,
    writer: FindingsWriter,
    run_id: int,
    review: StateReview,
) -> list[tuple[object, ...]]:
    results: list[HashResult] = []
    seen: list[float] = []
    every = codec.any_config()
    for location, size, mtime_ns, inode, ctime_ns, etag, version_id, media_type, computed, blob, last in rows:
        ref = MediaRef(uri(location), size, mtime_ns, inode, ctime_ns, etag, version_id)  # type: ignore[arg-type]
        lacking = codec.missing(str(computed), config, media_type)
        if lacking:
            why = f"stored hashes lack {', '.join(lacking)}, which the lists use; rescan it"
            _uncovered(report, writer, ref.uri, why)
        try:
            result = codec.decode(blob, ref, every)  # type: ignore[arg-type]
        except WireError as err:
            log.warning("stored hashes unreadable location=%s reason=%s", log_value(ref.uri), log_value(err))
            if not lacking:
                _uncovered(report, writer, ref.uri, "stored hashes are unreadable; rescan it")
            continue
        results.append(result)
        seen.append(float(last))  # type: ignore[arg-type]
    found: list[tuple[object, ...]] = []
    for (result, matches), last_seen in zip(stage.run(results), seen, strict=True):
        report.files += 1
        report.bytes += result.ref.size
        report.media += int(bool(result.media_type))
        if not matches:
            continue
        finding = Finding(result.ref, result.media_type, result.digests, tuple(matches))
        record = {**finding_record(finding), "last_seen": iso(last_seen)}
        reason = review.allowed(result, matches)
        if reason is None:
            report.matched += 1
            writer.record(record)
        else:
            report.allowed += 1
            writer.record({**record, "status": "allowed", "allowed": reason})
        found.extend(finding_rows(run_id, result.ref.uri, matches, allowed=reason))
    return found


def _uncovered(report: Report, writer: FindingsWriter, location: str, reason: str) -> None:
    """A file the stored hashes cannot fully match: counted in ``not_covered`` and named in the findings."""
    report.fatal_errors += 1
    report.errors += 1
    writer.error(ScanError(location, reason))


def _begin(store: StateStore, started: float, command: str, header: ScanHeader) -> int:
    import json

    run_id = 0

    def work(db: sqlite3.Connection) -> None:
        nonlocal run_id
        cursor = db.execute(
            "INSERT INTO runs (started, command, targets, lists, hash_set) VALUES (?, ?, ?, ?, ?)",
            (
                started,
                command,
                json.dumps(list(header.targets)),
                json.dumps([{"name": x["name"], "sha256": x["sha256"]} for x in header.lists]),
                ",".join(header.hash_set),
            ),
        )
        run_id = int(cursor.lastrowid or 0)

    store.transaction(work)
    return run_id


def _end(
    store: StateStore, run_id: int, report: Report, found: list[tuple[object, ...]], extra: dict[str, str]
) -> None:
    import json

    def work(db: sqlite3.Connection) -> None:
        db.executemany(FINDING_SQL, found)
        db.execute(
            "UPDATE runs SET finished = ?, complete = ?, exit_code = ?, counts = ? WHERE id = ?",
            (time.time(), int(report.complete), int(report.exit_code), json.dumps(report.summary() | extra), run_id),
        )

    store.transaction(work)
