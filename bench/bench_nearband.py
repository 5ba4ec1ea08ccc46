"""The near band: how far unrelated pictures sit (why 32..48), and what searching the band costs.

Run:  python bench/bench_nearband.py [--sizes 1000000,10000000] [--scenes 1200]

1. Distances: PDQ of ``--scenes`` generated scenes (``tests/imagegen.py``, every kind) and the sample
   photos, every pair compared: the closest unrelated pairs say where the band must stop. Then edits of
   the sample photos (a logo, a watermark box, a 3 degree rotation) against their originals: what lands in
   the band.
2. Cost, per list size (random PDQ entries, one matching thread, batches of 32 files): files/s of the
   match search (8 hashes per file: PDQ and its dihedral variants, radius 31) and of the near-band search
   (the original hash only, radius 48) on the match index's own tables (``NativeIndex.widened``), side by
   side in one run, with the index memory and build time (the widened index builds nothing).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import imagegen  # type: ignore[import-not-found]  # noqa: E402
import simhost  # type: ignore[import-not-found]  # noqa: E402
from libra_cli.hashers.pdq import pdq_hex  # noqa: E402
from libra_cli.match.index import NativeIndex  # noqa: E402

U8 = npt.NDArray[np.uint8]


def pdq(img: object) -> tuple[U8, int]:
    value, quality = pdq_hex(img)  # type: ignore[arg-type]
    return np.frombuffer(bytes.fromhex(value), np.uint8), quality


def distances(scenes: int) -> None:
    codes = []
    for seed in range(scenes):
        code, quality = pdq(imagegen.scene(10_000 + seed))
        if quality >= 50:
            codes.append(code)
    for name in simhost.sources():
        code, quality = pdq(simhost._source(name))
        if quality >= 50:
            codes.append(code)
    bits = np.unpackbits(np.stack(codes), axis=1).astype(np.int32)
    pairs = bits @ (1 - bits.T)
    pairs = pairs + pairs.T
    upper = pairs[np.triu_indices(len(codes), 1)]
    print(f"unrelated pairs: {len(upper):,} ({len(codes)} pictures at quality >= 50)")
    print(f"  closest {upper.min()} bits, 0.001% quantile {np.percentile(upper, 0.001):.0f}, "
          f"0.1% {np.percentile(upper, 0.1):.0f}, mean {upper.mean():.1f}, sd {upper.std():.1f}; "
          f"within 48: {int((upper <= 48).sum())}, within 64: {int((upper <= 64).sum())}")  # fmt: skip
    edits = {"logo": imagegen.logo, "watermark": imagegen.watermark_box, "rotate 3": imagegen.rotate3}
    for label, edit in edits.items():
        found = []
        for name in simhost.sources():
            source = imagegen.photo(name)
            a, _ = pdq(source)
            b, _ = pdq(edit(source))
            found.append(int(np.unpackbits(a ^ b).sum()))
        print(f"  {label} vs its original: {sorted(found)}")


def rate(index: NativeIndex, per_file: int, rng: np.random.Generator, budget: float) -> float:
    index.search(rng.integers(0, 256, (32 * per_file, 32), dtype=np.uint8))
    batches, started = 0, time.perf_counter()
    while time.perf_counter() - started < budget:
        index.search(rng.integers(0, 256, (32 * per_file, 32), dtype=np.uint8))
        batches += 1
    return 32 * batches / (time.perf_counter() - started)


def cost(n: int, rounds: int, budget: float) -> None:
    rng = np.random.default_rng(n)
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    started = time.perf_counter()
    index = NativeIndex(codes, 31, threads=1)
    built = time.perf_counter() - started
    started = time.perf_counter()
    wide = index.widened(48)
    widened = time.perf_counter() - started
    match, near = [], []
    for _ in range(rounds):  # interleaved: the machine is shared
        match.append(rate(index, 8, rng, budget))
        near.append(rate(wide, 1, rng, budget))
    m, b = float(np.median(match)), float(np.median(near))
    both = 1 / (1 / m + 1 / b)
    print(f"{n:>11,} entries: match index {index.nbytes() / n:.0f} B/entry, built in {built:.1f} s; near band "
          f"+{(wide.nbytes() - index.nbytes()) / 2**20:.2f} MiB, ready in {widened * 1000:.0f} ms | match "
          f"{m:,.0f} files/s, near band {b:,.0f} files/s, both {both:,.0f} files/s ({both / m:.2f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--scenes", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument("--skip-distances", action="store_true")
    args = parser.parse_args()
    if not args.skip_distances:
        distances(args.scenes)
    for n in (int(x) for x in args.sizes.split(",")):
        cost(n, args.rounds, args.budget)


if __name__ == "__main__":
    main()
