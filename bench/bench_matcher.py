"""Benchmark the matcher: build time, index memory and queries per second, per backend and list size.

Run (default sizes take under two minutes on two cores)::

    python bench/bench_matcher.py
    python bench/bench_matcher.py --sizes 10000,1000000 --backends mih,brute --md5 0

Lists are random: PDQ entries and MD5 entries. A PDQ "query" is one file with 8 dihedral PDQ
hashes (what the worker sends for a still); ``match/s`` counts files through ``Matcher.match``,
``batch/s`` counts files through ``match_many`` in batches of 256. Half the PDQ queries carry a
planted neighbour at distance 31, and the benchmark checks every one of them is found.
Memory is the RSS growth while building (faiss keeps its tables outside numpy). By default faiss
stops at 1M entries and brute force at 100k (``--faiss-max``, ``--brute-max``): beyond that they only
add minutes to the run.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import numpy as np

from libra_cli.hashlist.table import Codes, HashColumn, HashList, ListInfo, VarStrings
from libra_cli.match.matcher import Matcher
from libra_cli.models import HashResult, HashValues, Match, MediaRef

REF = MediaRef(uri="/bench", size=0)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def synthetic_list(hash_type: str, values: np.ndarray) -> HashList:
    """A list built straight from arrays: making 5M ``Entry`` objects would time Python, not the matcher."""
    n = len(values)
    none = VarStrings(b"", np.full(n + 1, -1, dtype=np.int64))
    codes = Codes(np.full(n, -1, dtype=np.int32), ())
    column = HashColumn(hash_type, values, np.zeros(n, dtype=np.bool_), none, codes, codes, codes)
    return HashList(ListInfo(name=f"bench-{hash_type}-{n}"), {hash_type: column})


def flip_bits(value: np.ndarray, rng: np.random.Generator, nbits: int) -> np.ndarray:
    bits = np.unpackbits(value)
    bits[rng.choice(len(bits), nbits, replace=False)] ^= 1
    return np.packbits(bits)


def pdq_queries(values: np.ndarray, rng: np.random.Generator, count: int) -> tuple[list[HashResult], int]:
    results, planted = [], 0
    for i in range(count):
        hashes = [rng.integers(0, 256, 32, dtype=np.uint8) for _ in range(8)]
        if i % 2 == 0:
            hashes[3] = flip_bits(values[rng.integers(len(values))], rng, 31)
            planted += 1
        block = np.stack(hashes).astype(np.uint8)
        quality = np.full(len(hashes), 100, dtype=np.uint8)
        perceptual = (HashValues("pdq", block, tuple(f"v{k}" for k in range(len(hashes))), quality),)
        results.append(HashResult(ref=REF, media_type="image/jpeg", perceptual=perceptual))
    return results, planted


def timed_rate(
    fn: Callable[[list[HashResult]], list[list[Match]]], results: list[HashResult], budget: float, batch: int
) -> tuple[float, int]:
    """Files per second over at most ``budget`` seconds; also the number of files that matched."""
    done = found = 0
    start = time.perf_counter()
    while done < len(results) and time.perf_counter() - start < budget:
        chunk = results[done : done + batch]
        out = fn(chunk)
        found += sum(1 for m in out if m)
        done += len(chunk)
    return done / (time.perf_counter() - start), found


def bench_pdq(
    n: int, backends: list[str], budget: float, rng: np.random.Generator, faiss_max: int, brute_max: int
) -> None:
    values = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    hash_list = synthetic_list("pdq", values)
    results, _ = pdq_queries(values, rng, 2000)
    planted = pdq_queries(values, rng, 100)[0][::2]  # every other query carries a neighbour at 31
    for backend in backends:
        limit = {"faiss": faiss_max, "brute": brute_max}.get(backend)
        if limit is not None and n > limit:
            print(f"{n:>9,} pdq  {backend:<6} skipped (over --{backend}-max {limit:,})")
            continue
        gc.collect()
        before = rss_mb()
        t0 = time.perf_counter()
        matcher = Matcher.build([hash_list], backend=backend)
        build = time.perf_counter() - t0
        grown = rss_mb() - before
        single, _ = timed_rate(one_by_one(matcher), results, budget, 1)
        batch = max(1, min(256, int(single * budget / 4)))  # slow backends must not overrun the budget
        batched, _ = timed_rate(matcher.match_many, results, budget, batch)
        missed = sum(1 for m in matcher.match_many(planted) if not m)
        print(
            f"{n:>9,} pdq  {backend:<6} build {build:6.2f}s  mem {grown:7.0f} MB "
            f"({grown * 1e6 / n:5.0f} B/entry)  match {single:8.0f} files/s  batch {batched:8.0f} files/s  "
            f"planted@31 missed {missed}/{len(planted)}"
        )
        del matcher


def one_by_one(matcher: Matcher) -> Callable[[list[HashResult]], list[list[Match]]]:
    return lambda chunk: [matcher.match(r) for r in chunk]


def bench_md5(n: int, budget: float, rng: np.random.Generator) -> None:
    values = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    hash_list = synthetic_list("md5", values)
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    matcher = Matcher.build([hash_list])
    build = time.perf_counter() - t0
    grown = rss_mb() - before
    results = [
        HashResult(
            ref=REF,
            media_type=None,
            digests={"md5": (values[i] if i % 2 else rng.integers(0, 256, 16, dtype=np.uint8)).tobytes()},
        )
        for i in range(20000)
    ]
    single, found = timed_rate(one_by_one(matcher), results, budget, 1)
    batched, _ = timed_rate(matcher.match_many, results, budget, 256)
    print(
        f"{n:>9,} md5  exact  build {build:6.2f}s  mem {grown:7.0f} MB ({grown * 1e6 / n:5.0f} B/entry)  "
        f"match {single:8.0f} files/s  batch {batched:8.0f} files/s  hits {found}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,5000000", help="PDQ list sizes, comma-separated")
    parser.add_argument("--backends", default="native,mih,brute", help="perceptual backends to compare")
    parser.add_argument("--md5", type=int, default=5_000_000, help="MD5 list size (0 to skip)")
    parser.add_argument("--faiss-max", type=int, default=1_000_000, help="largest list for faiss")
    parser.add_argument("--brute-max", type=int, default=100_000, help="largest list for brute force")
    parser.add_argument("--budget", type=float, default=1.5, help="seconds of queries per measurement")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    for n in (int(s) for s in args.sizes.split(",") if s):
        bench_pdq(n, args.backends.split(","), args.budget, rng, args.faiss_max, args.brute_max)
    if args.md5:
        bench_md5(args.md5, args.budget, rng)


if __name__ == "__main__":
    main()
