"""Candidates: listed items a file comes *close* to without matching, for the suspected signals only.

A candidate is never a match and never reaches ``Match``: the matcher hands candidates beside its matches
(``Matcher.match_many(..., near=...)``, ``NearBand.search``) and only the context stage reads them, to
flag the file ``suspected`` for an authorised reviewer (docs/suspected.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..models import Entry

__all__ = ["Candidate"]


@dataclass(frozen=True)
class Candidate:
    """A near-miss of one file against one listed item.

    ``signal``: ``near-band`` (a PDQ distance just past the match threshold) or ``partial-video`` (some
    frames of a video align with a listed video, too few for the video rule). ``detail`` carries the
    signal's figures (``distance``; ``query_share``, ``listed_share`` and times).
    """

    signal: str
    list: str
    entry: Entry
    distance: int
    detail: Mapping[str, object] = field(default_factory=dict)

    @property
    def entry_id(self) -> str:
        """The listed entry's id or label, else a one-way digest of it: findings never carry a listed value."""
        if self.entry.id or self.entry.label:
            return str(self.entry.id or self.entry.label)
        return "#" + hashlib.sha256(f"{self.entry.hash_type}:{self.entry.value}".encode()).hexdigest()[:16]

    def record(self) -> dict[str, object]:
        return {"signal": self.signal, "list": self.list, "entry": self.entry_id, "distance": self.distance,
                **dict(self.detail)}  # fmt: skip
