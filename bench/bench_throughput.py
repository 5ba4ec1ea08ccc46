"""Throughput of the worker function on 2-megapixel JPEGs, against a plain Image.open + imagehash.phash loop.

Run:  python bench/bench_throughput.py [--files 60] [--rounds 3]

It upscales the sample photos in tests/data/photos/ to 1632x1224 (2.0 MP) JPEGs, writes them to a
temporary directory (the worker reads real files; nothing is ever written under src/ or the
repository), and prints files/s for

* baseline:  ``imagehash.phash(Image.open(path))`` per file, in one process;
* hash_ref:  ``libra_cli.pipeline.hash_ref`` with the default ``HashConfig`` (md5, sha256,
  PDQ + 7 dihedral variants, pHash, dHash), in one process;
* 2 workers: the same over a two-process ``multiprocessing`` pool.

Goals (issue 3): hash_ref >= 3x baseline; 2 workers >= 1.7x one. Each figure is the best of
``--rounds`` runs, because other processes on a shared machine make single runs noisy.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
from PIL import Image

from libra_cli.hashing import hash_ref
from libra_cli.models import HashConfig, MediaRef

PHOTOS = Path(__file__).resolve().parent.parent / "tests" / "data" / "photos"
SIZE = (1632, 1224)


def make_jpegs(directory: Path, count: int) -> list[MediaRef]:
    """``count`` distinct 2 MP JPEGs made from the sample photos (flips/crops vary them)."""
    photos = sorted(PHOTOS.glob("*.jpg"))
    refs = []
    for i in range(count):
        img = Image.open(photos[i % len(photos)]).convert("RGB")
        shift = i // len(photos)
        w, h = img.size
        img = img.crop((shift * w // 50, 0, w, h))
        if shift % 2:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        buffer = io.BytesIO()
        img.resize(SIZE, Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=90)
        path = directory / f"photo{i:03d}.jpg"
        path.write_bytes(buffer.getvalue())
        refs.append(MediaRef(str(path), len(buffer.getvalue())))
    return refs


def baseline(refs: list[MediaRef]) -> None:
    for ref in refs:
        imagehash.phash(Image.open(ref.uri))


def one_process(refs: list[MediaRef]) -> None:
    config = HashConfig()
    for ref in refs:
        result = hash_ref(ref, config)
        assert result.error is None, result.error


def pool_rate(workers: int, refs: list[MediaRef], rounds: int) -> float:
    """files/s of a warm ``workers``-process pool (start-up is a one-off per scan, not per file)."""
    config = HashConfig()
    jobs = [(ref, config) for ref in refs]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.starmap(hash_ref, jobs[: workers * 2], chunksize=1)  # import everything in every worker
        return best_rate(lambda _: pool.starmap(hash_ref, jobs, chunksize=4), refs, rounds)


def best_rate(run: Callable[[list[MediaRef]], object], refs: list[MediaRef], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        run(refs)
        best = max(best, len(refs) / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="libra-bench-") as tmp:
        refs = make_jpegs(Path(tmp), args.files)
        one_process(refs[:2])  # warm imports and caches
        base = single = 0.0
        for _ in range(args.rounds):  # interleaved, so both see the same background load
            base = max(base, best_rate(baseline, refs, 1))
            single = max(single, best_rate(one_process, refs, 1))
        one_pool = pool_rate(1, refs, args.rounds)
        two_pool = pool_rate(2, refs, args.rounds)
    print(f"cpus: {os.cpu_count()}  files: {len(refs)} x 2 MP JPEG")
    print(f"{'baseline Image.open + phash':34s} {base:8.1f} files/s")
    print(f"{'hash_ref, 1 process':34s} {single:8.1f} files/s   {single / base:5.2f}x baseline (goal >= 3)")
    print(f"{'pool, 1 worker':34s} {one_pool:8.1f} files/s")
    print(f"{'pool, 2 workers':34s} {two_pool:8.1f} files/s   {two_pool / one_pool:5.2f}x one worker (goal >= 1.7)")


if __name__ == "__main__":
    main()
