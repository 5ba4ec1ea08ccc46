"""Exact digests of every loaded list: sorted 8-byte prefixes answer a batch of look-ups at once.

A dict of ``bytes -> row`` costs ~100 bytes per entry; this costs 12 (16 above 4G rows) and answers a
batch of look-ups with one ``searchsorted``. Full digests are checked on the few prefix hits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .. import signals
from ..hashlist.table import HashColumn
from .segments import Segments

U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]


class ExactTable:
    """One digest type across all lists: sorted first-8-byte keys plus the permutation back to rows.

    A dict of ``bytes -> row`` costs ~100 bytes per entry; this costs 12 (16 above 4G rows) and
    answers a batch of look-ups with one ``searchsorted``. Full digests are checked on the few hits.
    """

    __slots__ = ("keys", "nbytes", "order", "segments")

    def __init__(self, hash_type: str, parts: Sequence[tuple[int, HashColumn]]) -> None:
        self.nbytes = signals.get(hash_type).nbytes
        self.segments = Segments(parts)
        keys = np.concatenate([self._prefix(c.values) for _, c in parts])
        order = np.argsort(keys, kind="stable")
        self.order = order.astype(np.uint32) if len(keys) < 2**32 else order
        self.keys = keys[order]

    @staticmethod
    def _prefix(values: U8) -> U64:
        return np.ascontiguousarray(values[:, :8]).view(">u8").ravel().astype(np.uint64)

    def lookup(self, digests: Sequence[bytes]) -> list[list[tuple[int, int]]]:
        """For each digest, the (segment, row) pairs whose full value equals it."""
        if not digests:
            return []
        q = self._prefix(np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), self.nbytes))
        lo = np.searchsorted(self.keys, q, side="left")
        hi = np.searchsorted(self.keys, q, side="right")
        out: list[list[tuple[int, int]]] = [[] for _ in digests]
        for qi in np.flatnonzero(hi > lo).tolist():
            gids = self.order[lo[qi] : hi[qi]].astype(np.int64)
            segs, rows = self.segments.locate(gids)
            for seg, row in zip(segs.tolist(), rows.tolist(), strict=True):
                if self.segments.columns[seg].values[row].tobytes() == digests[qi]:
                    out[qi].append((seg, row))
        return out
