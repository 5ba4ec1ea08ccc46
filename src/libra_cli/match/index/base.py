"""The Hamming index contract, the registry of index kinds, and the factory that picks one.

A perceptual hash list is a ``(n, nbytes)`` array of codes (32 bytes for PDQ, 8 for pHash and dHash).
An index answers one question, exactly: which entries lie within ``radius`` bits (inclusive) of each
query? Several algorithms answer it at different costs (brute force for small lists, multi-index
hashing in numpy, a compiled kernel), so they share one interface and a registry; a new kind (a GPU
kernel, a remote service) plugs in with one ``register`` call and the factory can pick it.

>>> import numpy as np
>>> codes = np.zeros((3, 8), dtype=np.uint8); codes[1, 0] = 0b111
>>> index = build_index(codes, radius=2)
>>> index.search(np.zeros((1, 8), dtype=np.uint8))
(array([0, 0]), array([0, 2]), array([0, 0]))
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "I64",
    "U8",
    "U64",
    "HammingIndex",
    "Matches",
    "build_index",
    "choose_index",
    "empty_matches",
    "index_class",
    "index_names",
    "popcount",
    "popcount_rows",
    "register",
    "unregister",
]

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
#: ``(query_index, entry_index, distance)``: one row per pair within the radius, sorted by query then entry.
Matches = tuple[I64, I64, I64]


class HammingIndex(ABC):
    """Every entry within ``radius`` bits of each query, exactly once: exact, never approximate.

    Subclasses set ``name`` and implement ``_search`` and ``nbytes``; ``preference`` tells the factory
    how well the kind suits a list (``None``: it cannot serve it, higher is better). Instances are
    read-only after construction and may be queried from one thread at a time.
    """

    name: ClassVar[str] = ""

    def __init__(self, codes: U8, radius: int) -> None:
        self.codes_shape: tuple[int, int] = check_codes(codes, "codes")
        if isinstance(radius, bool) or not isinstance(radius, int) or not 0 <= radius <= 8 * self.codes_shape[1]:
            raise ValueError(f"{radius!r} is not a valid radius for {8 * self.codes_shape[1]}-bit codes")
        self.radius = radius

    @property
    def size(self) -> int:
        """Number of entries."""
        return self.codes_shape[0]

    @property
    def bits(self) -> int:
        return 8 * self.codes_shape[1]

    @classmethod
    def available(cls) -> bool:
        """Whether this kind can run here (a compiled kernel may lack its compiler library)."""
        return True

    @classmethod
    @abstractmethod
    def preference(cls, n: int, bits: int, radius: int) -> float | None:
        """How well this kind suits ``n`` entries of ``bits`` at ``radius``: higher wins, ``None`` = cannot."""

    def search(self, queries: U8) -> Matches:
        """All ``(query_index, entry_index, distance)`` with distance <= radius, each pair once, sorted."""
        nq, nbytes = check_codes(queries, "queries")
        if nbytes != self.codes_shape[1]:
            raise ValueError(f"queries have {nbytes} bytes per code, the index holds {self.codes_shape[1]}")
        if nq == 0 or self.size == 0:
            return empty_matches()
        qi, ei, dist = self._search(np.ascontiguousarray(queries))
        order = np.lexsort((ei, qi))
        return qi[order], ei[order], dist[order]

    @abstractmethod
    def _search(self, queries: U8) -> Matches:
        """``search`` on a non-empty, validated, C-contiguous batch; any order."""

    @abstractmethod
    def nbytes(self) -> int:
        """Memory this index holds, in bytes, the codes included (the built-in kinds reference the
        caller's array instead of copying it when it is C-contiguous with whole 8-byte words)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} n={self.size} bits={self.bits} radius={self.radius}>"


_REGISTRY: dict[str, type[HammingIndex]] = {}
T = TypeVar("T", bound=type[HammingIndex])


def register(cls: T) -> T:
    """Make an index kind known by its ``name`` (usable as a class decorator); a name can be taken once.

    >>> @register  # doctest: +SKIP
    ... class GpuIndex(HammingIndex): name = "gpu"; ...
    """
    if not (isinstance(cls, type) and issubclass(cls, HammingIndex)) or not cls.name:
        raise TypeError(f"{cls!r} is not a HammingIndex subclass with a name")
    if _REGISTRY.get(cls.name, cls) is not cls:
        raise ValueError(f"an index named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Forget the index kind ``name`` (for tests and for replacing a plug-in)."""
    _REGISTRY.pop(name, None)


def index_names() -> tuple[str, ...]:
    """Registered kinds that can run on this machine."""
    return tuple(name for name, cls in _REGISTRY.items() if cls.available())


def index_class(name: str) -> type[HammingIndex]:
    """The registered, available kind called ``name``."""
    cls = _REGISTRY.get(name)
    if cls is None or not cls.available():
        raise ValueError(f"{name!r} is not an available Hamming index (have: {', '.join(index_names())})")
    return cls


def choose_index(n: int, bits: int, radius: int) -> type[HammingIndex]:
    """The available kind with the highest ``preference`` for this list (first registered wins ties)."""
    best: tuple[float, type[HammingIndex]] | None = None
    for name in index_names():
        cls = _REGISTRY[name]
        score = cls.preference(n, bits, radius)
        if score is not None and (best is None or score > best[0]):
            best = (score, cls)
    if best is None:
        raise ValueError(f"no registered Hamming index serves {n} entries of {bits} bits at radius {radius}")
    return best[1]


def build_index(codes: U8, radius: int, name: str = "auto", **options: object) -> HammingIndex:
    """An index over ``codes``: the kind called ``name``, or the best one for the list when ``"auto"``.

    ``options`` go to the kind's constructor when it takes them (``threads=2`` reaches the native index
    and is ignored by brute force), so one call serves every kind the factory may pick.
    """
    n, nbytes = check_codes(codes, "codes")
    cls = choose_index(n, 8 * nbytes, radius) if name == "auto" else index_class(name)
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = {k: v for k, v in options.items() if takes_any or k in params}
    factory: Callable[..., HammingIndex] = cls
    return factory(codes, radius, **accepted)


def check_codes(codes: object, what: str) -> tuple[int, int]:
    """``(rows, bytes per row)`` of a 2-D uint8 array, or a ValueError naming ``what``."""
    if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] == 0:
        shape = getattr(codes, "shape", None)
        dtype = getattr(codes, "dtype", type(codes).__name__)
        raise ValueError(f"{what} must be a 2-D uint8 array with at least one byte per row, not {dtype} {shape}")
    return int(codes.shape[0]), int(codes.shape[1])


def as_words(codes: U8) -> U64:
    """``codes`` as C-contiguous little-endian uint64 words, zero-padded to a multiple of 8 bytes.

    Padding both sides with zero bits leaves every distance unchanged. Bit ``b`` of a code is bit
    ``b % 64`` of word ``b // 64``.
    """
    n, nbytes = codes.shape
    width = -(-nbytes // 8) * 8
    if width != nbytes:
        padded = np.zeros((n, width), dtype=np.uint8)
        padded[:, :nbytes] = codes
        codes = padded
    words: U64 = np.ascontiguousarray(codes).view("<u8").astype(np.uint64, copy=False).reshape(n, width // 8)
    return words


def popcount(x: np.ndarray) -> I64:
    """Elementwise Hamming weight of a non-negative integer array, as int64."""
    counts: I64
    if hasattr(np, "bitwise_count"):
        counts = np.bitwise_count(x).astype(np.int64)
    else:  # pragma: no cover - numpy < 2
        as_u64 = np.ascontiguousarray(x.astype(np.uint64))
        counts = _POP8[as_u64.view(np.uint8)].reshape(*x.shape, 8).sum(axis=-1, dtype=np.int64)
    return counts


def popcount_rows(words: U64) -> I64:
    """Hamming weight of each row of a ``(k, w)`` uint64 array."""
    counts: I64
    if hasattr(np, "bitwise_count"):
        counts = np.bitwise_count(words).sum(axis=1, dtype=np.int64)
    else:  # pragma: no cover - numpy < 2
        counts = _POP8[words.view(np.uint8)].reshape(len(words), -1).sum(axis=1, dtype=np.int64)
    return counts


_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def empty_matches() -> Matches:
    empty = np.empty(0, dtype=np.int64)
    return empty, empty.copy(), empty.copy()
