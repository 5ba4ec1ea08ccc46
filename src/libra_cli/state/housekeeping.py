"""``libra state info|vacuum|forget``: what a state holds, giving space back, purging records by location.

``forget`` exists for hosts that must purge what they know about deleted accounts: every file row,
finding and location allow record under a prefix is deleted, then the file is vacuumed so the
deleted rows do not linger in free pages.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from ..storage import scheme_of
from .history import iso
from .store import StateStore, key, prefix_range


def info(store: StateStore) -> dict[str, Any]:
    db = store.db
    with store.guard("read"):
        files, gone, hashes = db.execute(
            "SELECT count(*), count(gone_at), coalesce(sum(length(hashes) + length(location)), 0) FROM files"
        ).fetchone()
        runs, last = db.execute("SELECT count(*), max(started) FROM runs").fetchone()
        findings = db.execute("SELECT count(*) FROM findings").fetchone()[0]
        allowed = db.execute("SELECT count(*) FROM allow").fetchone()[0]
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
    size = sum(_size(store.path + s) for s in ("", "-wal"))
    return {
        "path": store.path,
        "schema": store.schema_version(),
        "bytes": size,
        "free_bytes": free * page_size,
        "files": files,
        "gone": gone,
        "bytes_per_file": round((pages - free) * page_size / files) if files else None,
        "hash_bytes_per_file": round(hashes / files) if files else None,
        "runs": runs,
        "last_run": iso(last),
        "findings": findings,
        "allow_records": allowed,
    }


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def vacuum(store: StateStore) -> tuple[int, int]:
    """Rewrite the file without free pages; (bytes before, bytes after)."""
    before = _size(store.path) + _size(store.path + "-wal")
    with store.guard("vacuum"):
        store.db.execute("VACUUM")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before, _size(store.path) + _size(store.path + "-wal")


def forget(store: StateStore, prefix: str) -> dict[str, int]:
    """Delete every record under ``prefix`` (a folder, a file, or an object-store prefix); counts deleted."""
    location = os.path.abspath(prefix) if scheme_of(prefix) == "file" else prefix
    inside = location.rstrip("/") + "/" if scheme_of(prefix) == "file" else location
    low, high = prefix_range(inside)
    where = "(location = ? OR (location >= ? AND location < ?))"
    args = (key(location), low, high)
    counts: dict[str, int] = {}

    def work(db: sqlite3.Connection) -> None:
        counts["files"] = db.execute(f"DELETE FROM files WHERE {where}", args).rowcount
        counts["findings"] = db.execute(f"DELETE FROM findings WHERE {where}", args).rowcount
        db.execute(f"DELETE FROM departures WHERE {where}", args)
        counts["allow_records"] = db.execute(
            f"DELETE FROM allow WHERE kind = 'location' AND {where.replace('location', 'value')}", args
        ).rowcount

    store.transaction(work, "forget")
    vacuum(store)
    return counts
