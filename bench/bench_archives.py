"""Archive scanning against the same files unpacked: files/s side by side in one run (issue 15's goal: >= 80%).

Run:  python bench/bench_archives.py [--files 100] [--workers 1,2] [--rounds 3] [--formats ...] [--before DIR]

It writes ``--files`` distinct 2-megapixel JPEGs made from the benign sample photos into a temporary folder
(outside the repository), packs the same files into one archive per format (ZIP stored, ZIP deflated, TAR,
tar.gz, tar.bz2, tar.xz), and, for each worker count above one, into as many deflated ZIPs as workers, and
scans each tree with ``libra_cli.api.run`` against a small list (the real MD5 and PDQ of three of the photos,
so every run matches). Trees are scanned in turn, round after round, and the median round of each is kept,
so a busy machine slows every tree alike. Files/s counts the photos (members, for archives); the ratio is
against the unpacked tree at the same worker count. Files per CPU-second (with ``--workers 1``: the scan's
own process) is the cost per file, which a machine shared with other work blurs less.

``--before DIR``: each round runs in two child processes, one importing ``DIR`` (a ``src`` folder of another
version, e.g. ``git archive HEAD~3 src | tar -x -C /tmp/before``) and one this checkout's ``src``, each
scanning every tree once after an untimed warm-up scan; each line shows both and after/before.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

#: Every format the bench can pack; bzip2 and xz inflate slowly (see docs/performance.md), so they are
#: in the default set but cost most of the run's time.
FORMATS = ("zip-stored", "zip-deflated", "tar", "tar.gz", "tar.bz2", "tar.xz")
HERE = Path(__file__).resolve().parent


def pack(paths: list[Path], root: Path, parts: int, how: str) -> Path:
    """``paths`` packed into ``parts`` archives under a fresh folder of ``root``."""
    folder = root / f"{how}-{parts}"
    folder.mkdir()
    for part in range(parts):
        chunk = paths[part::parts]
        if how.startswith("tar"):
            mode, extra = {"tar": ("w", {}), "tar.gz": ("w:gz", {}), "tar.bz2": ("w:bz2", {}),
                           "tar.xz": ("w:xz", {"preset": 1})}[how]  # fmt: skip
            with tarfile.open(folder / f"photos{part}.{how}", mode, **extra) as archive:  # type: ignore[call-overload]
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


def scan_here(tree: Path, workers: int, planted: list[Path]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and photos of one scan of ``tree`` with the ``libra_cli`` imported here."""
    import numpy as np
    from bench_scan import Null, synthetic_list  # bench/ is on sys.path when run as a script

    from libra_cli.api import prepare, run
    from libra_cli.findings import make_writer
    from libra_cli.settings import ScanSettings
    from libra_cli.sinks import FindingsSink

    logging.getLogger("libra").setLevel(logging.ERROR)  # the match log lines are not what we measure
    hashlist = synthetic_list(0, planted, np.random.default_rng(7))
    settings = ScanSettings.resolve({"targets": [str(tree)], "workers": workers})
    prepared = prepare(settings, [hashlist])
    start, used = time.perf_counter(), cpu()
    report = run(prepared, [FindingsSink(make_writer("json", Null()))])
    elapsed, used = time.perf_counter() - start, cpu() - used
    photos = report.members or report.files
    assert report.matched >= 3, report
    return elapsed, used, photos


def scans(trees: list[Path], workers: int, planted: list[Path], src: str | None) -> list[tuple[float, float, int]]:
    """One scan of each tree, in this process (``src`` ``None``) or in a child importing ``libra_cli`` from
    ``src``, which first scans the first tree once untimed (its forkserver and workers' imports warm, as in
    this process after the first round)."""
    if src is None:
        return [scan_here(tree, workers, planted) for tree in trees]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(HERE)])}
    command = [sys.executable, str(HERE / "bench_archives.py"), "--one", ",".join(map(str, trees)),
               "--workers", str(workers), "--planted", ",".join(map(str, planted))]  # fmt: skip
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return [(float(t), float(c), int(n)) for t, c, n in json.loads(out.strip().splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--before", help="a src folder of the version to compare with")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child's single scan (with --before)
    parser.add_argument("--planted", help=argparse.SUPPRESS)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    if args.one:
        planted = [Path(p) for p in args.planted.split(",")]
        mine = [Path(t) for t in args.one.split(",")]
        scan_here(mine[0], counts[0], planted)
        print(json.dumps([scan_here(tree, counts[0], planted) for tree in mine]))
        return
    from bench_throughput import make_jpegs

    versions: dict[str, str | None] = {"now": None}
    if args.before:
        versions = {"before": str(Path(args.before).resolve()), "after": str(HERE.parent / "src")}
    with tempfile.TemporaryDirectory(prefix="libra-bench-") as tmp:
        root = Path(tmp)
        unpacked = root / "unpacked"
        unpacked.mkdir()
        paths = [Path(ref.uri) for ref in make_jpegs(unpacked, args.files)]
        planted = paths[:3]
        trees = {"unpacked": unpacked}
        for how in args.formats.split(","):
            trees[f"1 {how}"] = pack(paths, root, 1, how)
        for parts in sorted({c for c in counts if c > 1}):
            trees[f"{parts} zip-deflated"] = pack(paths, root, parts, "zip-deflated")
        size = sum(p.stat().st_size for p in paths) / 2**20
        print(f"{args.files} x 2 MP JPEG ({size:.0f} MiB); median of {args.rounds} rounds, trees in turn"
              + (", before/after interleaved" if args.before else ""))  # fmt: skip
        for workers in counts:
            times: dict[tuple[str, str], list[tuple[float, float]]] = {}
            chosen = {n: t for n, t in trees.items() if not n[0].isdigit() or int(n.split()[0]) in (1, workers)}
            for _ in range(args.rounds):
                for version, src in versions.items():
                    found = scans(list(chosen.values()), workers, planted, src)
                    for name, (elapsed, used, photos) in zip(chosen, found, strict=True):
                        assert photos == args.files, (name, photos)
                        times.setdefault((version, name), []).append((elapsed, used))
            median = {key: (statistics.median(t for t, _ in runs), statistics.median(c for _, c in runs))
                      for key, runs in times.items()}  # fmt: skip
            for name in dict.fromkeys(name for _, name in median):
                line = f"workers {workers}  {name:<16}"
                for version in versions:
                    elapsed, used = median[(version, name)]
                    wall, work = (args.files / t for t in median[(version, "unpacked")])
                    rate, per_cpu = args.files / elapsed, args.files / used
                    line += f" | {version}: {rate:6.1f} files/s ({rate / wall:4.0%})"
                    if workers == 1:  # a pool's workers are the forkserver's children, not ours: no CPU figure
                        line += f", {per_cpu:6.1f}/CPU-s ({per_cpu / work:4.0%})"
                if args.before:
                    line += f" | after/before {median[('before', name)][0] / median[('after', name)][0]:.2f}x"
                print(line, flush=True)


if __name__ == "__main__":
    main()
