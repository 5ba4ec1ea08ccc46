"""libra's own CSV: ``hash_type,hash,id,label,category,allow,variant,time,quality`` with a header
(``libra hash --format csv``).

Columns are found by the header's names, so older files without ``variant``, ``time`` or ``quality`` (and
readers that predate them) work as they did. ``time`` and ``quality`` are set on the frame rows of a video
(``vpdq``): one entry id per video, one row per sampled frame and region variant.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import ClassVar

from .base import Bad, Importer, Row, empty_none

#: The columns ``libra hash --format csv`` writes, in order (``source`` is also read when present).
COLUMNS = ("hash_type", "hash", "id", "label", "category", "allow", "variant", "time", "quality")
REQUIRED = ("hash_type", "hash")
OPTIONAL = ("id", "label", "category", "source", "allow", "variant", "time", "quality")


class LibraCsv(Importer):
    name: ClassVar[str] = "libra-csv"
    description: ClassVar[str] = "libra CSV (hash_type,hash,id,label,category,allow,variant,time,quality; header)"

    @classmethod
    def detect(cls, text: str, first_line: str) -> bool:
        columns = [c.strip().lower() for c in first_line.split(",")]
        return all(c in columns for c in REQUIRED)

    def rows(self, text: str) -> Iterator[Row | Bad]:
        reader = csv.reader(io.StringIO(text))
        header: list[str] | None = None
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as err:  # a field beyond csv's size limit, a stray NUL
                yield Bad(f"line {reader.line_num}", f"is not valid CSV ({err})")
                return
            number = reader.line_num
            if not record or not any(field.strip() for field in record):
                continue
            if header is None:
                if record[0].lstrip().startswith("#"):
                    continue
                header = [c.strip().lower() for c in record]
                continue
            if record[0].lstrip().startswith("#"):
                continue
            if len(record) > len(header):
                yield Bad(f"line {number}", f"has {len(record)} fields but the header names {len(header)}")
                continue
            fields = dict(zip(header, record, strict=False))
            yield Row(
                where=f"line {number}",
                hash_type=fields.get("hash_type", ""),
                value=fields.get("hash", ""),
                id=empty_none(fields.get("id")),
                label=empty_none(fields.get("label")),
                category=empty_none(fields.get("category")),
                source=empty_none(fields.get("source")),
                allow=empty_none(fields.get("allow")),
                variant=empty_none(fields.get("variant")),
                time=empty_none(fields.get("time")),
                quality=empty_none(fields.get("quality")),
            )
