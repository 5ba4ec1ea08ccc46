"""Exact Hamming-distance indexes for perceptual hash lists, behind one interface and a registry.

>>> import numpy as np
>>> from libra_cli.match.index import build_index
>>> codes = np.random.default_rng(0).integers(0, 256, (5_000, 32), dtype=np.uint8)
>>> index = build_index(codes, radius=31)          # the best available kind for this list
>>> index.name in {"expanded", "native", "mih"}
True
>>> qi, entry, dist = index.search(codes[:3])      # every entry within 31 bits of each query, once
>>> entry.tolist(), dist.tolist()
([0, 1, 2], [0, 0, 0])

Kinds: ``brute`` (small lists), ``mih`` (numpy multi-index hashing), ``native`` (the same in numba;
preferred when numba is installed). Register another with ``register`` (see ``base.py``).
"""

from __future__ import annotations

from .base import (
    HammingIndex,
    Matches,
    build_index,
    choose_index,
    index_class,
    index_names,
    register,
    unregister,
)
from .brute import BruteIndex
from .expanded import ExpandedIndex, plan_expanded
from .mih import MihIndex
from .native import NativeIndex, default_threads
from .plan import ChunkPlan, make_plan, plan_chunks

__all__ = [
    "BruteIndex",
    "ChunkPlan",
    "ExpandedIndex",
    "HammingIndex",
    "Matches",
    "MihIndex",
    "NativeIndex",
    "build_index",
    "choose_index",
    "default_threads",
    "index_class",
    "index_names",
    "make_plan",
    "plan_chunks",
    "plan_expanded",
    "register",
    "unregister",
]
