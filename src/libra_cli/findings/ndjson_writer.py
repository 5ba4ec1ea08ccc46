"""NDJSON findings: one JSON object per line, flushed as found, for ``| jq`` and log shippers.

Every line has a ``type``: ``scan`` (first), ``finding``, ``error``, ``summary`` (last).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..models import Finding, ScanError
from .base import FindingsWriter, ScanHeader, error_to_dict, finding_to_dict, register


class NdjsonWriter(FindingsWriter):
    format = "ndjson"

    def _line(self, kind: str, body: Mapping[str, Any]) -> None:
        self.stream.write(json.dumps({"type": kind, **body}, ensure_ascii=False) + "\n")
        self.stream.flush()

    def begin(self, header: ScanHeader) -> None:
        self._line(
            "scan",
            {
                "libra_version": header.libra_version,
                "started": header.started,
                "targets": list(header.targets),
                "lists": [dict(x) for x in header.lists],
            },
        )

    def finding(self, finding: Finding) -> None:
        self._line("finding", finding_to_dict(finding))

    def error(self, error: ScanError) -> None:
        self._line("error", error_to_dict(error))

    def end(self, summary: Mapping[str, int], finished: str) -> None:
        self._line("summary", {"summary": dict(summary), "finished": finished})


register("ndjson", NdjsonWriter)
