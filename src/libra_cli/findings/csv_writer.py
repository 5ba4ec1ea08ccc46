"""CSV findings: one row per (location, match), and one row per error or skip, for spreadsheets and SIEMs.

Locations are written in their printable form: a name with a newline or a control character cannot
split a row or smuggle a formula-looking cell past a reader that honours quoting.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import Any, TextIO

from .base import FindingsWriter, register
from .schema import ScanHeader

DIGEST_COLUMNS = ("md5", "sha1", "sha256", "blake3")
COLUMNS = (
    "status", "location", "location_bytes", "size", "mtime", "media_type", *DIGEST_COLUMNS,
    "method", "hash_type", "distance", "list", "entry_id", "entry_label", "entry_category",
    "transform", "frame_time", "reason", "query_variant", "list_variant", "suspected_score", "suspected_reasons",
)  # fmt: skip


class CsvWriter(FindingsWriter):
    format = "csv"

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._csv = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")

    def begin(self, header: ScanHeader) -> None:
        self._csv.writeheader()

    def record(self, record: Mapping[str, Any]) -> None:
        base = {k: ("" if record.get(k) is None else record[k]) for k in ("status", "location", "location_bytes")}
        base.update({k: record.get(k, "") or "" for k in ("size", "mtime", "media_type")})
        base.update({k: v for k, v in (record.get("digests") or {}).items() if k in DIGEST_COLUMNS})
        base["reason"] = record.get("reason") or record.get("warning") or ""
        suspected = record.get("suspected")
        if suspected:  # the reasons in one cell, "; " between them
            base["suspected_score"] = suspected.get("score", "")
            base["suspected_reasons"] = "; ".join(str(r) for r in suspected.get("reasons", ()))
        matches = record.get("matches") or []
        for match in matches:
            entry = match["entry"]
            self._csv.writerow(
                {
                    **base,
                    "method": match["method"],
                    "hash_type": match["hash_type"],
                    "distance": match["distance"],
                    "list": match["list"],
                    "entry_id": entry["id"] or "",
                    "entry_label": entry["label"] or "",
                    "entry_category": entry["category"] or "",
                    "transform": match["transform"],
                    "frame_time": "" if match["frame_time"] is None else match["frame_time"],
                    "query_variant": match.get("query_variant") or "",
                    "list_variant": match.get("list_variant") or "",
                }
            )
        if not matches:
            self._csv.writerow(base)

    def end(self, summary: Mapping[str, object], complete: bool, finished: str) -> None:
        self.stream.flush()


register("csv", CsvWriter)
