"""The state's filter: an unchanged file's stored hashes instead of reading it again.

Stored rows are read a window at a time in location order (a walk visits a folder's files in name order,
so one query answers the next hundreds of look-ups; a jump elsewhere reads a small window from there).
The stored result is used when the identity is the same (size, times, inode; ETag and version id for
objects), the stored hash set covers what this run needs
for that kind of media, and perceptual hashes were computed with this run's parameters. Anything else
(new, changed, hashed with fewer types or other parameters, unreadable record) goes to the engine, so
only that file is read again. The stored hashes then meet today's lists in the match stage, so a list
update is never missed.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from typing import Any

from ..engine.wire import WireError
from ..models import HashConfig, HashResult, MediaRef
from ..pipeline import Filter
from ..textsafe import log_value
from . import codec
from .store import StateStore, key

log = logging.getLogger("libra.state")

#: The stored rows from a location on, in location order: a walk visits a folder's files in name order, so
#: one query answers the next many look-ups (``StateFilter._row``).
_WINDOW = (
    "SELECT location, size, mtime_ns, inode, ctime_ns, etag, version_id, media_type, width, height, computed, "
    "fingerprint, hashes FROM files WHERE location >= ? ORDER BY location LIMIT ?"
)
#: Rows read at once, at most; a window that served its look-ups doubles up to this, a jump resets it.
WINDOW_MAX = 1024
WINDOW_MIN = 8


class StateFilter(Filter):
    """Answers from the store for unchanged files; ``served`` holds the locations it answered this run."""

    def __init__(self, store: StateStore, config: HashConfig) -> None:
        self.store = store
        self.config = config
        self.fingerprint = codec.fingerprint(config)
        self.served: set[str] = set()
        #: Locations whose stored row is this very version but could not answer this run (a hash type or
        #: parameter missing): the sink merges that row's hashes into the new result; no other row is read.
        self.partial: set[str] = set()
        self.hits = 0
        self.misses = 0
        self.queries = 0
        #: The rows of locations in ``[_low, _high)`` (``_high`` ``None``: to the end), read by one query.
        self._rows: dict[bytes, tuple[Any, ...]] = {}
        self._low: bytes | None = None
        self._high: bytes | None = None
        self._size = WINDOW_MIN
        #: (stored hash set, media type) -> (covers this run's needs, the perceptual types this run needs).
        self._usable: dict[tuple[str, str | None], tuple[bool, tuple[str, ...]]] = {}
        self._every = codec.any_config()

    def check(self, ref: MediaRef) -> HashResult | None:
        known = self._stored(ref)
        if known is None:
            self.misses += 1
            return None
        self.hits += 1
        self.served.add(ref.uri)
        return known

    def _stored(self, ref: MediaRef) -> HashResult | None:
        if self.config.robust:  # list-side variants are never stored
            self.partial.add(ref.uri)  # (the sink checks the row itself)
            return None
        row = self._row(key(ref.uri))
        if row is None or tuple(row[:6]) != codec.identity(ref):
            return None
        self.partial.add(ref.uri)  # until it answers below
        media_type, width, height, computed, fingerprint, blob = row[6:]
        if fingerprint == codec.ARCHIVE:  # its members are not stored: read it again
            return None
        usable = self._usable.get((computed, media_type))
        if usable is None:  # a state holds few (hash set, media type) pairs: worked out once per run each
            usable = (codec.covers(computed, self.config, media_type), codec.needed(self.config, media_type)[1])
            self._usable[(computed, media_type)] = usable
        covered, perceptual = usable
        if not covered or (perceptual and fingerprint != self.fingerprint):
            return None
        try:
            result = codec.decode(blob, ref, self._every)
        except (WireError, sqlite3.Error) as err:
            log.warning("stored hashes unreadable location=%s reason=%s", log_value(ref.uri), log_value(err))
            return None
        self.partial.discard(ref.uri)
        kept = tuple(v for v in result.perceptual if v.hash_type in perceptual)
        return replace(
            result,
            perceptual=kept,
            computed=frozenset(result.digests) | {v.hash_type for v in kept},
            width=width,
            height=height,
        )

    def _row(self, location: bytes) -> tuple[Any, ...] | None:
        """The stored row of ``location``, from the current window of rows or a new one read from it on.

        A window holds every stored row in its range (``location >= low ORDER BY location LIMIT n``: the rows
        from ``low`` up to the last one read), so a location inside it that is not in it is not stored.
        """
        if self._low is not None and self._low <= location and (self._high is None or location < self._high):
            return self._rows.get(location)
        if self._high is not None and location >= self._high:
            self._size = min(WINDOW_MAX, self._size * 2)  # walking on in order: read further ahead
        else:
            self._size = WINDOW_MIN  # the first look-up, or a jump back: not (yet) in location order
        with self.store.guard("read"):
            rows = self.store.db.execute(_WINDOW, (location, self._size)).fetchall()
        self.queries += 1
        self._rows = {bytes(r[0]): tuple(r[1:]) for r in rows}
        self._low = location
        # Every stored location from ``location`` to the last row read is in the window; nothing lies between
        # that row and the same bytes followed by NUL, its immediate successor.
        self._high = bytes(rows[-1][0]) + b"\x00" if len(rows) == self._size else None
        return self._rows.get(location)
