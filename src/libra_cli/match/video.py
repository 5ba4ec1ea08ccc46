"""Decide whether a scanned video contains a listed video, from per-frame PDQ hashes and their times.

The baseline is vPDQ's rule as python-threatexchange applies it (``vpdq_rule``): frames of quality >= 50,
duplicates dropped, a frame matches when some frame of the other video is within PDQ distance 31, and the
videos match when >= 80% of the query's frames match. It treats a video as a bag of frames, so it fails
where a copy's frames are individually degraded or resampled: a watermark box in a corner pushes most
frames past 31 (median share 0.33 on held-out clips), and a copy re-timed to 15 fps has twice as many
frames, half of them between the listed samples (median share 0.69).

``compare`` (libra's rule) uses what a video is beyond a bag of frames, in three steps:

1. **Frame distance over regions.** Each frame carries its full PDQ plus four region-masked variants
   (``media.video.REGIONS``: a 40% band along one edge replaced by its inner border line). A frame pair's
   distance is the smallest over the full hash and the variants both sides have. A watermark, logo or
   caption confined to one band (any corner lies in two) leaves that band's variant unchanged, on both
   sides, so the pair stays close however the overlay looks. Lists without variants (Meta's vPDQ files)
   fall back to the full hash.
2. **A time alignment anchored by strict matches.** Frame pairs within PDQ's own threshold (31) vote for a
   line ``t_listed = speed * t_query + offset`` (speeds 1/4 to 4, Hough-style over a fine grid). One line
   explains a re-encode, a trim (offset), a frame-rate change (nothing moves) and a re-timing (speed).
3. **Coverage along the alignment.** Frames are paired only with frames at the aligned time (within a
   tolerance from both sides' sampling intervals), and there a looser distance (45) counts: a pair that
   is both time-consistent with an anchored alignment and close is evidence, not a coincidence, because
   each frame is compared with one or two frames instead of a whole list. Within the overlap of the two
   timelines, the videos match when the aligned matches cover ``min_share`` (80%) of the query's frames
   *or* of the listed video's frames, with at least ``min_frames`` matched frames on both sides: a
   trimmed copy covers all of itself, a video containing the listed clip covers all of the clip, a
   15 fps copy covers all of the listed frames.

Why it does not accuse unrelated videos: an alignment needs at least one strict (<= 31) frame match, and
unrelated natural frames sit far above 31 (the nearest unrelated pairs among the sample photos' clips
are at ~94); the looser 45 applies only at aligned times, and 80% of one side's frames must pass it.
A shared still or title card gives a seed but covers only its own few frames.

>>> result = compare(query_frames, listed_frames)  # doctest: +SKIP
>>> result.matched, result.query_share, result.listed_share, result.first_time  # doctest: +SKIP
(True, 0.92, 1.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..models import HashValues

U8 = npt.NDArray[np.uint8]
#: The region variants' names, in ``media.video.REGIONS`` order (kept here so matching never imports a decoder).
REGIONS: tuple[str, ...] = ("mask-top", "mask-bottom", "mask-left", "mask-right")
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

__all__ = ["FrameSet", "Frames", "VideoMatch", "VideoRule", "compare", "match_videos", "vpdq_rule"]


class Frames(Protocol):
    """Per-frame hashes of one video: what ``media.video.FrameHashes`` and ``FrameSet`` both provide."""

    @property
    def pdq(self) -> U8: ...  #: (k, 32) raw PDQ bytes
    @property
    def quality(self) -> U8: ...  #: (k,)
    @property
    def times(self) -> F64: ...  #: (k,) seconds, ascending
    @property
    def regions(self) -> U8: ...  #: (k, R, 32), or (0, R, 32) when the side has no region variants
    @property
    def region_quality(self) -> U8: ...  #: (k, R), or (0, R)


@dataclass(frozen=True)
class FrameSet:
    """Frames from anywhere (a list entry, an imported vPDQ file); region variants are optional."""

    pdq: U8
    quality: U8
    times: F64
    regions: U8 = field(default_factory=lambda: np.zeros((0, 4, 32), np.uint8))
    region_quality: U8 = field(default_factory=lambda: np.zeros((0, 4), np.uint8))

    @classmethod
    def from_hash_values(cls, values: HashValues, regions: tuple[str, ...] = REGIONS) -> FrameSet:
        """A video's frames from the worker's ``HashValues`` (``media.video.hash_values``' row layout:
        the ``original`` rows are the frames, rows named after a region are that region's variants)."""
        names = np.asarray(values.transforms)
        full = np.flatnonzero(names == "original")
        quality = values.quality if values.quality is not None else np.full(len(names), 100, np.uint8)
        times = values.times if values.times is not None else np.arange(len(names), dtype=np.float32)
        order = full[np.argsort(times[full], kind="stable")]
        variant_rows = [np.flatnonzero(names == region) for region in regions]
        if all(len(rows) == len(order) for rows in variant_rows) and len(order):
            # Region rows follow their frames' order; sort them the same way as the full rows.
            sort = np.argsort(times[full], kind="stable")
            region_values = np.stack([values.values[rows][sort] for rows in variant_rows], axis=1)
            region_quality = np.stack([quality[rows][sort] for rows in variant_rows], axis=1)
        else:
            region_values = np.zeros((0, len(regions), 32), np.uint8)
            region_quality = np.zeros((0, len(regions)), np.uint8)
        return cls(
            np.ascontiguousarray(values.values[order], dtype=np.uint8),
            np.asarray(quality[order], dtype=np.uint8),
            np.asarray(times[order], dtype=np.float64),
            region_values,
            region_quality,
        )

    @classmethod
    def from_hex(cls, hashes: Iterable[str], quality: Iterable[int], times: Iterable[float]) -> FrameSet:
        """Frames from hex PDQ strings (e.g. a vPDQ hash file's lines)."""
        rows = [bytes.fromhex(h) for h in hashes]
        pdq = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), 32).copy()
        return cls(pdq, np.fromiter(quality, np.uint8, len(rows)), np.fromiter(times, np.float64, len(rows)))


@dataclass(frozen=True)
class VideoRule:
    """The thresholds of ``compare``. Defaults are the documented rule (docs/video.md)."""

    distance: int = 31  #: strict frame match: PDQ's published threshold; anchors an alignment
    aligned_distance: int = 45  #: frame match at the aligned time
    min_quality: int = 50  #: frames below PDQ's quality floor take no part, on either side
    #: A region variant's own floor: masking 40% of a frame removes that much of its structure (and PDQ's
    #: quality measures structure), so a variant of a frame that passed ``min_quality`` needs less.
    region_quality: int = 20
    min_share: float = 0.8  #: of the query's or of the listed video's frames
    min_frames: int = 3  #: matched frames on each side (fewer only if a side has fewer)
    max_speed: float = 4.0  #: re-timings from 1/max_speed to max_speed are looked for
    speed_step: float = 0.01  #: relative step of the speed grid
    min_tolerance: float = 0.3  #: seconds of slack around an aligned time, at least


@dataclass(frozen=True)
class VideoMatch:
    """How a scanned video compares with one listed video.

    ``query_share`` and ``listed_share`` are the shares of each side's (quality-filtered) frames matched
    along the alignment; times are seconds from each video's first frame; ``speed`` and ``offset`` map
    query time to listed time (``t_listed = speed * t_query + offset``).
    """

    entry: str
    matched: bool
    query_share: float
    listed_share: float
    first_time: float
    last_time: float
    listed_first_time: float
    listed_last_time: float
    speed: float
    offset: float
    coverage: float  #: the larger share of matched frames within the overlap, over both sides (the decision)
    query_frames: int  #: query frames matched along the alignment
    listed_frames: int  #: listed frames matched along the alignment
    anchors: int  #: strict frame matches on the alignment
    best_distance: int  #: smallest frame distance on the alignment


def _words(hashes: U8) -> npt.NDArray[np.uint64]:
    return np.ascontiguousarray(hashes, dtype=np.uint8).reshape(len(hashes), 32).view(">u8").astype(np.uint64)


_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int16)


def _popcount(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.int16]:
    """Set bits per row of the last axis (numpy < 2 has no ``bitwise_count``)."""
    if hasattr(np, "bitwise_count"):
        counts: npt.NDArray[np.int16] = np.bitwise_count(x).sum(axis=-1, dtype=np.int16)
        return counts
    fallback: npt.NDArray[np.int16] = _POP8[x.view(np.uint8)].sum(axis=-1, dtype=np.int16)  # pragma: no cover
    return fallback  # pragma: no cover


def _pairwise(a: U8, b: U8, block: int = 512) -> npt.NDArray[np.int16]:
    """Hamming distances between every row of ``a`` and every row of ``b`` (both (n, 32) uint8)."""
    wa, wb = _words(a), _words(b)
    out = np.empty((len(a), len(b)), dtype=np.int16)
    for start in range(0, len(a), block):
        out[start : start + block] = _popcount(wa[start : start + block, None, :] ^ wb[None, :, :])
    return out


def _distances(query: Frames, listed: Frames, q_ok: npt.NDArray[np.bool_], l_ok: npt.NDArray[np.bool_],
               region_quality: int) -> npt.NDArray[np.int16]:  # fmt: skip
    """Frame-pair distance: the smallest over the full hash and the region variants both sides have."""
    qi, li = np.flatnonzero(q_ok), np.flatnonzero(l_ok)
    best = _pairwise(query.pdq[qi], listed.pdq[li])
    if len(query.regions) and len(listed.regions):
        for region in range(min(query.regions.shape[1], listed.regions.shape[1])):
            d = _pairwise(query.regions[qi, region], listed.regions[li, region])
            usable = (query.region_quality[qi, region] >= region_quality)[:, None] & (
                listed.region_quality[li, region] >= region_quality
            )[None, :]
            np.minimum(best, np.where(usable, d, np.int16(256)), out=best)
    return best


def _spans(times: F64) -> tuple[F64, float]:
    """Each frame's end (the next frame's time; the last is given half the median step: how long it is
    shown is unknown) and the median step."""
    steps = np.diff(times)
    step = float(np.median(steps)) if len(steps) else 1.0
    step = step if step > 0 else 1.0
    return np.append(times[1:], times[-1] + 0.5 * step), step


def _alignment(
    tq: F64, tl: F64, seeds_q: I64, seeds_l: I64, tolerance: float, rule: VideoRule
) -> tuple[float, float, int]:
    """The line ``t_l = speed * t_q + offset`` that the most anchor pairs agree with (within ``tolerance``),
    preferring speeds near 1 on ties. Returns (speed, offset, anchors on it)."""
    steps = math.ceil(math.log(rule.max_speed) / math.log1p(rule.speed_step))
    speeds = np.exp(np.arange(-steps, steps + 1) * math.log1p(rule.speed_step))
    speeds[steps] = 1.0
    order = np.argsort(np.abs(np.log(speeds)), kind="stable")  # try 1.0 first, then outwards
    x, y = tq[seeds_q], tl[seeds_l]
    best = (1.0, float(np.median(y - x)), 0)
    for speed in speeds[order]:
        offsets = np.sort(y - speed * x)
        ends = np.searchsorted(offsets, offsets + 2 * tolerance, side="right")
        counts = ends - np.arange(len(offsets))
        at = int(np.argmax(counts))
        if counts[at] > best[2]:
            best = (float(speed), float(np.median(offsets[at : ends[at]])), int(counts[at]))
    return best


def compare(query: Frames, listed: Frames, rule: VideoRule | None = None, *, entry: str = "") -> VideoMatch | None:
    """Compare a scanned video's frames with one listed video's frames.

    Returns ``None`` when no frame pair is within ``rule.distance`` (nothing to align on), else a
    ``VideoMatch`` whose ``matched`` says whether the rule holds.
    """
    rule = rule or VideoRule()
    q_ok = np.asarray(query.quality) >= rule.min_quality
    l_ok = np.asarray(listed.quality) >= rule.min_quality
    if not q_ok.any() or not l_ok.any():
        return None
    dist = _distances(query, listed, q_ok, l_ok, rule.region_quality)
    seeds_q, seeds_l = np.nonzero(dist <= rule.distance)
    if len(seeds_q) == 0:
        return None
    tq = np.asarray(query.times, dtype=np.float64)[q_ok]
    tl = np.asarray(listed.times, dtype=np.float64)[l_ok]
    q_end, q_step = _spans(tq)
    l_end, l_step = _spans(tl)
    # A sample stands for the content up to the next one: matched frames can be up to a step apart.
    tolerance = max(rule.min_tolerance, 0.5 * l_step, 0.5 * q_step)
    speed, offset, _ = _alignment(tq, tl, seeds_q.astype(np.int64), seeds_l.astype(np.int64), tolerance, rule)
    # Pair each query frame's (mapped) span with the listed spans it overlaps, with the tolerance.
    start = speed * tq + offset
    end = speed * q_end + offset
    aligned = (start[:, None] < l_end[None, :] + tolerance) & (end[:, None] > tl[None, :] - tolerance)
    close = aligned & (dist <= rule.aligned_distance)
    q_hit = close.any(axis=1)
    l_hit = close.any(axis=0)
    anchors = int((aligned & (dist <= rule.distance)).sum())
    # The overlap: where, on the listed timeline, both videos have frames under this alignment. Within it
    # the alignment predicts a match for every frame; outside it nothing is predicted.
    low, high = max(float(tl[0]), float(start[0])), min(float(l_end[-1]), float(end[-1]))
    q_in = (end > low) & (start < high)
    l_in = (l_end > low) & (tl < high)
    n_q, n_l = int(q_hit.sum()), int(l_hit.sum())
    win_q, win_l = int((q_hit & q_in).sum()), int((l_hit & l_in).sum())
    coverage = max(win_q / max(1, int(q_in.sum())), win_l / max(1, int(l_in.sum())))
    enough = win_q >= min(rule.min_frames, int(q_in.sum())) and win_l >= min(rule.min_frames, int(l_in.sum()))
    matched = anchors > 0 and enough and win_q > 0 and coverage >= rule.min_share
    query_share = n_q / len(tq)
    listed_share = n_l / len(tl)
    hit_q, hit_l = tq[q_hit], tl[l_hit]
    return VideoMatch(
        entry=entry,
        matched=bool(matched),
        query_share=round(query_share, 4),
        listed_share=round(listed_share, 4),
        first_time=float(hit_q.min()) if n_q else math.nan,
        last_time=float(hit_q.max()) if n_q else math.nan,
        listed_first_time=float(hit_l.min()) if n_l else math.nan,
        listed_last_time=float(hit_l.max()) if n_l else math.nan,
        speed=round(speed, 4),
        offset=round(offset, 3),
        coverage=round(coverage, 4),
        query_frames=n_q,
        listed_frames=n_l,
        anchors=anchors,
        best_distance=int(dist[aligned].min()) if aligned.any() else int(dist.min()),
    )


def match_videos(query: Frames, entries: Mapping[str, Frames], rule: VideoRule | None = None) -> list[VideoMatch]:
    """The listed videos ``query`` matches (by entry id), best coverage first.

    Brute force over ``entries``: the scan narrows them first to entries with at least one frame within
    ``rule.distance`` of a query frame (the frame index does that), then calls this or ``compare``.
    """
    found = []
    for entry, frames in entries.items():
        result = compare(query, frames, rule, entry=entry)
        if result is not None and result.matched:
            found.append(result)
    found.sort(key=lambda m: (-max(m.query_share, m.listed_share), m.entry))
    return found


def vpdq_rule(
    query: Frames, listed: Frames, *, distance: int = 31, min_quality: int = 50, query_share: float = 0.8
) -> tuple[float, float, bool]:
    """The baseline: python-threatexchange's vPDQ comparison (``match_VPDQ_hash_brute``).

    Each side's frames of quality >= ``min_quality``, exact-duplicate hashes dropped; the share of each
    side's frames within ``distance`` of any frame of the other; a match when the query's share is at
    least ``query_share`` (python-threatexchange asks nothing of the listed side). Returns
    (query share, listed share, matched).
    """
    q = np.unique(query.pdq[np.asarray(query.quality) >= min_quality], axis=0)
    li = np.unique(listed.pdq[np.asarray(listed.quality) >= min_quality], axis=0)
    if len(q) == 0 or len(li) == 0:
        return 0.0, 0.0, False
    dist = _pairwise(q, li)
    q_share = float((dist.min(axis=1) <= distance).mean())
    l_share = float((dist.min(axis=0) <= distance).mean())
    return q_share, l_share, q_share >= query_share
