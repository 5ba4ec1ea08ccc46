"""Which targets a run reached: a nightly run that reached none must not replace the last good findings.

A mistyped target, an unmounted share or a bucket with the wrong credentials turns every target into
a walk error. Such a run says nothing about the tree; if it replaced yesterday's findings file, an
auditor would lose the last real record. The CLI asks ``reached_none`` before giving the new file
its name.

>>> watch = TargetWatch(["/srv/uplaods"])
>>> watch.error(ScanError("/srv/uplaods", "No such file or directory", fatal=True))
>>> watch.reached_none
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..models import HashResult, Match, ScanError, Skip
from ..storage.base import scheme_of
from ..storage.walker import distinct_targets
from .base import Sink


def _names(target: str) -> set[str]:
    """The locations a walk error about ``target`` itself may carry."""
    names = {target, target.rstrip("/")}
    if scheme_of(target) == "file":
        names.add(os.path.abspath(target))
    return names


class TargetWatch(Sink):
    """Notes every target whose own location could not be walked (not a file or folder inside it), and
    whether the run saw anything at all (a listing can fail after some objects were already scanned)."""

    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = distinct_targets(targets)
        self._names = [_names(t) for t in self.targets]
        self.failed: set[int] = set()
        self.seen = 0

    def result(self, result: HashResult, matches: Sequence[Match]) -> None:
        self.seen += 1

    def skip(self, skip: Skip) -> None:
        self.seen += 1

    def error(self, error: ScanError) -> None:
        for index, names in enumerate(self._names):
            if error.location in names:
                self.failed.add(index)

    @property
    def reached_none(self) -> bool:
        """Every target was a walk error and the run saw no file at all: it looked at nothing."""
        return bool(self.targets) and len(self.failed) == len(self.targets) and not self.seen
