"""A suspected file's score (0-1) and the reasons for it, in words a reviewer reads.

Co-location alone gives a base score; the rest rises with similarity to the group's confirmed
matches, the larger of two: whole-picture PDQ (an edit of the match: between the threshold and about
``FAR`` bits away, unrelated photos near 128) and scene windows (``scene.py``: other framings of the
same scene, crops, shifts, zooms, which whole-picture PDQ puts as far as unrelated photos). So within
one account a series ranks above the unrelated photos beside it. The score orders review; it never
makes a match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..textsafe import count, printable
from . import scene as scenes
from .groups import Group

if TYPE_CHECKING:
    from .stage import ContextOptions, _Confirmed

#: PDQ distance at and beyond which a picture is treated as unrelated to a match (no similarity credit):
#: past 64 bits unrelated pictures begin to meet (the closest unrelated pair measured here is 78 bits).
FAR = 64
#: Score of co-location alone, before the kinds of group a file shares with a match.
BASE = 0.2
#: What each kind of shared group adds. An upload batch or an archive is one act of storing files
#: together (minutes apart, one container); a folder or account is long-lived and gathers unrelated files.
WEIGHTS = {"archive": 0.15, "batch": 0.15, "folder": 0.05, "account": 0.05}
#: The share of the score PDQ similarity can add.
SIMILARITY = 0.6
#: How each group kind reads in a reason.
_WHERE = {"archive": "same archive", "account": "same account", "folder": "same folder", "batch": "same upload batch"}


@dataclass(frozen=True)
class Scored:
    score: float
    reasons: tuple[str, ...]
    distance: int | None  #: the closest PDQ distance to a confirmed match of the same groups
    signals: tuple[str, ...] = ("colocation",)
    evidence: tuple[Mapping[str, object], ...] = ()  #: near-band, partial-video and keyword details
    scene: float | None = None  #: the closest scene-window distance to a confirmed match (``scene.py``)

    def record(self) -> dict[str, object]:
        out: dict[str, object] = {
            "score": self.score,
            "reasons": list(self.reasons),
            "signals": list(self.signals),
            "pdq_distance": self.distance,
        }
        if self.scene is not None:
            out["scene_distance"] = self.scene
        if self.evidence:
            out["candidates"] = [dict(e) for e in self.evidence]
        return out


def closest(query: bytes, rows: npt.NDArray[np.uint8]) -> int:
    """The smallest Hamming distance between one PDQ hash and ``(k, 32)`` rows."""
    q = np.frombuffer(query, dtype=np.uint8)
    return int(np.unpackbits(np.bitwise_xor(rows, q), axis=1).sum(axis=1).min())


def similarity(distance: int | None, threshold: int) -> float:
    """1 at the match threshold, 0 at ``FAR`` and beyond, linear between."""
    if distance is None:
        return 0.0
    return float(min(1.0, max(0.0, (FAR - distance) / (FAR - threshold))))


def score(
    pdq: bytes | None,
    groups: Sequence[Group],
    confirmed: Sequence[_Confirmed],
    sizes: Mapping[Group, int],
    options: ContextOptions,
    scene: scenes.Rows | None = None,
) -> Scored:
    """Score one unmatched file against the confirmed matches of the groups it shares with them.

    ``scene`` is the file's scene windows (``None`` when not computed or all flat)."""
    reasons = [
        f"{_WHERE[kind]} as {count(sizes[(kind, key)], 'confirmed match', 'confirmed matches')}" for kind, key in groups
    ]
    best: int | None = None
    entry = ""
    if pdq is not None:
        for match in confirmed:
            if match.pdq is None:
                continue
            d = closest(pdq, match.pdq)
            if best is None or d < best:
                best, entry = d, match.entry
    near = similarity(best, options.pdq_threshold)
    closest_scene, scene_entry = _closest_scene(scene, confirmed)
    alike = scenes.similarity(closest_scene)
    if best is None:
        reasons.append("no PDQ hash to compare with the matches (not an image, too flat, or PDQ not computed)")
    elif near > 0:
        reasons.append(f"near a confirmed match (entry {printable(entry)}): PDQ distance {best}, past the match "
                       f"threshold {options.pdq_threshold} but short of {FAR}, where unrelated pictures begin to "
                       "meet")  # fmt: skip
    else:
        reasons.append(f"looks unlike the confirmed matches: closest PDQ distance {best}")
    if closest_scene is not None:
        if alike > 0:
            reasons.append(f"similar-to-match: scene windows {closest_scene:.1f} bits from confirmed match "
                           f"(entry {printable(scene_entry)}); another framing of the same scene (crop, shift or "
                           f"zoom) is likely under {scenes.FAR:.0f}")  # fmt: skip
        else:
            reasons.append(f"scene unlike the confirmed matches: closest scene-window distance {closest_scene:.1f}")
    kinds = {kind for kind, _ in groups}
    value = BASE + sum(WEIGHTS[kind] for kind in kinds) + SIMILARITY * max(near, alike)
    return Scored(round(min(1.0, value), 3), tuple(reasons), best, scene=closest_scene)


def _closest_scene(scene: scenes.Rows | None, confirmed: Sequence[_Confirmed]) -> tuple[float | None, str]:
    """The smallest scene-window distance from ``scene`` to a confirmed match, and that match's entry."""
    best: float | None = None
    entry = ""
    if scene is None:
        return best, entry
    for match in confirmed:
        if match.scene is None:
            continue
        d = scenes.distance(scene, match.scene)
        if best is None or d < best:
            best, entry = d, match.entry
    return (None if best is None else round(best, 2)), entry
