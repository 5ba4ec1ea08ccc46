"""Allow records: reviewed false positives, suppressed in later runs; and which matches are new.

A person who reviewed a match and found it benign records it once (``libra allow add``), and later runs
report that file as ``allowed`` instead of as a match: not counted in ``matched``, no exit code 1, no
hook. A record names either

- a **location**, with the identity of the version that was reviewed (size, times, inode; ETag and
  version id for objects): a file later replaced at the same place is matched again; or
- a **hash of the file**: a digest (``sha256:HEX``, ``md5:HEX``; a bare 32, 40 or 64 digit hex is MD5,
  SHA-1 or SHA-256) or a perceptual hash of the picture itself (``pdq:HEX``, compared exactly, with the
  file's own hash, never a variant), so every copy of the reviewed picture is covered, wherever it is.

Nothing else widens a record: it never covers a near-match of the reviewed picture, so it cannot hide a
listed item that merely looks alike. Records live in the state file (they are host decisions, kept
with its history); a suppressed match is recorded in the run's findings with the record's reason.

``StateReview`` is the pipeline's ``Review`` for a run with a state: it also says whether a match is
*new*, i.e. no earlier run of the state reported that (location, list, entry).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .. import signals
from ..errors import ConfigError, StateError
from ..models import HashResult, Match
from ..pipeline import Review
from ..storage import scheme_of
from ..textsafe import printable
from . import codec
from .history import iso
from .sink import entry_key
from .store import StateStore, key, uri

_BARE = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"[0-9a-fA-F]+")


def parse(text: str) -> tuple[str, bytes | str]:
    """``(kind, value)`` of what ``libra allow add`` names: a hash type and its raw bytes, or ``location``
    and the stored location (an absolute path for a local file, else the URI as given)."""
    kind, sep, value = text.partition(":")
    if sep and signals.find(kind.lower()) is not None:
        kind = kind.lower()
        size = signals.get(kind).nbytes
        if not _HEX.fullmatch(value) or len(value) != 2 * size:
            raise ConfigError(f"{kind} allow records take {2 * size} hex digits, not {value!r}")
        return kind, bytes.fromhex(value)
    if _HEX.fullmatch(text) and len(text) in _BARE:
        return _BARE[len(text)], bytes.fromhex(text)
    if not text:
        raise ConfigError("name a location or a hash to allow")
    return "location", os.path.abspath(text) if scheme_of(text) == "file" else text


def add(store: StateStore, text: str, reason: str) -> int:
    """Record an allow; its id. A location must be in the state (its reviewed version is taken from there)."""
    if not reason.strip():
        raise ConfigError("--reason is required: say why the match was judged a false positive")
    kind, value = parse(text)
    identity: str | None = None
    stored: bytes
    if isinstance(value, str):
        stored = key(value)
        with store.guard("read"):
            row = store.db.execute(
                "SELECT size, mtime_ns, inode, ctime_ns, etag, version_id FROM files WHERE location = ?", (stored,)
            ).fetchone()
        if row is None:
            raise StateError(
                f"{printable(value)} is not in state {printable(store.path)} (scan it with this --state first, "
                "or allow a hash of the file such as sha256:HEX)"
            )
        identity = json.dumps(list(row))
    else:
        stored = value
    found = 0

    def work(db: sqlite3.Connection) -> None:
        nonlocal found
        db.execute(
            "INSERT INTO allow (kind, value, reason, added, identity) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, added = excluded.added, "
            "identity = excluded.identity",
            (kind, stored, reason.strip(), time.time(), identity),
        )
        found = int(db.execute("SELECT id FROM allow WHERE kind = ? AND value = ?", (kind, stored)).fetchone()[0])

    store.transaction(work, "add an allow record")
    return found


def remove(store: StateStore, record: int) -> bool:
    """Delete allow record ``record``; False if there is none. Past runs keep the reason they recorded."""
    removed = 0

    def work(db: sqlite3.Connection) -> None:
        nonlocal removed
        removed = db.execute("DELETE FROM allow WHERE id = ?", (record,)).rowcount

    store.transaction(work, "remove an allow record")
    return bool(removed)


def records(store: StateStore) -> list[dict[str, Any]]:
    """Every allow record, oldest first, with how many findings of recorded runs it suppressed."""
    with store.guard("read"):
        rows = store.db.execute("SELECT id, kind, value, reason, added, identity FROM allow ORDER BY id").fetchall()
        used = dict(store.db.execute("SELECT allowed, count(*) FROM findings WHERE allowed IS NOT NULL GROUP BY 1"))
    out = []
    for record, kind, value, reason, added, identity in rows:
        shown = uri(value) if kind == "location" else f"{kind}:{bytes(value).hex()}"
        out.append({
            "id": record, "kind": kind, "value": shown, "reason": reason, "added": iso(added),
            "identity": None if identity is None else json.loads(identity), "suppressed": used.get(reason, 0),
        })  # fmt: skip
    return out


class StateReview(Review):
    """Allow records and earlier findings of a state, for one run (loaded once: records are few)."""

    def __init__(self, store: StateStore, run_id: int) -> None:
        self.store = store
        self.run_id = run_id
        self.locations: dict[bytes, tuple[list[Any], str]] = {}
        self.hashes: dict[str, dict[bytes, str]] = {}
        with store.guard("read the allow records"):
            rows = store.db.execute("SELECT kind, value, reason, identity FROM allow").fetchall()
        for kind, value, reason, identity in rows:
            if kind == "location":
                self.locations[bytes(value)] = (json.loads(identity or "null"), reason)
            else:
                self.hashes.setdefault(kind, {})[bytes(value)] = reason
        self._new: dict[str, bool] = {}

    def allowed(self, result: HashResult, matches: Sequence[Match]) -> str | None:
        here = self.locations.get(key(result.ref.uri))
        if here is not None and here[0] == list(codec.identity(result.ref)):
            return here[1]
        for kind, values in self.hashes.items():
            digest = result.digests.get(kind)
            if digest is not None and digest in values:
                return values[digest]
            for found in result.perceptual:
                if found.hash_type != kind:
                    continue
                for row, transform in zip(found.values, found.transforms, strict=False):
                    if transform == "original" and bytes(row) in values:
                        return values[bytes(row)]
        return None

    def is_new(self, result: HashResult, matches: Sequence[Match]) -> bool:
        where = key(result.ref.uri)
        with self.store.guard("read the history"):
            # A finding that came back after its file was taken down is new again: count only what was seen
            # since the last time a complete walk found the file gone.
            (gone,) = self.store.db.execute(
                "SELECT coalesce(max(run), 0) FROM departures WHERE location = ? AND run < ?", (where, self.run_id)
            ).fetchone()
            seen = set(
                self.store.db.execute(
                    "SELECT list, entry FROM findings WHERE location = ? AND run < ? AND run > ? AND allowed IS NULL",
                    (where, self.run_id, gone),
                )
            )
        new = any((m.list, entry_key(m)) not in seen for m in matches)
        self._new[result.ref.uri] = new
        return new

    def annotate(self, result: HashResult, matches: Sequence[Match]) -> Mapping[str, Any]:
        """A match record's ``new``: whether no earlier run of the state reported it."""
        return {"new": self._new.pop(result.ref.uri, True)}
