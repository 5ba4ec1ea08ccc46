"""The state's sink: every hashed file's hashes and identity, written in batches.

Results are kept in memory and committed together every ``BATCH`` results or ``INTERVAL`` seconds, each
batch in one transaction: a run killed with SIGKILL loses at most the last batch, and what the file
holds is always true (a row is a file's identity with the hashes of that version). Files whose result
has an error are not stored as hashed (their row is dropped, so the next run tries again). Files that a
complete walk of their target no longer finds are marked gone; their row and last-seen time stay.

A file hashed again because this run needed a type its row lacks keeps the other stored types: digests
depend on nothing, perceptual hashes are kept when computed with the same parameters.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..engine.wire import WireError
from ..findings import ScanHeader
from ..models import HashResult, Match, ScanError, Skip
from ..report import Report
from ..sinks import Sink
from ..storage import scheme_of
from . import codec
from .filter import StateFilter
from .store import StateStore, key, prefix_range

BATCH = 500
INTERVAL = 1.0

_UPSERT = """
INSERT INTO files (location, size, mtime_ns, inode, ctime_ns, etag, version_id, media_type, width, height,
                   computed, fingerprint, hashes, first_seen, last_seen, hashed_at, last_run, gone_at,
                   h_md5, h_sha1, h_sha256, h_blake3, h_pdq, columns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, 1)
ON CONFLICT (location) DO UPDATE SET
    size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode, ctime_ns = excluded.ctime_ns,
    etag = excluded.etag, version_id = excluded.version_id, media_type = excluded.media_type,
    width = excluded.width, height = excluded.height, computed = excluded.computed,
    fingerprint = excluded.fingerprint, hashes = excluded.hashes, last_seen = excluded.last_seen,
    hashed_at = excluded.hashed_at, last_run = excluded.last_run, gone_at = NULL,
    h_md5 = excluded.h_md5, h_sha1 = excluded.h_sha1, h_sha256 = excluded.h_sha256, h_blake3 = excluded.h_blake3,
    h_pdq = excluded.h_pdq, columns = 1
"""
_TOUCH = "UPDATE files SET last_seen = ?, last_run = ?, gone_at = NULL WHERE location = ?"
_DROP = "DELETE FROM files WHERE location = ?"
FINDING_SQL = (
    "INSERT OR IGNORE INTO findings (run, location, list, entry, hash_type, method, distance, allowed) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def entry_key(match: Match) -> str:
    """How a finding names its list entry: the entry's id, else a short digest of it (never the listed value)."""
    if match.entry.id:
        return match.entry.id
    return "#" + hashlib.sha256(f"{match.hash_type}:{match.entry.value}".encode()).hexdigest()[:16]


def finding_rows(
    run_id: int, location: str, matches: Sequence[Match], allowed: str | None = None
) -> list[tuple[Any, ...]]:
    """One row per (list, entry) a file matched, the closest match of each."""
    return [
        (run_id, key(location), m.list, entry_key(m), m.hash_type, m.method, m.distance, allowed) for m in matches
    ]


def target_prefixes(targets: Sequence[str]) -> list[str]:
    """Stored-location prefixes of the targets: an absolute local path, or an object-store URI as given."""
    return [os.path.abspath(t) if scheme_of(t) == "file" else t for t in targets]


class StateSink(Sink):
    """Records every result of a run in the store (see the module docstring)."""

    def __init__(
        self, store: StateStore, filter: StateFilter, run_id: int, targets: Sequence[str], *, mark_gone: bool = True
    ) -> None:
        self.store = store
        self.filter = filter
        self.run_id = run_id
        self.targets = list(targets)
        self.mark_gone = mark_gone
        self.walk_errors = 0
        self.stored = 0
        self._upserts: list[HashResult] = []
        self._touches: list[str] = []
        self._drops: list[str] = []
        self._archives: set[str] = set()  #: archives among the pending upserts (``codec.ARCHIVE``)
        self._findings: list[tuple[Any, ...]] = []
        self._last_flush = time.monotonic()

    def begin(self, header: ScanHeader) -> None:
        lists = json.dumps([{"name": hl.get("name"), "sha256": hl.get("sha256")} for hl in header.lists])
        self.store.transaction(lambda db: db.execute("UPDATE runs SET lists = ? WHERE id = ?", (lists, self.run_id)))

    def result(self, result: HashResult, matches: Sequence[Match]) -> None:
        location = result.ref.uri
        self._findings.extend(finding_rows(self.run_id, location, matches))
        if result.member is not None:  # an archive member is not a file of the storage: never stored
            pass
        elif location in self.filter.served:
            self.filter.served.discard(location)
            self._touches.append(location)
        elif result.error or result.fatal:
            self._drops.append(location)
            self.filter.partial.discard(location)
        elif result.members:  # an archive: its own hashes kept, marked so it is always read again (members)
            self._archives.add(location)
            self._upserts.append(replace(result, members=()))
        else:
            self._upserts.append(result)
        self._maybe_flush()

    def allowed(self, result: HashResult, matches: Sequence[Match], reason: str) -> None:
        self._findings.extend(finding_rows(self.run_id, result.ref.uri, matches, allowed=reason))

    def skip(self, skip: Skip) -> None:
        self._touches.append(skip.location)  # still there, only not looked at (excluded, --since, too large)
        self._maybe_flush()

    def error(self, error: ScanError) -> None:
        self.walk_errors += 1

    def end(self, report: Report, finished: str) -> None:
        self.flush()
        if self.mark_gone and self.walk_errors == 0 and not report.interrupted:  # a stopped walk saw only part
            self._mark_gone()

    def _maybe_flush(self) -> None:
        pending = len(self._upserts) + len(self._touches) + len(self._drops)
        if pending >= BATCH or (pending and time.monotonic() - self._last_flush >= INTERVAL):
            self.flush()

    def flush(self) -> None:
        """Commit what is pending in one transaction (also called when a run is interrupted)."""
        upserts, touches, drops, findings = self._upserts, self._touches, self._drops, self._findings
        self._upserts, self._touches, self._drops, self._findings = [], [], [], []
        self._last_flush = time.monotonic()
        if not (upserts or touches or drops or findings):
            return
        now = time.time()

        def work(db: sqlite3.Connection) -> None:
            db.executemany(_UPSERT, [self._row(db, r, now) for r in upserts])
            db.executemany(_TOUCH, [(now, self.run_id, key(u)) for u in touches])
            db.executemany(_DROP, [(key(u),) for u in drops])
            db.executemany(FINDING_SQL, findings)

        self.store.transaction(work)
        self.stored += len(upserts)

    def _row(self, db: sqlite3.Connection, result: HashResult, now: float) -> tuple[Any, ...]:
        ref = result.ref
        fingerprint = self.filter.fingerprint
        if ref.uri in self._archives:
            self._archives.discard(ref.uri)
            self.filter.partial.discard(ref.uri)
            fingerprint = codec.ARCHIVE
        elif ref.uri in self.filter.partial:  # only then is a stored row of this version there to merge
            self.filter.partial.discard(ref.uri)
            merged = self._merged(db, result)
            if merged is not None:
                result, fingerprint = merged
        return (
            key(ref.uri), ref.size, ref.mtime_ns, ref.inode, ref.ctime_ns, ref.etag, ref.version_id,
            result.media_type, result.width, result.height, codec.computed_text(result.computed), fingerprint,
            codec.encode(result), now, now, now, self.run_id, *codec.column_values(result),
        )  # fmt: skip

    def _merged(self, db: sqlite3.Connection, result: HashResult) -> tuple[HashResult, str] | None:
        """The stored row's other hash types added to ``result`` when the file is the same version."""
        row = db.execute(
            "SELECT size, mtime_ns, inode, ctime_ns, etag, version_id, fingerprint, hashes FROM files "
            "WHERE location = ?",
            (key(result.ref.uri),),
        ).fetchone()
        if row is None or tuple(row[:6]) != codec.identity(result.ref):
            return None
        fingerprint, blob = row[6], row[7]
        try:
            old = codec.decode(blob, result.ref)
        except WireError:
            return None
        old_perceptual = old.computed - set(old.digests)
        if not (result.computed - set(result.digests)):
            keep = old_perceptual  # this run computed no perceptual hashes: keep the stored ones, and their parameters
        elif fingerprint == self.filter.fingerprint:
            keep = old_perceptual - result.computed
        else:
            keep, fingerprint = frozenset(), self.filter.fingerprint
        if not (result.computed - set(result.digests)) and not keep:
            fingerprint = self.filter.fingerprint
        perceptual = result.perceptual + tuple(v for v in old.perceptual if v.hash_type in keep)
        digests = {**old.digests, **result.digests}
        computed = result.computed | set(old.digests) | keep
        return replace(result, digests=digests, perceptual=perceptual, computed=frozenset(computed)), fingerprint

    def _mark_gone(self) -> None:
        """Rows under a target that this (complete) walk did not see: gone, with their last-seen time kept."""
        now = time.time()

        def work(db: sqlite3.Connection) -> None:
            for prefix in target_prefixes(self.targets):
                inside = prefix.rstrip("/") + "/" if scheme_of(prefix) == "file" else prefix
                low, high = prefix_range(inside)
                where = "gone_at IS NULL AND last_run < ? AND (location = ? OR (location >= ? AND location < ?))"
                args = (self.run_id, key(prefix), low, high)
                db.execute(
                    f"INSERT OR IGNORE INTO departures (run, location) SELECT ?, location FROM files WHERE {where} "
                    "AND location IN (SELECT location FROM findings)",
                    (self.run_id, *args),
                )
                db.execute(f"UPDATE files SET gone_at = ? WHERE {where}", (now, *args))

        self.store.transaction(work)
