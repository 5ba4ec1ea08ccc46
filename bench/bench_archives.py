"""Archive scanning against the same files unpacked: files/s side by side in one run (issue 15's goal: >= 80%).

Run:  python bench/bench_archives.py [--files 100] [--workers 1,2] [--rounds 3]

It writes ``--files`` distinct 2-megapixel JPEGs made from the benign sample photos into a temporary folder
(outside the repository), packs the same files into one ZIP stored, one ZIP deflated, one tar.gz, and into as
many deflated ZIPs as workers, and scans each tree with ``libra_cli.api.run`` against a small list (the real
MD5 and PDQ of three of the photos, so every run matches). Trees are scanned in turn, round after round, and
the best round of each is kept, so a busy machine slows every tree alike. Files/s counts the photos (members,
for archives); the ratio is against the unpacked tree at the same worker count. Files per CPU-second (this
process, so with ``--workers 1``) is the cost per file, which a machine shared with other work does not blur.
"""

from __future__ import annotations

import argparse
import logging
import resource
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from bench_scan import Null, synthetic_list  # bench/ is on sys.path when run as a script
from bench_throughput import make_jpegs

from libra_cli.api import prepare, run
from libra_cli.findings import make_writer
from libra_cli.settings import ScanSettings
from libra_cli.sinks import FindingsSink

logging.getLogger("libra").setLevel(logging.ERROR)  # the match log lines are not what we measure


def pack(paths: list[Path], root: Path, parts: int, how: str) -> Path:
    """``paths`` packed into ``parts`` archives under a fresh folder of ``root``."""
    folder = root / f"{how}-{parts}"
    folder.mkdir()
    for part in range(parts):
        chunk = paths[part::parts]
        if how == "tar.gz":
            with tarfile.open(folder / f"photos{part}.tar.gz", "w:gz") as archive:
                for path in chunk:
                    archive.add(path, arcname=f"photos/{path.name}")
            continue
        method = zipfile.ZIP_STORED if how == "zip-stored" else zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(folder / f"photos{part}.zip", "w", method) as archive:
            for path in chunk:
                archive.write(path, arcname=f"photos/{path.name}")
    return folder


def cpu() -> float:
    """CPU seconds of this process and of its ended children (the workers end with each run)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def scan(tree: Path, workers: int, hashlist: object) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and photos of one scan of ``tree``."""
    settings = ScanSettings.resolve({"targets": [str(tree)], "workers": workers})
    prepared = prepare(settings, [hashlist])  # type: ignore[list-item]
    start, used = time.perf_counter(), cpu()
    report = run(prepared, [FindingsSink(make_writer("json", Null()))])
    elapsed, used = time.perf_counter() - start, cpu() - used
    photos = report.members or report.files
    assert report.matched >= 3, report
    return elapsed, used, photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="libra-bench-") as tmp:
        root = Path(tmp)
        unpacked = root / "unpacked"
        unpacked.mkdir()
        paths = [Path(ref.uri) for ref in make_jpegs(unpacked, args.files)]
        hashlist = synthetic_list(0, paths[:3], np.random.default_rng(7))
        trees = {"unpacked": unpacked}
        for how in ("zip-stored", "zip-deflated", "tar.gz"):
            trees[f"1 {how}"] = pack(paths, root, 1, how)
        for parts in sorted({c for c in counts if c > 1}):
            trees[f"{parts} zip-deflated"] = pack(paths, root, parts, "zip-deflated")
        size = sum(p.stat().st_size for p in paths) / 2**20
        print(f"{args.files} x 2 MP JPEG ({size:.0f} MiB); best of {args.rounds} rounds, trees in turn")
        for workers in counts:
            best: dict[str, tuple[float, float]] = {}
            for _ in range(args.rounds):
                for name, tree in trees.items():
                    if name[0].isdigit() and int(name.split()[0]) not in (1, workers):
                        continue
                    elapsed, used, photos = scan(tree, workers, hashlist)
                    assert photos == args.files, (name, photos)
                    old = best.get(name, (float("inf"), float("inf")))
                    best[name] = (min(old[0], elapsed), min(old[1], used))
            wall, work = (args.files / t for t in best["unpacked"])
            for name, (elapsed, used) in best.items():
                rate, per_cpu = args.files / elapsed, args.files / used
                line = f"workers {workers}  {name:<16} {rate:6.1f} files/s ({rate / wall:4.0%} of unpacked)"
                if workers == 1:  # the workers of a pool are not this process's children: no CPU figure
                    line += f"  {per_cpu:6.1f} files per CPU-second ({per_cpu / work:4.0%})"
                print(line)


if __name__ == "__main__":
    main()
