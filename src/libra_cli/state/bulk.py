"""A batch of stored rows as hash arrays: which files could match at all, decided for the whole batch at once.

Rematch used to decode every stored row into a checked ``HashResult`` and hand all of them to the matcher,
one Python object per perceptual row: about 40 µs per file, most of the time of a rematch against a small
list. Almost no stored file matches, so the batch is first read for just the hash values the lists can
use (one msgpack unpack per row, the values joined into one array per hash type), and the matcher says
which rows meet some listed value at all (``Matcher.may_match``: one exact-table look-up and one index
search per type for the whole batch). That is a superset of what ``match_many`` can report (no rule, allow
entry or quality floor is applied yet), so only those few files, and any row this quick read does not
understand, go through the full, checked decode and the matcher's rules: the findings are the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter

import msgpack
import numpy as np
import numpy.typing as npt

from .. import signals
from ..match.matcher import Matcher
from . import codec

U8 = npt.NDArray[np.uint8]

#: Larger than a message the wire format allows for one stored file would be a row to check in full.
_MAX_BLOB = 1 << 20


@dataclass
class Columns:
    """One hash type's values from a batch: ``owners[i]`` is the batch row that ``values[i]`` came from."""

    nbytes: int
    owners: list[int] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)

    def array(self) -> U8:
        raw = b"".join(self.chunks)
        return np.frombuffer(raw, dtype=np.uint8).reshape(len(raw) // self.nbytes, self.nbytes)

    def owner_array(self) -> npt.NDArray[np.int64]:
        return np.asarray(self.owners, dtype=np.int64)


@dataclass
class Batch:
    """What the quick read took from a batch of stored blobs."""

    columns: dict[str, Columns]
    #: Per row: the stored media type and size (as the full decode would report them), or ``None`` for a
    #: row the quick read does not understand (it goes to the full decode, which reports what is wrong).
    meta: list[tuple[str | None, int] | None]


def searched_types(matcher: Matcher) -> dict[str, int]:
    """The hash types whose stored values the matcher can search, with their sizes in bytes."""
    return {
        s.name: s.nbytes for s in signals.all_types() if s.kind in ("digest", "perceptual") and matcher.searches(s.name)
    }


def values(blob: bytes, types: dict[str, int]) -> tuple[str | None, int, list[tuple[str, bytes]]]:
    """``(media type, size, [(type, raw values)])`` of one stored blob, for ``types``; ``ValueError`` (or any
    other exception) for a row this quick read does not understand (the full decode reports what is wrong)."""
    if len(blob) > _MAX_BLOB:
        raise ValueError
    kind, _, body = msgpack.unpackb(blob, raw=False, unicode_errors="surrogateescape", max_ext_len=0)
    if kind != "R" or not isinstance(body, dict) or "m" in body:
        raise ValueError  # archives and anything unusual: the full decode
    size = body["s"][0]
    media_type = body.get("t")
    if type(size) is not int or not (media_type is None or isinstance(media_type, str)):
        raise ValueError
    picked: list[tuple[str, bytes]] = []
    for name, digest in body["d"].items():
        if name in types:
            if not isinstance(digest, bytes) or len(digest) != types[name]:
                raise ValueError
            picked.append((name, digest))
    for item in body["p"]:
        name, raw = item[0], item[1]
        if name in types:
            if not isinstance(raw, bytes) or len(raw) % types[name]:
                raise ValueError
            picked.append((name, raw))
    return media_type, size, picked


def read(blobs: Sequence[bytes], types: dict[str, int]) -> Batch:
    """The values of ``types`` in each stored blob (``state/codec.py``'s wire form), without building results."""
    columns = {name: Columns(nbytes) for name, nbytes in types.items()}
    meta: list[tuple[str | None, int] | None] = []
    for row, blob in enumerate(blobs):
        try:
            media_type, size, picked = values(blob, types)
        except Exception:  # any surprise: this row is decoded (and reported) in full
            meta.append(None)
            continue
        meta.append((media_type, size))
        for name, raw in picked:
            column = columns[name]
            column.owners.extend([row] * (len(raw) // column.nbytes))
            column.chunks.append(raw)
    return Batch(columns, meta)


def candidates(batch: Batch, matcher: Matcher) -> npt.NDArray[np.bool_]:
    """Per row: whether the row may match (some value meets a listed one) or must be decoded in full."""
    rows = len(batch.meta)
    out = np.array([m is None for m in batch.meta], dtype=np.bool_)
    for name, column in batch.columns.items():
        if not column.owners:
            continue
        hit = matcher.may_match(name, column.array())
        out[column.owner_array()[hit]] = True
    assert len(out) == rows
    return out


# -- the columns of their own (schema 4) -------------------------------------------------------------

_FILL = (
    f"UPDATE files SET {', '.join(f'{c} = ?' for c in codec.COLUMNS)}, columns = 1 WHERE id = ?"
)


def fill_columns(db: sqlite3.Connection) -> None:
    """Copy every stored row's values of ``codec.COLUMN_TYPES`` from its blob into their columns (the upgrade
    to schema 4, inside its transaction). A row this quick read does not understand keeps ``columns = 0``:
    a rematch decodes it in full, as before, and reports it if it is unreadable."""
    types = {name: signals.get(name).nbytes for name in codec.COLUMN_TYPES}
    last = -1
    while rows := db.execute("SELECT id, hashes FROM files WHERE id > ? ORDER BY id LIMIT 4096", (last,)).fetchall():
        last = rows[-1][0]
        updates = []
        for row_id, blob in rows:
            try:
                picked = values(bytes(blob), types)[2]
            except Exception:
                continue
            held: dict[str, bytes] = {}
            for name, raw in picked:
                held[name] = held.get(name, b"") + raw
            updates.append((*(held.get(name) for name in codec.COLUMN_TYPES), row_id))
        db.executemany(_FILL, updates)


@dataclass
class ColumnBatch:
    """What a batch of rows' columns say: which rows they serve, and one array per searched type."""

    #: Per row: the columns hold every value the matcher searches (else: the row is read from its blob).
    served: npt.NDArray[np.bool_]
    #: Per searched column type: ``(values, owners)``, ``owners[i]`` the batch row of ``values[i]``.
    arrays: dict[str, tuple[U8, npt.NDArray[np.int64]]]


def column_types(matcher: Matcher) -> tuple[list[str], set[str]]:
    """The searched types kept in columns, and the searched types that are not (a row holding one of these,
    a video's ``vpdq`` frames say, is read from its blob)."""
    searched = searched_types(matcher)
    return [t for t in codec.COLUMN_TYPES if t in searched], {t for t in searched if t not in codec.COLUMN_TYPES}


def column_batch(
    rows: Sequence[tuple[object, ...]], first: int, types: Sequence[str], others: set[str], holds: dict[object, bool]
) -> ColumnBatch:
    """``rows``: ``(..., columns flag, computed, value of types[0], value of types[1], ...)`` with the flag at
    ``first - 2`` and ``computed`` at ``first - 1``, a value absent as ``b""`` (``coalesce`` in the query) or
    ``None``. ``holds`` caches, per ``computed``, whether it names one of ``others``."""
    n = len(rows)
    flags = np.fromiter(map(itemgetter(first - 2), rows), dtype=np.int64, count=n)
    computed = list(map(itemgetter(first - 1), rows))
    for text in set(computed) - holds.keys():
        held = set(str(text).split(",")) if text else set()
        holds[text] = any(codec.token(t) in held for t in others)
    served = (flags == 1) & ~np.fromiter(map(holds.__getitem__, computed), dtype=np.bool_, count=n)
    found: list[tuple[str, list[bytes], npt.NDArray[np.int64]]] = []
    for j, name in enumerate(types):
        nbytes = signals.get(name).nbytes
        column = [b"" if v is None else v for v in map(itemgetter(first + j), rows)]
        lengths = np.fromiter(map(len, column), dtype=np.int64, count=n)
        whole = lengths == nbytes if signals.get(name).kind == "digest" else lengths % nbytes == 0
        served &= whole | (lengths == 0)  # a value of another size: the blob's full decode says what is wrong
        found.append((name, column, lengths))
    arrays: dict[str, tuple[U8, npt.NDArray[np.int64]]] = {}
    for name, column, lengths in found:
        nbytes = signals.get(name).nbytes
        take = served & (lengths > 0)
        raw = b"".join(compress(column, take.tolist()))
        owners = np.repeat(np.flatnonzero(take), lengths[take] // nbytes)
        arrays[name] = (np.frombuffer(raw, dtype=np.uint8).reshape(-1, nbytes), owners)
    return ColumnBatch(served, arrays)


def column_candidates(batch: ColumnBatch, matcher: Matcher) -> npt.NDArray[np.bool_]:
    """Per row: whether it must be read in full (not served by its columns, or some value may match)."""
    out = ~batch.served
    for name, (array, owners) in batch.arrays.items():
        if len(array):
            out[owners[matcher.may_match(name, array)]] = True
    return out
