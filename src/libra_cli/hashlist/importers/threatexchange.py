"""python-threatexchange text: ``<signal type> <hash> [label]`` per line, e.g. ``pdq 1f3a…``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from ..validate import InvalidValue, hash_type_name
from .base import Bad, Importer, Row, numbered_lines

_LINE = re.compile(r"^([A-Za-z][\w-]*)\s+(\S+)(?:\s+(.*))?$")


class ThreatExchange(Importer):
    name: ClassVar[str] = "threatexchange"
    description: ClassVar[str] = "python-threatexchange text (pdq <hex> per line)"

    @classmethod
    def detect(cls, text: str, first_line: str) -> bool:
        match = _LINE.match(first_line)
        if not match:
            return False
        try:
            hash_type_name(match.group(1))
        except InvalidValue:
            return False
        return all(c in "0123456789abcdefABCDEF" for c in match.group(2))

    def rows(self, text: str) -> Iterator[Row | Bad]:
        for number, line in numbered_lines(text):
            match = _LINE.match(line)
            if not match:
                yield Bad(f"line {number}", f"{line[:80]!r} is not '<type> <hash>'")
                continue
            yield Row(f"line {number}", match.group(1), match.group(2), label=match.group(3) or None)
