"""``md5sum``/``sha1sum``/``sha256sum`` output: GNU (``HEX  name``) or BSD ``--tag`` (``MD5 (name) = HEX``).

The file name identifies the item, so it becomes the entry's ``id`` (what findings show as the entry).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from ..validate import digest_type_for_length
from .base import Bad, Importer, Row, numbered_lines

_GNU = re.compile(r"^\\?([0-9A-Fa-f]{32,64}) [ *](.*)$")
_BSD = re.compile(r"^\\?(MD5|SHA1|SHA256|BLAKE3) \((.*)\) ?= ?([0-9A-Fa-f]+)$", re.IGNORECASE)


class Sums(Importer):
    name: ClassVar[str] = "sums"
    description: ClassVar[str] = "md5sum/sha1sum/sha256sum output (GNU or --tag style)"

    @classmethod
    def detect(cls, text: str, first_line: str) -> bool:
        return bool(_GNU.match(first_line) or _BSD.match(first_line))

    def rows(self, text: str) -> Iterator[Row | Bad]:
        for number, line in numbered_lines(text):
            where = f"line {number}"
            if match := _BSD.match(line):
                yield Row(where, match.group(1), match.group(3), id=match.group(2) or None)
            elif match := _GNU.match(line):
                value = match.group(1)
                hash_type = digest_type_for_length(value)
                if hash_type is None:
                    yield Bad(where, f"{value!r} has {len(value)} hex digits, not an MD5, SHA-1 or SHA-256 digest")
                    continue
                yield Row(where, hash_type, value, id=match.group(2) or None)
            else:
                yield Bad(where, f"{line[:80]!r} is not a checksum line (HEX  name)")
