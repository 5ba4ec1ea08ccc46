"""The importer contract: detect a source format by content, yield raw rows; validation is shared.

An importer never validates values itself: it yields ``Row`` (raw strings plus where they came from)
or ``Bad`` (a structural problem), and ``importers.import_text`` turns them into ``Entry`` objects or
one error naming the file, the line and the value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Row:
    """One raw entry as the source states it. ``where`` is ``"line 7"`` or ``"item 3"``."""

    where: str
    hash_type: str
    value: str
    id: str | None = None
    label: str | None = None
    category: str | None = None
    source: str | None = None
    allow: str | None = None
    variant: str | None = None
    #: A listed video frame's PDQ quality (0-100) and time (seconds), as the source states them.
    quality: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class Bad:
    """A part of the source that is not an entry at all (wrong field count, broken JSON item)."""

    where: str
    message: str


class Importer(ABC):
    """One source format. Subclasses set ``name`` (unique) and ``description``, and implement both methods."""

    name: ClassVar[str]
    description: ClassVar[str]

    @classmethod
    @abstractmethod
    def detect(cls, text: str, first_line: str) -> bool:
        """Whether ``text`` is in this format; ``first_line`` is its first non-blank, non-``#`` line."""

    @abstractmethod
    def rows(self, text: str) -> Iterator[Row | Bad]:
        """Every entry of ``text``, in order."""


def numbered_lines(text: str, comment: str | None = "#") -> Iterator[tuple[int, str]]:
    """``(line number, stripped line)`` for the lines that are neither blank nor comments."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not (comment and stripped.startswith(comment)):
            yield number, stripped


def empty_none(text: str | None) -> str | None:
    """Sources write a missing field as an empty string; the model says ``None``."""
    if text is None:
        return None
    text = text.strip()
    return text or None
