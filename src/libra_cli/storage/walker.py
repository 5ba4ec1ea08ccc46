"""Walk many targets lazily as one stream of references; errors and skips wait in queues.

A pool's feeder thread pulls ``refs()``, so the walk never has to finish (or be held in memory)
before hashing starts; the main thread drains ``errors`` and ``skipped`` so writers are only ever
called from one thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

from ..models import MediaRef
from .base import Skipped, WalkError, WalkOptions, storage_for


class Walker:
    """All targets, in order, through their storage backends; counts what it has found so far."""

    def __init__(self, targets: Sequence[str], options: WalkOptions) -> None:
        self.targets = targets
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
