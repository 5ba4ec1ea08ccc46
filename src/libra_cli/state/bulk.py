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

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgpack
import numpy as np
import numpy.typing as npt

from .. import signals
from ..match.matcher import Matcher

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


def read(blobs: Sequence[bytes], types: dict[str, int]) -> Batch:
    """The values of ``types`` in each stored blob (``state/codec.py``'s wire form), without building results."""
    columns = {name: Columns(nbytes) for name, nbytes in types.items()}
    meta: list[tuple[str | None, int] | None] = []
    unpack = msgpack.unpackb
    for row, blob in enumerate(blobs):
        try:
            if len(blob) > _MAX_BLOB:
                raise ValueError
            kind, _, body = unpack(blob, raw=False, unicode_errors="surrogateescape", max_ext_len=0)
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
