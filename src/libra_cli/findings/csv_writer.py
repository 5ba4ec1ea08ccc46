"""CSV findings: one row per (location, match), and one row per error, for spreadsheets and SIEMs."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import TextIO

from ..models import DIGEST_SIZES, Finding, ScanError
from ..textsafe import unicode_safe
from .base import FindingsWriter, ScanHeader, register

COLUMNS = (
    "status", "location", "size", "mtime", "media_type", *DIGEST_SIZES,
    "method", "hash_type", "distance", "list", "entry_id", "entry_label", "entry_category",
    "frame_time", "variant", "reason",
)  # fmt: skip


class CsvWriter(FindingsWriter):
    format = "csv"

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._csv = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")

    def begin(self, header: ScanHeader) -> None:
        self._csv.writeheader()

    def finding(self, finding: Finding) -> None:
        base: dict[str, object] = {
            "status": "suspected" if finding.suspected and not finding.matches else "match",
            "location": unicode_safe(finding.location),
            "size": finding.size,
            "mtime": finding.mtime,
            "media_type": finding.media_type or "",
            **{k: finding.digests.get(k, "") for k in DIGEST_SIZES},
        }
        for match in finding.matches:
            self._csv.writerow(
                {
                    **base,
                    "method": match.method,
                    "hash_type": match.hash_type,
                    "distance": match.distance,
                    "list": match.list,
                    "entry_id": match.entry.id or "",
                    "entry_label": match.entry.label or "",
                    "entry_category": match.entry.category or "",
                    "frame_time": "" if match.frame_time is None else match.frame_time,
                    "variant": match.variant,
                }
            )
        if not finding.matches:
            self._csv.writerow(base)

    def error(self, error: ScanError) -> None:
        self._csv.writerow(
            {
                "status": "error" if error.fatal else "warning",
                "location": unicode_safe(error.location),
                "reason": unicode_safe(error.reason),
            }
        )

    def end(self, summary: Mapping[str, int], finished: str) -> None:
        self.stream.flush()


register("csv", CsvWriter)
