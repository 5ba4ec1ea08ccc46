"""Walk many targets lazily as one stream of references; errors and skips wait in queues.

A pool's feeder thread pulls ``refs()``, so the walk never has to finish (or be held in memory)
before hashing starts; the main thread drains ``errors`` and ``skipped`` so writers are only ever
called from one thread.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence

from ..models import MediaRef
from .base import Skipped, WalkError, WalkOptions, scheme_of, storage_for


def distinct_targets(targets: Sequence[str]) -> list[str]:
    """Targets without repeats or local paths inside another local target, so no file is reported twice.

    >>> distinct_targets(["/srv/a", "/srv/a/b.jpg", "/srv/a/", "/srv/c"])
    ['/srv/a', '/srv/c']
    """
    local = {t: os.path.abspath(t) for t in targets if scheme_of(t) == "file"}
    kept: list[str] = []
    seen: set[str] = set()
    for target in targets:
        key = local.get(target, target)
        if key in seen:
            continue
        inside = any(
            key != other and key.startswith(other.rstrip(os.sep) + os.sep) for other in local.values()
        )
        if not inside:
            seen.add(key)
            kept.append(target)
    return kept


class Walker:
    """All targets, in order, through their storage backends; counts what it has found so far."""

    def __init__(self, targets: Sequence[str], options: WalkOptions) -> None:
        self.targets = distinct_targets(targets)
        self.options = options
        self.errors: deque[WalkError] = deque()
        self.skipped: deque[Skipped] = deque()
        self.discovered = 0
        self.discovered_bytes = 0
        self.done = False

    def refs(self) -> Iterator[MediaRef]:
        for target in self.targets:
            for item in storage_for(target).walk(target, self.options):
                if isinstance(item, MediaRef):
                    self.discovered += 1
                    self.discovered_bytes += item.size
                    yield item
                elif isinstance(item, WalkError):
                    self.errors.append(item)
                else:
                    self.skipped.append(item)
        self.done = True
