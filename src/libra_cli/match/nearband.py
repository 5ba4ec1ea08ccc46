"""The near band: a PDQ distance just past the match threshold to a listed picture is a *candidate*.

Other shots of a listed series (a re-encode with a caption, a slightly different framing, a light edit)
often land a few bits past PDQ's threshold (31). Unrelated pictures do not: among 600,000 pairs of
distinct generated scenes and sample photos the closest pair is 78 bits apart, and docs/matching.md
reports the same floor over 33M pairs. So a distance in a band above the threshold (default 32..48, a
margin of 30 bits below the closest unrelated pair) is worth a reviewer's look, never a match: the
context stage turns it into a ``suspected`` reason ``near-band`` (docs/suspected.md).

Cost: one more search per unmatched file, of its original PDQ hash only (not the dihedral or region
variants the match searches), at radius ``high``, on the match index's own tables (``widen``: no second
index, no build). bench/bench_nearband.py measures it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..models import HashResult
from ..variants import is_region
from .candidates import Candidate
from .index import HammingIndex, build_index
from .perceptual import PerceptualIndex

__all__ = ["DEFAULT_BAND", "MAX_HIGH", "Band", "NearBand", "widen"]

#: Beyond this the band would reach unrelated pictures (closest unrelated pairs: 78 bits).
MAX_HIGH = 64
#: Candidates kept per file, closest first.
PER_FILE = 3


@dataclass(frozen=True)
class Band:
    """PDQ distances ``low..high`` (inclusive) past the match threshold that make a candidate."""

    low: int = 32
    high: int = 48

    @classmethod
    def parse(cls, value: object) -> Band | None:
        """``"32..48"`` (or a ``[32, 48]`` list); ``"off"``/``false`` turns the near band off (``None``)."""
        if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "no", "false", "none")):
            return None
        if isinstance(value, list | tuple) and len(value) == 2:
            low, high = value
        else:
            found = re.fullmatch(r"\s*(\d{1,3})\s*\.\.\s*(\d{1,3})\s*", str(value))
            if found is None:
                raise ConfigError(f"--near-band: {value!r} is not a band such as 32..48 (or off)")
            low, high = int(found.group(1)), int(found.group(2))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or not 1 <= low <= high:
            raise ConfigError(f"--near-band: {value!r} is not a band such as 32..48 (or off)")
        if high > MAX_HIGH:
            raise ConfigError(f"--near-band: {high} is past {MAX_HIGH} bits, where unrelated pictures begin to meet")
        return cls(low, high)

    def text(self) -> str:
        return f"{self.low}..{self.high}"


DEFAULT_BAND = Band()


def widen(index: HammingIndex, radius: int, codes: npt.NDArray[np.uint8]) -> HammingIndex:
    """``index`` searched at ``radius``: its own tables when the kind can share them, else a new index."""
    widened = getattr(index, "widened", None)
    if callable(widened):
        wide = widened(radius)
        assert isinstance(wide, HammingIndex)
        return wide
    return build_index(codes, radius, name=index.name)


class NearBand:
    """Near-band candidates of stills against one perceptual family's entries (PDQ)."""

    def __init__(self, index: PerceptualIndex, list_names: Sequence[str], band: Band, floor: int | None) -> None:
        self.index = index
        self.band = band
        self.floor = floor
        self.list_names = tuple(list_names)
        columns = index.segments.columns
        codes = columns[0].values if len(columns) == 1 else np.concatenate([c.values for c in columns])
        self.search_index = widen(index.index, max(band.high, index.max_threshold), np.ascontiguousarray(codes))

    def search(self, results: Sequence[HashResult], skip: Sequence[bool] = ()) -> list[list[Candidate]]:
        """Per result, up to ``PER_FILE`` candidates, closest first. ``skip[i]``: result ``i`` matched.

        Only a still's original PDQ hash (quality at the floor or above) is searched; a file within the
        match threshold of an allow-list entry (a known false positive) gets none.
        """
        out: list[list[Candidate]] = [[] for _ in results]
        owners: list[int] = []
        queries: list[npt.NDArray[np.uint8]] = []
        for i, result in enumerate(results):
            if i < len(skip) and skip[i]:
                continue
            query = self._original(result)
            if query is not None:
                owners.append(i)
                queries.append(query)
        if not queries:
            return out
        qis, gids, dists = self.search_index.search(np.ascontiguousarray(np.stack(queries)))
        segs, where = self.index.segments.locate(gids.astype(np.int64))
        thresholds = self.index.seg_threshold[segs]
        benign: set[int] = set()
        best: dict[tuple[int, int, str], tuple[int, int, int]] = {}
        for qi, seg, row, dist, threshold in zip(
            qis.tolist(), segs.tolist(), where.tolist(), dists.tolist(), thresholds.tolist(), strict=True
        ):
            column = self.index.segments.columns[seg]
            if column.allow[row]:
                if dist <= threshold:
                    benign.add(qi)
                continue
            if dist <= threshold or dist < self.band.low or dist > self.band.high:
                continue
            variant = column.variant(row) or ""
            if is_region(variant) or variant.startswith("mask-"):
                continue  # a corner or a masked frame of a listed picture: too weak for a candidate
            ident = column.ids[row]
            item = (qi, int(self.index.segments.lists[seg]), ident if ident is not None else f"row:{seg}:{row}")
            if item not in best or dist < best[item][0]:
                best[item] = (dist, seg, row)
        for (qi, li, _), (dist, seg, row) in sorted(best.items(), key=lambda kv: (kv[0][0], kv[1][0])):
            if qi in benign or len(out[owners[qi]]) >= PER_FILE:
                continue
            column = self.index.segments.columns[seg]
            detail = {"band": self.band.text(), "threshold": int(self.index.seg_threshold[seg])}
            out[owners[qi]].append(Candidate("near-band", self.list_names[li], column.entry(row), dist, detail))
        return out

    def _original(self, result: HashResult) -> npt.NDArray[np.uint8] | None:
        for values in result.perceptual:
            if values.hash_type != "pdq" or values.times is not None:
                continue
            for r, name in enumerate(values.transforms):
                if name != "original":
                    continue
                if self.floor is not None and values.quality is not None and int(values.quality[r]) < self.floor:
                    return None
                return np.asarray(values.values[r], dtype=np.uint8)
        return None
