"""NDJSON findings: one JSON object per line, flushed as found, for ``| jq`` and log shippers.

Every line has a ``type``: ``scan`` (first), ``finding``, ``error``, ``skipped``, ``summary`` (last).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .base import FindingsWriter, register
from .schema import SCHEMA, ScanHeader

#: The line type of each record status.
_TYPES = {"match": "finding", "suspected": "finding", "error": "error", "warning": "error", "skipped": "skipped"}


class NdjsonWriter(FindingsWriter):
    format = "ndjson"

    def _line(self, kind: str, body: Mapping[str, Any]) -> None:
        self.stream.write(json.dumps({"type": kind, **body}, ensure_ascii=False) + "\n")
        self.stream.flush()

    def begin(self, header: ScanHeader) -> None:
        self._line(
            "scan",
            {
                "schema": SCHEMA,
                "libra_version": header.libra_version,
                "started": header.started,
                "targets": list(header.targets),
                "lists": [dict(x) for x in header.lists],
                "hash_set": list(header.hash_set),
            },
        )

    def record(self, record: Mapping[str, Any]) -> None:
        self._line(_TYPES[str(record["status"])], record)

    def end(self, summary: Mapping[str, object], complete: bool, finished: str) -> None:
        self._line("summary", {"summary": dict(summary), "complete": complete, "finished": finished})


register("ndjson", NdjsonWriter)
