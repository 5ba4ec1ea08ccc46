"""Throughput of the worker function on 2-megapixel JPEGs, against a plain Image.open + imagehash.phash loop.

Run:  python bench/bench_throughput.py [--files 60] [--rounds 3]

It upscales the sample photos in tests/data/photos/ to 1632x1224 (2.0 MP) JPEGs, writes them to a
temporary directory (the worker reads real files; nothing is ever written under src/ or the
repository), and prints files/s for

* baseline:  ``imagehash.phash(Image.open(path))`` per file, in one process;
* hash_ref:  ``libra_cli.hashing.hash_ref`` with the default ``HashConfig`` (md5, sha256,
  PDQ + 7 dihedral variants, trimmed borders), in one process; and with ``deep=True``;
* 2 workers: the same over a two-process ``multiprocessing`` pool (wall clock: it needs idle cores).

Goals (issue 8): hash_ref >= 3x baseline per CPU-second; 2 workers >= 1.8x one. Each figure is the
best of ``--rounds`` runs, interleaved, because other processes on a shared machine make single runs
noisy; the in-process figures are files per CPU-second of this process.

``--against OTHER/src`` compares two versions of libra on the same files: ``hash_ref`` of this tree
and of the other one (a ``git worktree`` of main, say) run in one process each, round after round
in turn, and the best round of each is reported in files per CPU-second, with their ratio. CPU time,
not wall time: a shared machine slows both sides' wall clocks unevenly.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
from PIL import Image

from libra_cli.hashing import hash_ref
from libra_cli.media.image import decode
from libra_cli.models import HashConfig, MediaRef

PHOTOS = Path(__file__).resolve().parent.parent / "tests" / "data" / "photos"
SIZE = (1632, 1224)


def make_jpegs(directory: Path, count: int) -> list[MediaRef]:
    """``count`` distinct 2 MP JPEGs made from the sample photos (flips/crops vary them)."""
    photos = sorted(PHOTOS.glob("*.jpg"))
    refs = []
    for i in range(count):
        img = Image.open(photos[i % len(photos)]).convert("RGB")
        shift = (i // len(photos)) % 40  # at most 80% cut from the left, however many are asked for
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


def decode_only(refs: list[MediaRef]) -> None:
    """The floor under any hash set: read and decode to grey at the scan's scale, nothing else."""
    for ref in refs:
        with open(ref.uri, "rb") as handle:
            decode(handle.read(), max_pixels=64_000_000, media_type="image/jpeg")


def one_process(refs: list[MediaRef], config: HashConfig | None = None) -> None:
    config = config or HashConfig()
    for ref in refs:
        result = hash_ref(ref, config)
        assert result.error is None, result.error


def cpu_rate(run: Callable[[list[MediaRef]], object], refs: list[MediaRef]) -> float:
    """files per CPU-second of this process (other processes on a shared machine do not count)."""
    start = time.process_time()
    run(refs)
    return len(refs) / (time.process_time() - start)


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


# One side of --against: reads the file list, then times one pass of hash_ref per line it is sent.
_SIDE = """
import json, sys, time
from libra_cli.models import HashConfig, MediaRef
try:
    from libra_cli.hashing import hash_ref
except ImportError:  # versions before the staged pipeline
    from libra_cli.pipeline import hash_ref
refs = [MediaRef(uri, size) for uri, size in json.loads(sys.stdin.readline())]
config = HashConfig()
def run():
    for ref in refs:
        assert hash_ref(ref, config).error is None
run()
print("ready", flush=True)
for _ in sys.stdin:
    start = time.process_time()
    run()
    print(time.process_time() - start, flush=True)
"""


def compare(refs: list[MediaRef], other_src: str, rounds: int) -> None:
    """Files per CPU-second of hash_ref in this tree and in ``other_src``, interleaved round by round."""
    here = str(Path(__file__).resolve().parent.parent / "src")
    sides = {}
    for label, src in (("this tree", here), ("--against", str(Path(other_src).resolve()))):
        env = dict(os.environ, PYTHONPATH=src)
        side = subprocess.Popen(
            [sys.executable, "-c", _SIDE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        assert side.stdin is not None and side.stdout is not None
        side.stdin.write(json.dumps([(ref.uri, ref.size) for ref in refs]) + "\n")
        side.stdin.flush()
        if side.stdout.readline().strip() != "ready":
            raise SystemExit(f"libra under {src} did not start")
        sides[label] = side
    best = dict.fromkeys(sides, float("inf"))
    for _ in range(rounds):
        for label, side in sides.items():
            assert side.stdin is not None and side.stdout is not None
            side.stdin.write("go\n")
            side.stdin.flush()
            best[label] = min(best[label], float(side.stdout.readline()))
    for side in sides.values():
        assert side.stdin is not None
        side.stdin.close()
        side.wait()
    rate = {label: len(refs) / seconds for label, seconds in best.items()}
    for label, value in rate.items():
        print(f"{'hash_ref, ' + label:34s} {value:8.1f} files per CPU-second")
    print(f"{'this tree / --against':34s} {rate['this tree'] / rate['--against']:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", metavar="SRC", help="another libra's src/ folder: compare hash_ref CPU time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="libra-bench-") as tmp:
        refs = make_jpegs(Path(tmp), args.files)
        if args.against:
            print(f"cpus: {os.cpu_count()}  files: {len(refs)} x 2 MP JPEG  rounds: {args.rounds}, interleaved")
            compare(refs, args.against, args.rounds)
            return
        deep = HashConfig(deep=True)
        one_process(refs[:2])  # warm imports and caches
        one_process(refs[:2], deep)
        base = single = deeper = floor = 0.0
        for _ in range(args.rounds):  # interleaved, so all see the same background load
            base = max(base, cpu_rate(baseline, refs))
            floor = max(floor, cpu_rate(decode_only, refs))
            single = max(single, cpu_rate(one_process, refs))
            deeper = max(deeper, cpu_rate(lambda r: one_process(r, deep), refs))
        one_pool = pool_rate(1, refs, args.rounds)
        two_pool = pool_rate(2, refs, args.rounds)
    print(f"cpus: {os.cpu_count()}  files: {len(refs)} x 2 MP JPEG  (in-process rates per CPU-second)")
    print(f"{'baseline Image.open + phash':34s} {base:8.1f} files/s")
    print(f"{'read + decode only (the floor)':34s} {floor:8.1f} files/s   {floor / base:5.2f}x baseline")
    print(f"{'hash_ref, 1 process':34s} {single:8.1f} files/s   {single / base:5.2f}x baseline (goal >= 3)")
    print(f"{'hash_ref --deep, 1 process':34s} {deeper:8.1f} files/s   {deeper / single:5.2f}x the default")
    print(f"{'pool, 1 worker':34s} {one_pool:8.1f} files/s")
    print(f"{'pool, 2 workers':34s} {two_pool:8.1f} files/s   {two_pool / one_pool:5.2f}x one worker (goal >= 1.7)")


if __name__ == "__main__":
    main()
