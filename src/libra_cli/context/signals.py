"""Scores and reasons of the signals beyond co-location: near band, partial video, keywords.

Each signal gives a value in 0-1; a file's score joins the values of its signals as independent
evidence (``1 - (1 - a)(1 - b)…``), so a second signal always raises the score and one signal alone
scores as it does alone. The values (docs/suspected.md):

- ``near-band``: 0.8 at the band's near edge, falling linearly to 0.5 at its far edge;
- ``partial-video``: 0.4 + 0.4 x the larger share of aligned frames (0.48 at the 0.2 floor);
- ``keyword``: 0.15 per keyword list that names the file or a folder (below co-location's base 0.2: a
  word in a name is the weakest signal and the easiest to misread).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..match.candidates import Candidate
from ..textsafe import printable

__all__ = ["KEYWORD", "combine", "explain"]

NEAR_TOP, NEAR_BOTTOM = 0.8, 0.5
VIDEO_BASE, VIDEO_SHARE = 0.4, 0.4
KEYWORD = 0.15


def _near_value(candidate: Candidate) -> float:
    band = str(candidate.detail.get("band", "32..48"))
    low, _, high = band.partition("..")
    lo, hi = int(low), int(high)
    where = 0.0 if hi == lo else (hi - candidate.distance) / (hi - lo)
    return NEAR_BOTTOM + (NEAR_TOP - NEAR_BOTTOM) * min(1.0, max(0.0, where))


def _video_value(candidate: Candidate) -> float:
    share = max(float(str(candidate.detail.get("query_share", 0))), float(str(candidate.detail.get("listed_share", 0))))
    return VIDEO_BASE + VIDEO_SHARE * min(1.0, share)


def explain(candidates: Sequence[Candidate], keyword_lists: Sequence[tuple[str, str]]) -> tuple[list[float], list[str]]:
    """The values and reasons of a file's candidates and keyword hits (``(list, "file"|"folder")``)."""
    values: list[float] = []
    reasons: list[str] = []
    for c in candidates:
        entry = printable(c.entry_id)
        if c.signal == "near-band":
            values.append(_near_value(c))
            reasons.append(
                f"near band: PDQ distance {c.distance} to entry {entry} of list {printable(c.list)}, just past "
                f"the match threshold {c.detail.get('threshold')} (band {c.detail.get('band')})"
            )
        elif c.signal == "partial-video":
            values.append(_video_value(c))
            reasons.append(
                f"partial video: {c.detail.get('query_share')} of the file's frames and "
                f"{c.detail.get('listed_share')} of listed video {entry} (list {printable(c.list)}) align, from "
                f"{c.detail.get('first_time')} s to {c.detail.get('last_time')} s of the file; too few for a match"
            )
    for name, where in keyword_lists:
        values.append(KEYWORD)
        reasons.append(f"a {where} name holds a keyword of list {printable(name)}")
    return values, reasons


def combine(values: Sequence[float]) -> float:
    """Independent evidence joined: ``1 - prod(1 - v)``, rounded to three places."""
    rest = 1.0
    for v in values:
        rest *= 1.0 - min(1.0, max(0.0, v))
    return round(1.0 - rest, 3)
