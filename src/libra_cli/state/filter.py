"""The state's filter: an unchanged file's stored hashes instead of reading it again.

Per reference, one indexed look-up by location. The stored result is used when the identity is the same
(size, times, inode; ETag and version id for objects), the stored hash set covers what this run needs
for that kind of media, and perceptual hashes were computed with this run's parameters. Anything else
(new, changed, hashed with fewer types or other parameters, unreadable record) goes to the engine, so
only that file is read again. The stored hashes then meet today's lists in the match stage, so a list
update is never missed.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace

from ..engine.wire import WireError
from ..models import HashConfig, HashResult, MediaRef
from ..pipeline import Filter
from ..textsafe import log_value
from . import codec
from .store import StateStore, key

log = logging.getLogger("libra.state")

_LOOKUP = (
    "SELECT size, mtime_ns, inode, ctime_ns, etag, version_id, media_type, width, height, computed, fingerprint, "
    "hashes FROM files WHERE location = ?"
)


class StateFilter(Filter):
    """Answers from the store for unchanged files; ``served`` holds the locations it answered this run."""

    def __init__(self, store: StateStore, config: HashConfig) -> None:
        self.store = store
        self.config = config
        self.fingerprint = codec.fingerprint(config)
        self.served: set[str] = set()
        self.hits = 0
        self.misses = 0

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
            return None
        with self.store.guard("read"):
            row = self.store.db.execute(_LOOKUP, (key(ref.uri),)).fetchone()
        if row is None or tuple(row[:6]) != codec.identity(ref):
            return None
        media_type, width, height, computed, fingerprint, blob = row[6:]
        if not codec.covers(computed, self.config, media_type):
            return None
        _, perceptual = codec.needed(self.config, media_type)
        if perceptual and fingerprint != self.fingerprint:
            return None
        try:
            result = codec.decode(blob, ref)
        except (WireError, sqlite3.Error) as err:
            log.warning("stored hashes unreadable location=%s reason=%s", log_value(ref.uri), log_value(err))
            return None
        kept = tuple(v for v in result.perceptual if v.hash_type in perceptual)
        return replace(
            result,
            perceptual=kept,
            computed=frozenset(result.digests) | {v.hash_type for v in kept},
            width=width,
            height=height,
        )
