"""Hamming indexes (libra_cli.match.index): every kind returns exactly what brute force returns.

The reference here is independent of the package: unpack both sides to bits and count differences.
Lists are random and clustered the way ``libra hash --robust`` lists are (36 variants per image, exact
and near duplicates, a flat-image cluster), and queries sit at the radius with their differing bits
spread over every chunk, the hardest case for the pigeonhole and pigeonring arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from libra_cli.match.index import (
    BruteIndex,
    ExpandedIndex,
    HammingIndex,
    Matches,
    MihIndex,
    NativeIndex,
    build_index,
    choose_index,
    index_class,
    index_names,
    make_plan,
    plan_chunks,
    register,
    unregister,
)
from libra_cli.match.index import native as native_module

U8 = npt.NDArray[np.uint8]
Factory = Callable[[U8, int], HammingIndex]

KINDS: dict[str, Factory] = {
    "brute": BruteIndex,
    "mih": MihIndex,
    "native-1-thread": lambda c, r: NativeIndex(c, r, threads=1),
    "native-2-threads": lambda c, r: NativeIndex(c, r, threads=2),
    # the plan large lists get (16-bit chunks for PDQ), forced on a small list
    "native-wide-chunks": lambda c, r: NativeIndex(c, r, threads=1, plan=plan_chunks(len(c) * 1000, c.shape[1] * 8, r)),
    "mih-wide-chunks": lambda c, r: MihIndex(c, r, plan=plan_chunks(len(c) * 1000, c.shape[1] * 8, r)),
    # plain multi-index hashing (no filter) and a one-chunk filter
    "native-depth-1": lambda c, r: NativeIndex(c, r, threads=1, plan=plan_chunks(len(c), c.shape[1] * 8, r, depth=1)),
    "native-depth-2": lambda c, r: NativeIndex(c, r, threads=1, plan=plan_chunks(len(c), c.shape[1] * 8, r, depth=2)),
    "mih-depth-2": lambda c, r: MihIndex(c, r, plan=plan_chunks(len(c), c.shape[1] * 8, r, depth=2)),
    # probes on the list side (small lists), its own plan and the plain multi-index one
    "expanded-1-thread": lambda c, r: ExpandedIndex(c, r, threads=1),
    "expanded-2-threads": lambda c, r: ExpandedIndex(c, r, threads=2),
    "expanded-depth-1": lambda c, r: ExpandedIndex(
        c, r, threads=1, plan=make_plan(c.shape[1] * 8, r, c.shape[1] // 2, 1)
    ),
    # the grouped order of large batches (a rematch's), forced on the tests' few queries: 16-bit chunks read
    # as uint16 (PDQ), chunks cut out of the words (pHash's narrower ones), and without a filter
    "expanded-grouped": lambda c, r: ExpandedIndex(c, r, threads=1, sorted_from=1),
    "expanded-grouped-2-threads": lambda c, r: ExpandedIndex(c, r, threads=2, sorted_from=1),
    "expanded-grouped-narrow": lambda c, r: ExpandedIndex(
        c, r, threads=1, sorted_from=1, plan=make_plan(c.shape[1] * 8, r, c.shape[1] * 8 // 12)
    ),
    "expanded-grouped-depth-1": lambda c, r: ExpandedIndex(
        c, r, threads=1, sorted_from=1, plan=make_plan(c.shape[1] * 8, r, c.shape[1] // 2, 1)
    ),
}


def reference(codes: U8, queries: U8, radius: int) -> list[tuple[int, int, int]]:
    if len(codes) == 0 or len(queries) == 0:
        return []
    dist = (np.unpackbits(queries, axis=1)[:, None, :] != np.unpackbits(codes, axis=1)[None, :, :]).sum(axis=2)
    qi, ei = np.nonzero(dist <= radius)
    return list(zip(qi.tolist(), ei.tolist(), dist[qi, ei].tolist(), strict=True))


def as_list(found: Matches) -> list[tuple[int, int, int]]:
    qi, ei, dist = found
    assert qi.dtype == ei.dtype == dist.dtype == np.int64
    return list(zip(qi.tolist(), ei.tolist(), dist.tolist(), strict=True))


def flip_random(codes: U8, counts: npt.NDArray[np.int64], rng: np.random.Generator) -> U8:
    """Each row with ``counts[i]`` distinct random bits flipped."""
    bits = codes.shape[1] * 8
    mask = rng.random((len(codes), bits)).argsort(axis=1) < counts[:, None]
    return codes ^ np.packbits(mask, axis=1)


def flip_spread(code: U8, count: int, start: int) -> U8:
    """``code`` with ``count`` bits flipped, evenly spaced from ``start``: every chunk gets its share."""
    bits = np.unpackbits(code)
    positions = (start + np.arange(count) * len(bits) // max(count, 1)) % len(bits)
    bits[positions] ^= 1
    return np.packbits(bits)


def random_list(n: int, nbytes: int, rng: np.random.Generator) -> U8:
    return rng.integers(0, 256, (n, nbytes), dtype=np.uint8)


def clustered_list(n: int, nbytes: int, radius: int, rng: np.random.Generator) -> U8:
    """36 variants per image (a `--robust` list): many within a few bits, some duplicates, some near and
    beyond the radius; plus 10% of entries within 2 bits of one hash (flat images all hash alike)."""
    images = random_list(max(1, n // 36), nbytes, rng)
    owner = np.arange(n) % len(images)
    steps = np.array([0, 0, 1, 2, 3, 4, 6, 8, radius // 2, radius - 1, radius, radius + 1, radius + 4])
    codes = flip_random(images[owner], rng.choice(steps, n), rng)
    flat = rng.random(n) < 0.1
    codes[flat] = flip_random(np.repeat(images[:1], flat.sum(), axis=0), rng.integers(0, 3, flat.sum()), rng)
    return codes


def queries_for(codes: U8, radius: int, rng: np.random.Generator) -> U8:
    """Entries themselves, entries at radius - 1, radius and radius + 1 with spread flips, random codes."""
    picks = codes[rng.choice(len(codes), 12, replace=False)]
    near = [
        flip_spread(code, radius + delta, start)
        for code, start in zip(picks, rng.integers(0, codes.shape[1] * 8, len(picks)), strict=True)
        for delta in (-1, 0, 1)
        if radius + delta >= 0
    ]
    return np.concatenate([picks, np.array(near, dtype=np.uint8), random_list(8, codes.shape[1], rng)])


CASES = [(32, 31), (8, 6)]  # PDQ at its default threshold, pHash / dHash at libra's


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("nbytes", "radius"), CASES)
@pytest.mark.parametrize("shape", ["random", "clustered"])
def test_every_kind_equals_brute_force(kind: str, nbytes: int, radius: int, shape: str) -> None:
    rng = np.random.default_rng(nbytes * 1000 + radius + (7 if shape == "clustered" else 0))
    n = 2_500
    codes = random_list(n, nbytes, rng) if shape == "random" else clustered_list(n, nbytes, radius, rng)
    queries = queries_for(codes, radius, rng)
    expected = reference(codes, queries, radius)
    found = as_list(KINDS[kind](codes, radius).search(queries))
    assert found == expected  # same pairs, each once, sorted by query then entry
    assert sum(1 for _, _, d in expected if d == radius) > 0  # the boundary was exercised
    if shape == "clustered":
        assert len(expected) > 10 * len(queries)  # near-duplicates made many hits per query


@pytest.mark.parametrize(
    "kind", ["brute", "mih", "native-1-thread", "native-2-threads", "expanded-2-threads", "expanded-grouped"]
)
@pytest.mark.parametrize(("nbytes", "radius"), [(32, 0), (8, 0), (32, 20), (8, 12), (16, 9)])
def test_other_radii_and_widths(kind: str, nbytes: int, radius: int) -> None:
    rng = np.random.default_rng(radius + nbytes)
    codes = clustered_list(1_200, nbytes, radius, rng)
    queries = queries_for(codes, radius, rng)
    assert as_list(KINDS[kind](codes, radius).search(queries)) == reference(codes, queries, radius)


@pytest.mark.parametrize(
    "kind", ["brute", "mih", "native-1-thread", "native-2-threads", "expanded-1-thread", "expanded-grouped"]
)
def test_edge_cases(kind: str) -> None:
    make = KINDS[kind]
    rng = np.random.default_rng(5)
    code = random_list(1, 32, rng)
    # empty list, empty queries
    empty = np.empty((0, 32), dtype=np.uint8)
    assert as_list(make(empty, 31).search(code)) == []
    assert as_list(make(code, 31).search(empty)) == []
    # one entry
    assert as_list(make(code, 31).search(np.concatenate([code, flip_spread(code[0], 32, 0)[None]]))) == [(0, 0, 0)]
    # duplicates: every copy is reported, once; more hits than the first output buffer holds
    dupes = np.concatenate([np.repeat(code, 3_000, axis=0), random_list(500, 32, rng)])
    found = as_list(make(dupes, 31).search(np.repeat(code, 2, axis=0)))
    assert found == [(q, e, 0) for q in range(2) for e in range(3_000)]
    # radius 0: equality only; queries equal to entries
    codes = random_list(800, 32, rng)
    queries = np.concatenate([codes[::100], flip_spread(codes[1], 1, 3)[None]])
    assert as_list(make(codes, 0).search(queries)) == [(i, 100 * i, 0) for i in range(8)]


def test_radius_as_wide_as_the_code_is_served_by_brute_force() -> None:
    rng = np.random.default_rng(9)
    codes = random_list(2_000, 8, rng)
    index = build_index(codes, 64)
    assert index.name == "brute"
    assert len(index.search(codes[:2])[0]) == 4_000
    with pytest.raises(ValueError, match="radius"):
        build_index(codes, 65)
    with pytest.raises(ValueError, match="radius"):
        MihIndex(codes, 64)


def test_bad_inputs_name_the_value() -> None:
    codes = np.zeros((4, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match="2-D uint8"):
        BruteIndex(codes.astype(np.int64), 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="queries have 4 bytes"):
        BruteIndex(codes, 2).search(np.zeros((1, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="-1 is not a valid radius"):
        BruteIndex(codes, -1)
    with pytest.raises(ValueError, match="threads"):
        NativeIndex(codes, 2, threads=0)
    with pytest.raises(ValueError, match="'nope' is not an available Hamming index"):
        build_index(codes, 2, name="nope")


def test_factory_passes_options_only_to_kinds_that_take_them() -> None:
    codes = random_list(5_000, 32, np.random.default_rng(8))
    index = build_index(codes, 31, threads=2)
    assert isinstance(index, ExpandedIndex)
    assert index.threads == 2
    assert isinstance(build_index(codes[:10], 31, threads=2), BruteIndex)  # brute has no threads: ignored


def test_factory_picks_by_size_and_falls_back_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_index(1_000, 256, 31) is BruteIndex
    assert choose_index(1_001, 256, 31) is ExpandedIndex
    assert choose_index(20_001, 256, 31) is NativeIndex
    assert choose_index(10_000_000, 64, 6) is NativeIndex
    monkeypatch.setattr(native_module, "_kernels", None)
    assert "native" not in index_names() and "expanded" not in index_names()
    assert choose_index(5_000, 256, 31) is MihIndex
    assert choose_index(10_000_000, 256, 31) is MihIndex
    with pytest.raises(ValueError, match="'native' is not an available"):
        index_class("native")


def test_memory_per_entry_is_stated() -> None:
    codes = random_list(20_000, 32, np.random.default_rng(2))
    plan = plan_chunks(10_000_000, 256, 31)
    index = NativeIndex(codes, 31, threads=1, plan=plan)
    assert plan.bytes_per_entry() == 128  # 16 chunks x (4-byte id + 4-byte filter word)
    fixed = plan.table_bytes()
    assert index.nbytes() - fixed == pytest.approx(20_000 * (128 + 32), rel=0.01)  # + the caller's codes
    assert np.shares_memory(index.tables.codes, codes)  # referenced, not copied
    assert BruteIndex(codes, 31).nbytes() == codes.nbytes


class _ReversedBrute(HammingIndex):
    """A plug-in as a third party would write it: brute force, scanning entries back to front."""

    name: ClassVar[str] = "test-reversed"

    def __init__(self, codes: U8, radius: int) -> None:
        super().__init__(codes, radius)
        self.inner = BruteIndex(codes[::-1].copy(), radius)

    @classmethod
    def preference(cls, n: int, bits: int, radius: int) -> float | None:
        return 100.0 if bits == 24 else None  # claims only 24-bit codes

    def _search(self, queries: U8) -> Matches:
        qi, ei, dist = self.inner.search(queries)
        return qi, self.size - 1 - ei, dist

    def nbytes(self) -> int:
        return self.inner.nbytes()


def test_a_plugin_registers_with_one_call_and_is_picked() -> None:
    rng = np.random.default_rng(4)
    codes = random_list(3_000, 3, rng)
    register(_ReversedBrute)
    try:
        assert "test-reversed" in index_names()
        with pytest.raises(ValueError, match="already registered"):
            register(type("Other", (_ReversedBrute,), {}))
        picked = build_index(codes, 5)  # the factory prefers it for 24-bit codes
        assert isinstance(picked, _ReversedBrute)
        assert isinstance(build_index(random_list(3_000, 8, rng), 5), ExpandedIndex)  # not for others
        named = build_index(codes, 5, name="test-reversed")
        queries = codes[:20]
        assert as_list(named.search(queries)) == reference(codes, queries, 5)
    finally:
        unregister("test-reversed")
    assert "test-reversed" not in index_names()
    with pytest.raises(TypeError, match="HammingIndex subclass"):
        register(int)  # type: ignore[type-var]


def test_expanded_widens_to_a_kind_that_serves_the_radius() -> None:
    rng = np.random.default_rng(12)
    codes = clustered_list(3_000, 32, 31, rng)
    index = ExpandedIndex(codes, 31, threads=1)
    for radius in (40, 70):  # the near band's radii: the tables hold the list's radius, a new index is built
        wide = index.widened(radius)
        queries = queries_for(codes, radius, rng)
        assert as_list(wide.search(queries)) == reference(codes, queries, radius)


def test_grouped_order_covers_both_ways_of_reading_chunk_values_and_large_batches() -> None:
    rng = np.random.default_rng(23)
    pdq = ExpandedIndex(random_list(500, 32, rng), 31)
    narrow = ExpandedIndex(random_list(500, 32, rng), 31, plan=make_plan(256, 31, 21))  # what KINDS force
    assert pdq._aligned and not narrow._aligned  # 16-bit chunks read as uint16, 12-13-bit ones cut out
    codes = clustered_list(3_000, 32, 31, rng)
    queries = np.concatenate([queries_for(codes, 31, rng), random_list(40_000, 32, rng)])  # > SORTED_FROM
    index = ExpandedIndex(codes, 31, threads=2)
    assert len(queries) // 2 >= index.sorted_from  # each thread's share goes the grouped way
    expected = as_list(ExpandedIndex(codes, 31, threads=1, sorted_from=len(queries) + 1).search(queries))
    assert as_list(index.search(queries)) == expected and len(expected) > 100
