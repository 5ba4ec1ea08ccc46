"""ClamAV hash signatures: ``.hdb`` (MD5) and ``.hsb`` (SHA-1/SHA-256), ``hash:size:name[:flevel]`` per line.

The signature name identifies the item, so it becomes the entry's ``id``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from ..validate import digest_type_for_length
from .base import Bad, Importer, Row, numbered_lines

_LINE = re.compile(r"^([0-9A-Fa-f]+):(\d+|\*):([^:]*)(?::\d+(?::\d+)?)?$")


class ClamAV(Importer):
    name: ClassVar[str] = "clamav"
    description: ClassVar[str] = "ClamAV .hdb/.hsb (hash:size:name)"

    @classmethod
    def detect(cls, text: str, first_line: str) -> bool:
        return bool(re.match(r"^[0-9A-Fa-f]{32,64}:(\d+|\*):", first_line))

    def rows(self, text: str) -> Iterator[Row | Bad]:
        for number, line in numbered_lines(text):
            where = f"line {number}"
            match = _LINE.match(line)
            if not match:
                yield Bad(where, f"{line[:80]!r} is not a ClamAV hash signature (hash:size:name)")
                continue
            value = match.group(1)
            hash_type = digest_type_for_length(value)
            if hash_type is None:
                yield Bad(where, f"{value!r} has {len(value)} hex digits, not an MD5, SHA-1 or SHA-256 digest")
                continue
            yield Row(where, hash_type, value, id=match.group(3) or None)
