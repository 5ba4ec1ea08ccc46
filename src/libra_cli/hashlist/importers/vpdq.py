"""Meta's vPDQ hash files: one video per file, one sampled frame per line, so lists made with Meta's tools load.

``vpdq-hash-video`` (ThreatExchange ``vpdq/``) and the ``vpdq`` Python package write, per frame,
``<frame number>,<quality>,<PDQ hex>,<timestamp in seconds>``::

    0,100,e271017837246aaccddea259648fb7d62f435c89d9e99b2497763e216c8d055c,0.000
    30,100,c0f11178372c6aaccddea259648fbfd62f434c89c9e99b249772be216c8d055c,1.000

Every line becomes one ``vpdq`` row, all with the same entry id: a video entry is the group of its
frames. The file carries no id, so the id is derived from its content (``vpdq-`` and the first 16 hex
digits of the SHA-256 of its normalised lines): the same hashes always get the same id, in any list.
The quality and time of each frame travel on the row and into the list, where the video rule
(match/video.py) uses them.

>>> row = next(Vpdq().rows("0,100," + "ab" * 32 + ",0.000"))
>>> row.hash_type, row.quality, row.time, row.id
('vpdq', '100', '0.000', 'vpdq-48dd767e6e1d7425')
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from .base import Bad, Importer, Row, numbered_lines

_LINE = re.compile(r"^\s*(\d+)\s*,\s*(\d+)\s*,\s*([0-9A-Fa-f]{64})\s*,\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?\d+)?)\s*$")
_FIELDS = "<frame number>,<quality>,<PDQ hex>,<timestamp>"


@dataclass(frozen=True)
class FrameRow(Row):
    """A ``Row`` for one frame of a video entry (quality and time are ``Row`` fields), with its frame number."""

    frame: str | None = None


def entry_id(lines: list[tuple[str, str, str]]) -> str:
    """The content-derived id of a vPDQ file: its (quality, hash, time) lines, normalised."""
    digest = hashlib.sha256()
    for quality, value, time in lines:
        digest.update(f"{int(quality)},{value.lower()},{float(time):.3f}\n".encode())
    return "vpdq-" + digest.hexdigest()[:16]


class Vpdq(Importer):
    name: ClassVar[str] = "vpdq"
    description: ClassVar[str] = "Meta vPDQ hash file (frame,quality,pdq hex,timestamp per line; one video)"

    @classmethod
    def detect(cls, text: str, first_line: str) -> bool:
        return _LINE.match(first_line) is not None

    def rows(self, text: str) -> Iterator[Row | Bad]:
        parsed: list[tuple[int, re.Match[str]]] = []
        for number, line in numbered_lines(text):
            match = _LINE.match(line)
            if match is None:
                yield Bad(f"line {number}", f"{line[:80]!r} is not '{_FIELDS}'")
                continue
            parsed.append((number, match))
        good: list[tuple[int, re.Match[str]]] = []
        for number, match in parsed:
            quality, time = int(match.group(2)), float(match.group(4))
            if quality > 100:
                yield Bad(f"line {number}", f"quality {quality} is not between 0 and 100")
            elif not math.isfinite(time):
                yield Bad(f"line {number}", f"timestamp {match.group(4)!r} is not a number of seconds")
            else:
                good.append((number, match))
        ident = entry_id([(m.group(2), m.group(3), m.group(4)) for _, m in good])
        for number, match in good:
            yield FrameRow(
                where=f"line {number}",
                hash_type="vpdq",
                value=match.group(3),
                id=ident,
                quality=match.group(2),
                time=match.group(4),
                frame=match.group(1),
            )
