"""hashdeep / md5deep audit files: ``%%%% HASHDEEP-1.0``, a ``%%%%`` column line, then CSV rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from ...errors import HashListError
from ..validate import shown
from .base import Bad, Importer, Row

#: hashdeep column names libra can use; tiger and whirlpool are skipped.
_USABLE = {"md5": "md5", "sha1": "sha1", "sha256": "sha256"}
#: Header versions whose layout libra knows (hashdeep 4.x writes 1.0). A later version may change the
#: columns' meaning, so it is refused rather than guessed at.
KNOWN_VERSIONS = frozenset({"HASHDEEP-1.0"})


class Hashdeep(Importer):
    name: ClassVar[str] = "hashdeep"
    description: ClassVar[str] = "hashdeep audit file (%%%% HASHDEEP-1.0)"

    @classmethod
    def detect(cls, text: str, first_line: str) -> bool:
        return first_line.upper().startswith("%%%% HASHDEEP-")

    def rows(self, text: str) -> Iterator[Row | Bad]:
        columns: list[str] | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            where = f"line {number}"
            if not line or line.startswith("##"):
                continue
            if line.startswith("%%%%"):
                body = line[4:].strip()
                if body.upper().startswith("HASHDEEP"):
                    if body.upper() not in KNOWN_VERSIONS:
                        raise HashListError(
                            f"hashdeep {where}: header version {shown(body)} is not one libra reads"
                            f" ({', '.join(sorted(KNOWN_VERSIONS))})"
                        )
                else:
                    columns = [c.strip().lower() for c in body.split(",")]
                continue
            if columns is None:
                yield Bad(where, "comes before the %%%% column line (size,md5,...,filename)")
                return
            fields = line.split(",", len(columns) - 1)
            if len(fields) != len(columns):
                yield Bad(where, f"has {len(fields)} fields but the column line names {len(columns)}")
                continue
            record = dict(zip(columns, fields, strict=True))
            name = record.get("filename") or None  # the file name identifies the item: it is the entry's id
            for column, hash_type in _USABLE.items():
                if column in record:
                    yield Row(where, hash_type, record[column], id=name)
