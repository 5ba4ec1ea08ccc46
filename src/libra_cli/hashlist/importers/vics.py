"""Project VIC VICS JSON: an OData object whose ``value`` array holds media with MD5, SHA1, PhotoDNA, Category.

VICS 1.x puts the hashes on each item; 2.x nests them in ``MediaFiles``. Both are read. PhotoDNA values
are kept (counted, reported as an unsupported hash type): libra cannot compute PhotoDNA.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from .base import Bad, Importer, Row

_HASH_KEYS = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "photodna": "photodna"}


def _scalar(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


class Vics(Importer):
    name: ClassVar[str] = "vics"
    description: ClassVar[str] = "Project VIC VICS JSON (OData value array)"

    @classmethod
    def detect(cls, text: str, first_line: str) -> bool:
        head = text.lstrip()[:4096]
        return head.startswith("{") and ('"value"' in head or "odata" in head.lower())

    def rows(self, text: str) -> Iterator[Row | Bad]:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as err:
            yield Bad(f"line {err.lineno}", f"is not valid JSON ({err.msg})")
            return
        except RecursionError:
            yield Bad("line 1", "is nested too deeply to be a VICS document")
            return
        items = document.get("value") if isinstance(document, dict) else None
        if not isinstance(items, list):
            yield Bad("item 0", "the document has no OData 'value' array")
            return
        for number, item in enumerate(items, 1):
            where = f"item {number}"
            if not isinstance(item, dict):
                yield Bad(where, "is not a JSON object")
                continue
            folded = {str(k).lower(): v for k, v in item.items()}
            media_id = _scalar(folded.get("mediaid"))
            category = _scalar(folded.get("category"))
            label = _scalar(folded.get("name"))
            holders: list[Mapping[str, Any]] = [folded]
            files = folded.get("mediafiles")
            if isinstance(files, list):
                holders += [{str(k).lower(): v for k, v in f.items()} for f in files if isinstance(f, dict)]
            found = False
            for holder in holders:
                for key, hash_type in _HASH_KEYS.items():
                    value = _scalar(holder.get(key))
                    if value is not None:
                        found = True
                        yield Row(where, hash_type, value, id=media_id, label=label, category=category)
            if not found:
                yield Bad(where, "carries no MD5, SHA1, SHA256 or PhotoDNA value")
