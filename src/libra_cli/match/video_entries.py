"""Listed videos as timelines: a scanned video matches a listed video by the video rule, never by one frame.

A list built with ``libra hash VIDEO --format csv`` (or imported from Meta's vPDQ files) holds each
video as ``vpdq`` rows under one entry id, each row a sampled frame (or one of its region variants) with
its time and quality. The frame index finds candidate videos (some frame within the threshold); this
module gathers each candidate's rows and runs ``video.compare`` on both timelines. One matching frame
is not enough: an unrelated video sharing a title card or a still with a listed video would otherwise be
reported. A still image that equals a listed frame is still matched frame by frame (matcher.py): a
frame taken out of a listed video is that video's material.

A video entry's rows are contiguous in its column (``HashColumn.from_entries`` keeps them so), so a
candidate's rows are found by walking out from the row that was hit, with no id index to build.
"""

from __future__ import annotations

import math

import numpy as np

from ..hashlist.table import NO_QUALITY, HashColumn
from ..models import Entry, HashValues, Match, VideoEvidence
from .candidates import Candidate
from .video import FrameSet, VideoMatch, VideoRule, compare

__all__ = ["PARTIAL_SHARE", "entry_rows", "is_frame", "listed_frames", "partial_video", "video_match", "video_outcome"]

#: A video the rule turns down is a ``partial-video`` candidate when this share of either side's frames
#: aligns (and at least one strict frame match anchors the alignment): docs/suspected.md.
PARTIAL_SHARE = 0.2


def is_frame(column: HashColumn, row: int) -> bool:
    """Whether ``row`` is a frame of a listed video (it has a time and belongs to an entry id)."""
    if column.times is None:
        return False
    return not math.isnan(float(column.times[row])) and column.ids[row] is not None


def entry_rows(column: HashColumn, row: int) -> tuple[int, int]:
    """The half-open row range of the video entry that ``row`` belongs to."""
    ident = column.ids[row]
    low, high = row, row + 1
    while low > 0 and column.ids[low - 1] == ident and is_frame(column, low - 1):
        low -= 1
    while high < len(column) and column.ids[high] == ident and is_frame(column, high):
        high += 1
    return low, high


def listed_frames(column: HashColumn, low: int, high: int) -> FrameSet:
    """The frames (and region variants, if listed) of the video entry in rows ``low:high``."""
    assert column.times is not None
    names = tuple(column.variant(r) or "original" for r in range(low, high))
    if column.quality is None:
        quality = np.full(high - low, 100, np.uint8)
    else:
        quality = np.where(column.quality[low:high] == NO_QUALITY, 100, column.quality[low:high]).astype(np.uint8)
    values = HashValues(
        column.hash_type,
        np.ascontiguousarray(column.values[low:high]),
        names,
        quality,
        np.asarray(column.times[low:high], dtype=np.float32),
    )
    return FrameSet.from_hash_values(values)


def video_match(
    query: FrameSet, listed: FrameSet, entry: Entry, list_name: str, rule: VideoRule | None = None
) -> Match | None:
    """The match of a scanned video with one listed video (``entry``: its first row), if the rule holds."""
    return video_outcome(query, listed, entry, list_name, rule)[0]


def video_outcome(
    query: FrameSet, listed: FrameSet, entry: Entry, list_name: str, rule: VideoRule | None = None
) -> tuple[Match | None, VideoMatch | None]:
    """``video_match`` and the comparison behind it (``None`` when no frame pair came within the threshold)."""
    result = compare(query, listed, rule, entry=entry.id or "")
    if result is None or not result.matched:
        return None, result
    return _as_match(result, entry, list_name), result


def partial_video(result: VideoMatch, entry: Entry, list_name: str, share: float = PARTIAL_SHARE) -> Candidate | None:
    """A near-miss of the video rule as a ``partial-video`` candidate: anchored, and ``share`` of one side's
    frames aligned. Never a match: a shared title card or a few shared shots look like this too."""
    if result.matched or result.anchors < 1 or max(result.query_share, result.listed_share) < share:
        return None
    detail = {
        "query_share": result.query_share,
        "listed_share": result.listed_share,
        "first_time": _seconds(result.first_time),
        "last_time": _seconds(result.last_time),
        "listed_first_time": _seconds(result.listed_first_time),
        "listed_last_time": _seconds(result.listed_last_time),
        "matched_frames": result.query_frames,
    }
    return Candidate("partial-video", list_name, entry, result.best_distance, detail)


def _seconds(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def _as_match(result: VideoMatch, entry: Entry, list_name: str) -> Match:
    return Match(
        method="perceptual",
        hash_type=entry.hash_type,
        distance=result.best_distance,
        list=list_name,
        entry=entry,
        frame_time=round(result.first_time, 3),
        query_variant="original",
        list_variant=entry.variant,
        video=VideoEvidence(
            query_share=result.query_share,
            listed_share=result.listed_share,
            first_time=round(result.first_time, 3),
            last_time=round(result.last_time, 3),
            listed_first_time=round(result.listed_first_time, 3),
            listed_last_time=round(result.listed_last_time, 3),
            speed=result.speed,
            matched_frames=result.query_frames,
        ),
    )
