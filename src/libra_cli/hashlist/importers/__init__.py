"""Read the list formats hotlines and tools publish, each recognised by its content, never its file name.

>>> for entry in import_source("tests/data/sources/sample.hsb"):   # doctest: +SKIP
...     print(entry.hash_type, entry.id)

Adding a format is one module with an ``Importer`` subclass plus one line in ``IMPORTERS``.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from ...errors import HashListError
from ...fileio import read_regular
from ...models import Entry
from ..validate import InvalidValue, hash_type_name, normalise, shown
from .base import Bad, Importer, Row, numbered_lines
from .clamav import ClamAV
from .hashdeep import Hashdeep
from .libra_csv import LibraCsv
from .sums import Sums
from .threatexchange import ThreatExchange
from .vics import Vics
from .vpdq import Vpdq

#: Detection order matters: the most distinctive signatures are tried first.
IMPORTERS: tuple[type[Importer], ...] = (Vics, Hashdeep, Vpdq, LibraCsv, ThreatExchange, ClamAV, Sums)
BY_NAME: dict[str, type[Importer]] = {imp.name: imp for imp in IMPORTERS}

#: How many invalid-line sentences ``ImportReport`` keeps (the count is always exact).
MAX_MESSAGES = 20

_TRUE = {"1", "true", "yes", "y", "allow"}
_FALSE = {"0", "false", "no", "n", "block", ""}


@dataclass
class ImportReport:
    """What ``--skip-invalid`` skipped, and which format each source was read as."""

    invalid: int = 0
    messages: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)

    def skip(self, sentence: str) -> None:
        self.invalid += 1
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(sentence)


def decode_text(data: bytes, origin: str) -> str:
    """Source bytes as text (UTF-8, BOM tolerated); a binary file is refused in one sentence."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise HashListError(f"{origin}: is UTF-16 text; save it as UTF-8")
    if b"\x00" in data[:8192]:
        raise HashListError(f"{origin}: is a binary file, not a hash-list source")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise HashListError(f"{origin}: is not UTF-8 text (bad byte at offset {err.start})") from None


def detect(text: str, origin: str) -> type[Importer]:
    """The importer whose format ``text`` is in, by content."""
    first = next((line for _, line in numbered_lines(text)), "")
    if not first:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    for importer in IMPORTERS:
        if importer.detect(text, first):
            return importer
    if not text.strip():
        raise HashListError(f"{origin}: is empty")
    known = "; ".join(imp.description for imp in IMPORTERS)
    raise HashListError(f"{origin}: is not a hash-list source libra recognises ({known})")


def _allow(text: str | None) -> bool:
    flag = (text or "").strip().lower()
    if flag in _TRUE:
        return True
    if flag in _FALSE:
        return False
    raise InvalidValue(f"{shown(text or '')} is not an allow flag (0/1 or true/false)")


#: A variant name: what ``libra hash`` writes (``original``, ``real-mirror``, ``crop7.5-center``,
#: ``region:tl75``), short and plain, because findings repeat it.
_VARIANT = re.compile(r"[a-z0-9][a-z0-9.:+_-]{0,47}")


def _variant(text: str | None) -> str | None:
    if text is None:
        return None
    name = text.strip().lower()
    if not _VARIANT.fullmatch(name):
        raise InvalidValue(f"{shown(text)} is not a variant name (letters, digits and . : + _ -, at most 48)")
    return name


def _entry(row: Row) -> Entry:
    hash_type = hash_type_name(row.hash_type)
    return Entry(
        hash_type=hash_type,
        value=normalise(hash_type, row.value),
        id=row.id,
        label=row.label,
        category=row.category,
        source=row.source,
        allow=_allow(row.allow),
        variant=_variant(row.variant),
        time=_time(row.time),
        quality=_quality(row.quality),
    )


def _time(text: str | None) -> float | None:
    """A listed video frame's time: seconds, finite, >= 0 (kept to the millisecond)."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value > 1e7:
        raise InvalidValue(f"{shown(text)} is not a frame time in seconds")
    return round(value, 3)


def _quality(text: str | None) -> int | None:
    """A listed video frame's PDQ quality: an integer 0-100."""
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if not stripped.isdigit() or int(stripped) > 100:
        raise InvalidValue(f"{shown(text)} is not a quality between 0 and 100")
    return int(stripped)


def import_text(
    text: str, origin: str, *, skip_invalid: bool = False, report: ImportReport | None = None
) -> Iterator[Entry]:
    """Entries of a source already in memory (how a decrypted plain-payload list is read).

    A bad line stops the import with ``HashListError`` naming ``origin``, the line and the value,
    unless ``skip_invalid``: then it is counted in ``report`` and skipped.
    """
    importer = detect(text, origin)
    report = report if report is not None else ImportReport()
    report.formats[origin] = importer.name
    count = 0
    for item in importer().rows(text):
        try:
            if isinstance(item, Bad):
                raise InvalidValue(item.message)
            entry = _entry(item)
        except InvalidValue as err:
            sentence = f"{origin} {item.where}: {err}"
            if not skip_invalid:
                raise HashListError(sentence) from None
            report.skip(sentence)
            continue
        count += 1
        yield entry
    report.entries[origin] = report.entries.get(origin, 0) + count


def import_source(
    path: str, *, skip_invalid: bool = False, report: ImportReport | None = None
) -> Iterator[Entry]:
    """Entries of the source file at ``path`` (``-`` is stdin), format detected by content (see ``IMPORTERS``)."""
    if path == "-":
        data = sys.stdin.buffer.read()
        return import_text(decode_text(data, "stdin"), "stdin", skip_invalid=skip_invalid, report=report)
    origin = os.path.basename(path) or path
    data = read_regular(path, "source", "hash-list source", HashListError)
    return import_text(decode_text(data, origin), origin, skip_invalid=skip_invalid, report=report)


__all__ = [
    "BY_NAME",
    "IMPORTERS",
    "Bad",
    "ImportReport",
    "Importer",
    "Row",
    "decode_text",
    "detect",
    "import_source",
    "import_text",
]
