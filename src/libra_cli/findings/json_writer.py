"""JSON findings: one document whose ``findings`` array streams records as they are found.

Findings, errors and skips share the one array (each record has a ``status``), so nothing is held in
memory until the end, however many files could not be read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from .base import FindingsWriter, register
from .schema import SCHEMA, ScanHeader


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class JsonWriter(FindingsWriter):
    format = "json"

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._count = 0

    def begin(self, header: ScanHeader) -> None:
        w = self.stream.write
        w("{\n")
        w(f'  "schema": {SCHEMA},\n')
        w(f'  "libra_version": {_dump(header.libra_version)},\n')
        w(f'  "started": {_dump(header.started)},\n')
        w(f'  "targets": {_dump(list(header.targets))},\n')
        w(f'  "lists": {_dump([dict(x) for x in header.lists])},\n')
        w(f'  "hash_set": {_dump(list(header.hash_set))},\n')
        w('  "findings": [')

    def record(self, record: Mapping[str, Any]) -> None:
        sep = "," if self._count else ""
        self.stream.write(f"{sep}\n    {_dump(record)}")
        self._count += 1

    def end(self, summary: Mapping[str, object], complete: bool, finished: str) -> None:
        w = self.stream.write
        w("\n  ],\n" if self._count else "],\n")
        w(f'  "summary": {_dump(dict(summary))},\n')
        w(f'  "complete": {_dump(complete)},\n')
        w(f'  "finished": {_dump(finished)}\n')
        w("}\n")


register("json", JsonWriter)
