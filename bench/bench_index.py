"""Benchmark the Hamming indexes (``libra_cli.match.index``) against the matcher's current perceptual index.

Run from the repository root (the default takes about 25 minutes and 6 GB of RAM on 2 cores):

    python bench/bench_index.py                               # 100, 1M, 5M, 10M PDQ entries, random + clustered
    python bench/bench_index.py --sizes 100,1000000 --shapes random --rounds 2
    python bench/bench_index.py --sweep --sizes 1000000,10000000 --shapes random   # the design choices
    python bench/bench_index.py --startup                     # numba compile: cold and warm process start
    python bench/bench_index.py --grouped                     # expanded: plain vs grouped order, large batches

For each list size and shape (``random``: uniform PDQ codes; ``clustered``: 36 variants per image within
0-32 bits, 10% exact duplicates, 0.5% of entries in one flat-image cluster, as ``libra hash --robust``
lists look) it builds every index and prints, side by side:

- build time and index memory per entry (the caller's codes, 32 B per PDQ entry, not counted; ``old``
  copies them, so its figure includes them);
- images/s on 1 core and on 2 cores for three workloads, each looked up in batches of 32 files as the
  scan does: ``image`` (8 hashes: PDQ and its 7 dihedral variants), ``+regions`` (8 + 32 region hashes)
  and ``video`` (120 frame hashes per file; the figure is videos/s);
- each figure as a ratio to ``old``, the index libra used before (``bench/legacy_index.py``).

Kinds: ``old``, ``brute`` (skipped above --brute-max), ``mih`` (numpy), ``native`` (numba); above
--old-max entries ``old`` runs the image workload only (a 32-video batch would take it minutes). ``x2``
(2 cores) splits each batch over two threads (``NativeIndex(threads=2)``; plain Python threads for the
numpy kinds). Measurements are interleaved (round-robin, --rounds times, median kept) because the
machine is shared; the ``per CPU-s`` columns count files per CPU-second of the calling thread (1 core
only), steadier under load than wall time. Half of the files carry a planted neighbour (31 bits away
for random lists, ~8 bits for clustered ones, where one that lands in the flat cluster has thousands
of true matches); the run checks that every kind finds all of them and returns the same pairs.

``--sweep`` compares, on the native kernel, the alternatives behind the design: Norouzi's chunk count
(``m = bits / log2 n``, plain MIH), 16-bit chunks without filter words (the current index's layout),
with one and with two filter chunks (the default), prefetch distances, and 1 vs 2 threads.
``--startup`` measures numba's compile (empty cache) and cache load in fresh processes.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from legacy_index import PerceptualIndex as _PerceptualIndex  # bench/ is on sys.path when run as a script

from libra_cli.hashlist.table import Codes, HashColumn, VarStrings
from libra_cli.match.index import (
    BruteIndex,
    HammingIndex,
    MihIndex,
    NativeIndex,
    default_threads,
    make_plan,
    plan_chunks,
)

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
RADIUS = 31
FILES_PER_BATCH = 32
WORKLOADS = {"image": 8, "+regions": 40, "video": 120}  # query hashes per file


# -- lists and queries ------------------------------------------------------------------------------------


def sparse_masks(rng: np.random.Generator, rows: int, levels: npt.NDArray[np.int64]) -> U64:
    """``(rows, 4)`` uint64 masks whose bits are set with probability ``2**-level`` (level 0: no bits)."""
    out = np.zeros((rows, 4), dtype=np.uint64)
    acc = np.full((rows, 4), np.uint64(2**64 - 1), dtype=np.uint64)
    for level in range(1, int(levels.max(initial=0)) + 1):
        acc &= rng.integers(0, 2**64, (rows, 4), dtype=np.uint64)
        out[levels == level] = acc[levels == level]
    return out


def random_codes(n: int, rng: np.random.Generator) -> U8:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def clustered_codes(n: int, rng: np.random.Generator) -> U8:
    """36 variants per image, variants adjacent (as a --robust list is written), 0.5% in one flat cluster."""
    images = rng.integers(0, 2**64, (max(1, n // 36), 4), dtype=np.uint64)
    out = np.empty((n, 4), dtype=np.uint64)
    step = 1 << 20
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        owner = (np.arange(lo, hi) // 36) % len(images)
        # bits flipped ~ 256 / 2**level: 0 (duplicate), ~4, ~8, ~16, ~32
        levels = rng.choice(np.array([0, 6, 5, 4, 3]), hi - lo, p=[0.1, 0.3, 0.3, 0.2, 0.1])
        out[lo:hi] = images[owner] ^ sparse_masks(rng, hi - lo, levels)
        flat = rng.random(hi - lo) < 0.005
        out[lo:hi][flat] = images[0] ^ sparse_masks(rng, int(flat.sum()), np.full(int(flat.sum()), 6))
    return out.view(np.uint8).reshape(n, 32)


def flip_bits(code: U8, count: int, rng: np.random.Generator) -> U8:
    bits = np.unpackbits(code)
    bits[rng.choice(256, count, replace=False)] ^= 1
    return np.packbits(bits)


def query_batches(codes: U8, shape: str, per_file: int, batches: int, rng: np.random.Generator) -> list[U8]:
    """Batches of ``FILES_PER_BATCH`` files x ``per_file`` hashes; every other file has a planted neighbour."""
    out = []
    for _ in range(batches):
        hashes = random_codes(FILES_PER_BATCH * per_file, rng)
        for f in range(0, FILES_PER_BATCH, 2):
            entry = codes[rng.integers(len(codes))]
            if shape == "random":
                planted = flip_bits(entry, RADIUS, rng)
            else:
                planted = entry ^ sparse_masks(rng, 1, np.array([5])).view(np.uint8).reshape(32)
            hashes[f * per_file + per_file // 2] = planted
        out.append(hashes)
    return out


def planted_found(found: tuple[npt.NDArray[np.int64], ...], per_file: int) -> tuple[int, int]:
    """(planted neighbours found, planted) in one batch: the planted hash of file f is f * per_file + per_file // 2."""
    planted = {f * per_file + per_file // 2 for f in range(0, FILES_PER_BATCH, 2)}
    return len(planted & set(found[0].tolist())), len(planted)


# -- the indexes under test -------------------------------------------------------------------------------


class OldIndex(HammingIndex):
    """``matcher._PerceptualIndex`` (backend auto) behind the new interface, for side-by-side runs."""

    name: ClassVar[str] = "old"

    def __init__(self, codes: U8, radius: int) -> None:
        super().__init__(codes, radius)
        n = len(codes)
        none = VarStrings(b"", np.full(n + 1, -1, dtype=np.int64))
        empty = Codes(np.full(n, -1, dtype=np.int32), ())
        column = HashColumn("pdq", codes, np.zeros(n, dtype=np.bool_), none, empty, empty, empty)
        self.inner = _PerceptualIndex([(0, column)], 8 * codes.shape[1], {"pdq": radius}, "auto")

    @classmethod
    def preference(cls, n: int, bits: int, radius: int) -> float | None:
        return None

    def _search(self, queries: U8) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        qi, gid, dist = self.inner.search(queries)
        return qi, gid, dist

    def nbytes(self) -> int:
        return int(self.inner.nbytes())


@dataclass
class Runner:
    """One index at one thread count: how to search a batch, and its measured rates."""

    label: str
    index: HammingIndex
    threads: int
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def search(self, batch: U8) -> tuple[npt.NDArray[np.int64], ...]:
        if isinstance(self.index, NativeIndex):
            self.index.threads = self.threads
            return self.index.search(batch)
        if self.threads == 1:
            return self.index.search(batch)
        half = len(batch) // 2
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(self.index.search, [batch[:half], batch[half:]])
        qi = np.concatenate([a[0], b[0] + half])
        return qi, np.concatenate([a[1], b[1]]), np.concatenate([a[2], b[2]])


def timed(runner: Runner, workload: str, batches: list[U8], budget: float) -> None:
    """Files per second (wall, and per CPU-second of this thread) over at most ``budget`` seconds."""
    files = 0
    start, cpu = time.perf_counter(), time.thread_time()
    for batch in cycle(batches):
        runner.search(batch)
        files += FILES_PER_BATCH
        if time.perf_counter() - start > budget:
            break
    runner.wall.setdefault(workload, []).append(files / (time.perf_counter() - start))
    runner.cpu.setdefault(workload, []).append(files / max(time.thread_time() - cpu, 1e-9))


def cycle(items: list[U8]) -> Iterator[U8]:
    while True:
        yield from items


def build(make: Callable[[], HammingIndex]) -> tuple[HammingIndex, float]:
    gc.collect()
    start = time.perf_counter()
    index = make()
    return index, time.perf_counter() - start


def bench_list(n: int, shape: str, args: argparse.Namespace, rng: np.random.Generator) -> None:
    codes = random_codes(n, rng) if shape == "random" else clustered_codes(n, rng)
    batches = {w: query_batches(codes, shape, per, 4, rng) for w, per in WORKLOADS.items()}
    kinds = args.kinds.split(",")
    built: dict[str, tuple[HammingIndex, float]] = {}
    built["old"] = build(lambda: OldIndex(codes, RADIUS))  # always: the reference of every ratio
    if "brute" in kinds and n <= args.brute_max:
        built["brute"] = build(lambda: BruteIndex(codes, RADIUS))
    if "mih" in kinds:
        built["mih"] = build(lambda: MihIndex(codes, RADIUS))
    two = math.nan
    if "native" in kinds:
        two = build(lambda: NativeIndex(codes, RADIUS, threads=2))[1]
        built["native"] = build(lambda: NativeIndex(codes, RADIUS, threads=1))
    runners = [Runner(f"{k} x{t}", idx, t) for k, (idx, _) in built.items() for t in (1, 2)]
    slow = ("old", "brute") if n > args.old_max else ()
    agree = check(runners, batches, slow)
    for _ in range(args.rounds):
        for workload, wb in batches.items():
            for runner in runners:
                if runner.label.startswith(slow) and workload != "image":
                    continue
                timed(runner, workload, wb, args.budget)
    base = runners[0]
    print(f"\n{shape} list, {n:,} PDQ entries (radius {RADIUS}); all kinds agree: {agree}")
    head = "  ".join(f"{w + ' /s':>17}" for w in WORKLOADS)
    print(f"{'index':<10} {'build s':>8} {'B/entry':>8}  wall: {head}  1 core, per CPU-s: {head}")
    for runner in runners:
        index, seconds = built[runner.label.split()[0]]
        if runner.label == "native x2":
            seconds = two
        own = index.nbytes() - (0 if isinstance(index, OldIndex) else codes.nbytes)
        cells = [_cell(_median(runner.wall, w), _median(base.wall, w)) for w in WORKLOADS]
        cpu = [_cell(_median(runner.cpu, w), _median(base.cpu, w)) for w in WORKLOADS]
        if runner.threads != 1:
            cpu = [f"{'-':>17}"] * len(WORKLOADS)
        print(f"{runner.label:<10} {seconds:>8.2f} {own / n:>8.1f}  {'  '.join(cells)}  {'  '.join(cpu)}")
    print(f"(video column: videos/s, 120 frame hashes each; peak RSS so far {peak_rss_gb():.1f} GB)")
    del built, runners


def _median(rates: dict[str, list[float]], workload: str) -> float:
    return statistics.median(rates[workload]) if workload in rates else math.nan


def _cell(rate: float, ref: float) -> str:
    """A rate and its ratio to ``old`` (``-`` where either was not measured)."""
    if rate != rate:
        return f"{'-':>17}"
    ratio = f"({rate / ref:>5.1f}x)" if ref == ref else f"{'':8}"
    return f"{rate:>8,.0f} {ratio}"


def check(runners: list[Runner], batches: dict[str, list[U8]], slow: tuple[str, ...]) -> str:
    """Every kind finds every planted neighbour and all return the same pairs on one batch of each workload
    (the ``slow`` kinds on the image workload only)."""
    for workload, wb in batches.items():
        answers = []
        for runner in runners:
            if workload != "image" and runner.label.startswith(slow):
                continue
            found = runner.search(wb[0])
            got, planted = planted_found(found, WORKLOADS[workload])
            if got != planted:
                return f"NO: {runner.label} found {got}/{planted} planted neighbours ({workload})"
            answers.append(sorted(zip(*(a.tolist() for a in found), strict=True)))
        if any(a != answers[0] for a in answers):
            return f"NO: kinds disagree on {workload}"
    return "yes"


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


# -- design sweep -----------------------------------------------------------------------------------------


def sweep(n: int, args: argparse.Namespace, rng: np.random.Generator) -> None:
    codes = random_codes(n, rng)
    batches = query_batches(codes, "random", 8, 4, rng)
    norouzi = max(1, round(256 / math.log2(n)))
    plans = {
        f"Norouzi m={norouzi}, no filter": make_plan(256, RADIUS, norouzi, depth=1),
        "16 x 16 bits, no filter": make_plan(256, RADIUS, 16, depth=1),
        "16 x 16, 1 filter chunk": make_plan(256, RADIUS, 16, depth=2),
        "16 x 16, 2 filter chunks": make_plan(256, RADIUS, 16, depth=3),
        "auto": plan_chunks(n, 256, RADIUS),
    }
    runners: list[tuple[str, Runner]] = []
    for label, plan in plans.items():
        index, seconds = build(lambda plan=plan: NativeIndex(codes, RADIUS, threads=1, plan=plan))  # type: ignore[misc]
        note = f"{plan.probes():>5} probes {plan.expected_candidates(n):>7,.0f} cands build {seconds:5.1f}s"
        runners.append(
            (f"{label:<28} {note} {(index.nbytes() - codes.nbytes) / n:5.0f} B/entry", Runner(label, index, 1))
        )
    default = runners[-2][1].index
    for ahead in (0, 2, 16):
        clone = NativeIndex.__new__(NativeIndex)
        clone.__dict__.update(default.__dict__)
        clone.ahead = ahead
        runners.append((f"{'16 x 16, 2 filters, prefetch ' + str(ahead):<28}", Runner("p", clone, 1)))
    runners.append((f"{'16 x 16, 2 filters, 2 threads':<28}", Runner("t", default, 2)))
    for _ in range(args.rounds):
        for _, runner in runners:
            if isinstance(runner.index, NativeIndex):
                runner.index.threads = runner.threads
            timed(runner, "image", batches, args.budget)
    ref = statistics.median(runners[3][1].wall["image"])
    print(f"\nsweep: {n:,} random PDQ entries, native kernel, images/s (8 hashes), ratio to the default")
    for label, runner in runners:
        rate = statistics.median(runner.wall["image"])
        cpu = statistics.median(runner.cpu["image"]) if runner.threads == 1 else math.nan
        print(f"  {label}  {rate:>7,.0f} img/s ({rate / ref:4.2f}x)  cpu {cpu:>7,.0f} img/s")


# -- start-up cost ----------------------------------------------------------------------------------------

_CHILD = """
import json, time
t0 = time.perf_counter()
import numpy as np
from libra_cli.match.index import NativeIndex
t1 = time.perf_counter()
codes = np.random.default_rng(0).integers(0, 256, (50_000, 32), dtype=np.uint8)
t = time.perf_counter(); index = NativeIndex(codes, 31, threads=1); t2 = time.perf_counter() - t
t = time.perf_counter(); index.search(codes[:256]); t3 = time.perf_counter() - t
index.threads = 2
t = time.perf_counter(); index.search(codes[:256]); t4 = time.perf_counter() - t
print(json.dumps({"import": t1 - t0, "build": t2, "search 1 thread": t3, "search 2 threads": t4}))
"""


def startup() -> None:
    """numba's compile cost in a fresh process: with an empty cache (cold), then with the cache (warm)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold (compiles, fills the cache)", "warm (loads the cache)"):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
            total = time.perf_counter() - start
            parts = json.loads(out.stdout)
            detail = ", ".join(f"{k} {v:.2f}s" for k, v in parts.items())
            print(f"{label:<34} process {total:5.2f}s: {detail}")
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cache) for f in fs)
        print(
            f"cache: {size / 1e6:.1f} MB of compiled code ({len([f for _, _, fs in os.walk(cache) for f in fs])} files)"
        )


def grouped(args: argparse.Namespace, rng: np.random.Generator) -> None:
    """The ``expanded`` kind on a rematch's large batches: its plain order against the grouped one
    (``expanded_search_sorted``), one thread, per query row (CPU time of the calling thread), interleaved."""
    from libra_cli.match.index.expanded import ExpandedIndex

    queries = rng.integers(0, 256, (args.queries, 32), dtype=np.uint8)
    print(f"expanded, {args.queries:,} random PDQ query rows in one batch, 1 thread, µs per query row "
          f"(median of {args.rounds}):")  # fmt: skip
    for n in (int(s) for s in args.sizes.split(",") if s):
        codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        codes[: n // 10] = queries[: n // 10]
        codes[: n // 10, :8] ^= np.uint8(1)  # some pairs within the radius (8 bits off)
        kinds = {"plain": ExpandedIndex(codes, 31, threads=1, sorted_from=args.queries + 1),
                 "grouped": ExpandedIndex(codes, 31, threads=1, sorted_from=1)}  # fmt: skip
        times: dict[str, list[float]] = {k: [] for k in kinds}
        found = {}
        for index in kinds.values():
            index.search(queries[:64])  # numba's load or compile, outside the timings
        for _ in range(args.rounds):
            for name, index in kinds.items():
                start = time.thread_time()
                found[name] = index.search(queries)
                times[name].append((time.thread_time() - start) / len(queries) * 1e6)
        assert all(np.array_equal(a, b) for a, b in zip(found["plain"], found["grouped"], strict=True))
        plain, group = (statistics.median(times[k]) for k in kinds)
        print(f"  {n:>9,} entries   plain {plain:6.3f}   grouped {group:6.3f}   {plain / group:4.1f}x   "
              f"({len(found['plain'][0]):,} pairs, the same)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000000,5000000,10000000", help="PDQ list sizes, comma-separated")
    parser.add_argument("--shapes", default="random,clustered", help="random and/or clustered")
    parser.add_argument("--kinds", default="brute,mih,native", help="kinds besides old, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurements per figure (median kept)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--brute-max", type=int, default=100_000, help="largest list for brute force")
    parser.add_argument("--old-max", type=int, default=1_000_000, help="largest list for old's region/video runs")
    parser.add_argument("--sweep", action="store_true", help="compare design alternatives instead")
    parser.add_argument("--startup", action="store_true", help="measure numba's cold and warm start only")
    parser.add_argument("--grouped", action="store_true", help="expanded: plain vs grouped order (--sizes: small)")
    parser.add_argument("--queries", type=int, default=1_000_000, help="--grouped: query rows in the batch")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; native index default threads: {default_threads()}")
    if args.startup:
        startup()
        return
    rng = np.random.default_rng(1)
    if args.grouped:
        grouped(args, rng)
        return
    for n in (int(s) for s in args.sizes.split(",") if s):
        if args.sweep:
            sweep(n, args, rng)
            continue
        for shape in args.shapes.split(","):
            bench_list(n, shape, args, rng)


if __name__ == "__main__":
    main()
