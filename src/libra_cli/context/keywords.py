"""Keyword hits in file and folder names: case- and separator-insensitive, whole words only.

A name is cut into words at ``_ - . space`` (any character that is not a letter or digit), at camelCase
boundaries (``HolidayBeach`` -> ``holiday beach``, ``HTMLPage`` -> ``html page``) and between letters and
digits (``beach2024`` -> ``beach 2024``), then case-folded. A keyword is cut the same way and hits a name
that holds its words in a row: ``holiday beach`` hits ``Holiday_Beach-01.jpg`` and ``holidayBeach``,
never ``holidaybeaches`` (whole words only, so a short keyword does not fire inside longer words).

A hit is a suspected reason ``keyword`` (which list, never the keyword: a hotline's list is licensed and
encrypted, and the location already shows the name), never a match (docs/suspected.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["KeywordList", "words"]

_CAMEL = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])|(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\W_]+")


@lru_cache(maxsize=65536)
def words(name: str) -> tuple[str, ...]:
    """``name`` as case-folded words (see the module docstring)."""
    return tuple(w.casefold() for w in _SEPARATORS.split(_CAMEL.sub(" ", name)) if w)


@dataclass(frozen=True)
class KeywordList:
    """One decrypted keyword list: its name (for reasons) and its keywords as word sequences."""

    name: str
    keywords: tuple[tuple[str, ...], ...]
    _first: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, keywords: Iterable[str]) -> KeywordList:
        cut = tuple(dict.fromkeys(w for w in (words(k) for k in keywords) if w))
        first: dict[str, list[tuple[str, ...]]] = {}
        for seq in cut:
            first.setdefault(seq[0], []).append(seq)
        return cls(name, cut, {k: tuple(v) for k, v in first.items()})

    def __len__(self) -> int:
        return len(self.keywords)

    def names(self, name: str) -> bool:
        """Whether one file or folder name holds a keyword."""
        cut = words(name)
        for i, word in enumerate(cut):
            for seq in self._first.get(word, ()):
                if cut[i : i + len(seq)] == seq:
                    return True
        return False

    def hits(self, location: str) -> tuple[str, ...]:
        """Where ``location`` holds a keyword: ``"file"`` (its own name), ``"folder"`` (a folder's), both or none."""
        head, _, base = location.rpartition("/")
        found: list[str] = []
        if self.names(base):
            found.append("file")
        if any(self.names(part) for part in head.split("/") if part):
            found.append("folder")
        return tuple(found)
