"""JSON findings: one document, with findings streamed into its array as they are found.

Errors are kept until the end (they are few and small); findings never are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from ..models import Finding, ScanError
from .base import FindingsWriter, ScanHeader, error_to_dict, finding_to_dict, register


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class JsonWriter(FindingsWriter):
    format = "json"

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._count = 0
        self._errors: list[dict[str, Any]] = []

    def begin(self, header: ScanHeader) -> None:
        w = self.stream.write
        w("{\n")
        w(f'  "libra_version": {_dump(header.libra_version)},\n')
        w(f'  "started": {_dump(header.started)},\n')
        w(f'  "targets": {_dump(list(header.targets))},\n')
        w(f'  "lists": {_dump([dict(x) for x in header.lists])},\n')
        w('  "findings": [')

    def finding(self, finding: Finding) -> None:
        sep = "," if self._count else ""
        self.stream.write(f"{sep}\n    {_dump(finding_to_dict(finding))}")
        self._count += 1

    def error(self, error: ScanError) -> None:
        self._errors.append(error_to_dict(error))

    def end(self, summary: Mapping[str, int], finished: str) -> None:
        w = self.stream.write
        w("\n  ],\n" if self._count else "],\n")
        errors = ",\n".join(f"    {_dump(e)}" for e in self._errors)
        w(f'  "errors": [\n{errors}\n  ],\n' if errors else '  "errors": [],\n')
        w(f'  "summary": {_dump(dict(summary))},\n')
        w(f'  "finished": {_dump(finished)}\n')
        w("}\n")


register("json", JsonWriter)
