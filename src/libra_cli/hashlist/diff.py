"""Compare two versions of a list: which entries were added, removed, or changed their metadata."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..models import Entry
from .table import HashColumn, HashList


@dataclass
class ListDiff:
    """Entries only in the new list (added), only in the old (removed), in both but different (changed)."""

    added: list[Entry] = field(default_factory=list)
    removed: list[Entry] = field(default_factory=list)
    changed: list[tuple[Entry, Entry]] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{hash_type: {"added": n, "removed": n, "changed": n}}``."""
        out: dict[str, dict[str, int]] = {}
        for kind, items in (("added", self.added), ("removed", self.removed)):
            for entry in items:
                out.setdefault(entry.hash_type, {"added": 0, "removed": 0, "changed": 0})[kind] += 1
        for old, _ in self.changed:
            out.setdefault(old.hash_type, {"added": 0, "removed": 0, "changed": 0})["changed"] += 1
        return out


def _keys(column: HashColumn) -> dict[str, int]:
    return {column.value_hex(i): i for i in range(len(column))}


def _only(mine: HashColumn, theirs: dict[str, int]) -> Iterator[Entry]:
    for i in range(len(mine)):
        if mine.value_hex(i) not in theirs:
            yield mine.entry(i)


def diff_hashlists(old: HashList, new: HashList) -> ListDiff:
    """What changed from ``old`` to ``new``, matched on ``(hash_type, value)``."""
    result = ListDiff()
    for hash_type in sorted(old.hash_types() | new.hash_types()):
        before, after = old.columns.get(hash_type), new.columns.get(hash_type)
        if before is None and after is not None:
            result.added.extend(after.entry(i) for i in range(len(after)))
            continue
        if after is None and before is not None:
            result.removed.extend(before.entry(i) for i in range(len(before)))
            continue
        assert before is not None and after is not None
        old_keys, new_keys = _keys(before), _keys(after)
        result.added.extend(_only(after, old_keys))
        result.removed.extend(_only(before, new_keys))
        for value, j in new_keys.items():
            i = old_keys.get(value)
            if i is not None:
                a, b = before.entry(i), after.entry(j)
                if a != b:
                    result.changed.append((a, b))
    return result
