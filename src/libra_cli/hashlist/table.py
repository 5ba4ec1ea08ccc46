"""The in-memory hash list: columnar, lean, built once and then only read.

A list of millions of entries must load in seconds and in memory close to its raw size, so values
live in one ``uint8`` array per hash type, ids in one UTF-8 blob with offsets, and the few distinct
labels, categories and sources as small integer codes into a string table. ``Entry`` objects are
made only for the few rows that matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .. import signals
from ..models import Entry

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
#: ``HashColumn.quality`` of a row whose source gave no quality.
NO_QUALITY = 255


@dataclass(frozen=True)
class ListInfo:
    """What a list says about itself, plus what loading it established."""

    name: str
    publisher: str = ""
    created: str = ""
    description: str = ""
    format_version: int = 1
    signer: str | None = None  #: fingerprint of the publisher key that verified the signature, if any
    sha256: str = ""  #: digest of the list file as stored
    path: str = ""
    #: ``verified`` (signed by a given ``--publisher-key``), ``unverified`` (validly signed by ``signer``,
    #: but no publisher key was given to trust), or ``unsigned``.
    signature_status: str = "unsigned"
    #: ISO 8601 time after which the publisher says the list is no longer current ("" if it does not say).
    expires: str = ""


class VarStrings:
    """A column of optional strings stored as one UTF-8 blob plus offsets (``None`` is a -1 length)."""

    __slots__ = ("blob", "offsets")

    def __init__(self, blob: bytes, offsets: npt.NDArray[np.int64]) -> None:
        self.blob = blob
        self.offsets = offsets  # n + 1 entries; a negative start marks None

    @classmethod
    def from_list(cls, items: Sequence[str | None]) -> VarStrings:
        parts: list[bytes] = []
        offsets = np.empty(len(items) + 1, dtype=np.int64)
        pos = 0
        offsets[0] = 0
        for i, item in enumerate(items):
            if item is None:
                offsets[i + 1] = -(pos + 1)
                continue
            data = item.encode("utf-8")
            parts.append(data)
            pos += len(data)
            offsets[i + 1] = pos
        return cls(b"".join(parts), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str | None:
        end = int(self.offsets[index + 1])
        if end < 0:
            return None
        start = int(self.offsets[index])
        start = -start - 1 if start < 0 else start
        return self.blob[start:end].decode("utf-8")


class Codes:
    """A column of optional strings with few distinct values: ``int32`` codes into a table."""

    __slots__ = ("codes", "table")

    def __init__(self, codes: npt.NDArray[np.int32], table: Sequence[str]) -> None:
        self.codes = codes  # -1 means None
        self.table = tuple(table)

    @classmethod
    def from_list(cls, items: Sequence[str | None]) -> Codes:
        index: dict[str, int] = {}
        codes = np.empty(len(items), dtype=np.int32)
        for i, item in enumerate(items):
            codes[i] = -1 if item is None else index.setdefault(item, len(index))
        return cls(codes, list(index))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: int) -> str | None:
        code = int(self.codes[index])
        return None if code < 0 else self.table[code]


@dataclass(frozen=True)
class HashColumn:
    """All entries of one hash type. ``values`` is ``(n, nbytes)`` uint8 for supported types;
    unsupported types (PhotoDNA) keep their raw text in ``raw_values`` instead."""

    hash_type: str
    values: U8
    allow: npt.NDArray[np.bool_]
    ids: VarStrings
    labels: Codes
    categories: Codes
    sources: Codes
    raw_values: VarStrings | None = None
    #: Each entry's variant (``original``, ``crop5-center``, ...), when the list records them.
    variants: Codes | None = None
    #: Listed video frames (``vpdq``): each row's time in seconds (NaN: not a frame) and quality
    #: (``NO_QUALITY``: not stated), when the list records them (match/video.py compares timelines).
    times: F32 | None = None
    quality: U8 | None = None

    def __len__(self) -> int:
        return len(self.allow)

    def value_hex(self, index: int) -> str:
        if self.raw_values is not None:
            return self.raw_values[index] or ""
        return bytes(self.values[index]).hex()

    def entry(self, index: int) -> Entry:
        """The full entry at ``index`` (made on demand: only matched rows ever become objects)."""
        return Entry(
            hash_type=self.hash_type,
            value=self.value_hex(index),
            id=self.ids[index],
            label=self.labels[index],
            category=self.categories[index],
            source=self.sources[index],
            allow=bool(self.allow[index]),
            variant=None if self.variants is None else self.variants[index],
            time=self.time(index),
            quality=None if self.quality is None or self.quality[index] == NO_QUALITY else int(self.quality[index]),
        )

    def time(self, index: int) -> float | None:
        """The time of the listed video frame at ``index`` (``None`` when the row is not a frame)."""
        if self.times is None:
            return None
        value = float(self.times[index])
        return None if value != value else round(value, 3)

    def variant(self, index: int) -> str | None:
        """The variant of the entry at ``index`` (``None`` when the list does not record variants)."""
        return None if self.variants is None else self.variants[index]

    @classmethod
    def from_entries(cls, hash_type: str, entries: Sequence[Entry]) -> HashColumn:
        n = len(entries)
        raw: VarStrings | None = None
        signal = signals.get(hash_type)
        if signal.kind == "unsupported":
            values = np.zeros((n, 0), dtype=np.uint8)
            raw = VarStrings.from_list([e.value for e in entries])
        else:
            width = signal.nbytes
            joined = bytes.fromhex("".join(e.value for e in entries))
            values = np.frombuffer(joined, dtype=np.uint8).reshape(n, width).copy()
        return cls(
            hash_type=hash_type,
            values=values,
            allow=np.fromiter((e.allow for e in entries), dtype=np.bool_, count=n),
            ids=VarStrings.from_list([e.id for e in entries]),
            labels=Codes.from_list([e.label for e in entries]),
            categories=Codes.from_list([e.category for e in entries]),
            sources=Codes.from_list([e.source for e in entries]),
            raw_values=raw,
            variants=Codes.from_list([e.variant for e in entries]) if any(e.variant for e in entries) else None,
            times=np.fromiter((np.nan if e.time is None else e.time for e in entries), np.float32, count=n)
            if any(e.time is not None for e in entries)
            else None,
            quality=np.fromiter((NO_QUALITY if e.quality is None else e.quality for e in entries), np.uint8, count=n)
            if any(e.quality is not None for e in entries)
            else None,
        )


@dataclass(frozen=True)
class HashList:
    """A decrypted, verified hash list: metadata plus one column per hash type."""

    info: ListInfo
    columns: Mapping[str, HashColumn] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, info: ListInfo, entries: Iterable[Entry]) -> HashList:
        """Group entries by hash type (order kept). Deduplication is the builder's job."""
        groups: dict[str, list[Entry]] = {}
        for entry in entries:
            groups.setdefault(entry.hash_type, []).append(entry)
        return cls(info, {t: HashColumn.from_entries(t, _frames_together(es)) for t, es in sorted(groups.items())})

    def __len__(self) -> int:
        return sum(len(c) for c in self.columns.values())

    def hash_types(self) -> frozenset[str]:
        return frozenset(self.columns)

    def entries(self) -> Iterator[Entry]:
        for column in self.columns.values():
            for i in range(len(column)):
                yield column.entry(i)

    def counts(self) -> dict[tuple[str, str | None], int]:
        """Entry counts per ``(hash_type, category)``: what ``hashlist info`` shows."""
        out: dict[tuple[str, str | None], int] = {}
        for hash_type, column in self.columns.items():
            codes, numbers = np.unique(column.categories.codes, return_counts=True)
            for code, number in zip(codes.tolist(), numbers.tolist(), strict=True):
                category = None if code < 0 else column.categories.table[code]
                out[(hash_type, category)] = int(number)
        return out


def _frames_together(entries: list[Entry]) -> list[Entry]:
    """``entries`` with each listed video's frame rows next to each other (first appearance order kept):
    the matcher finds a video's rows by walking out from one (match/video_entries.py)."""
    if not any(e.time is not None for e in entries):
        return entries
    first: dict[tuple[bool, str | None], int] = {}
    keys = []
    for i, entry in enumerate(entries):
        key = (entry.time is not None, entry.id if entry.time is not None else str(i))
        keys.append(first.setdefault(key, i))
    order = sorted(range(len(entries)), key=lambda i: (keys[i], i))
    return [entries[i] for i in order]
