"""Whole ``libra scan`` runs of this checkout against another commit, interleaved, as ratios.

Run:  python bench/bench_versions.py --against 29a7b36 [--runs 5] [--jpegs 300] [--tiny 20000] [--workers 2]
      python bench/bench_versions.py --against 29a7b36 --workers 1 --cpu   # files per CPU-second

It checks the other commit out into a temporary git worktree (outside the repository), builds two
corpora in a temporary folder — ``--jpegs`` distinct 2-megapixel JPEGs made from the benign sample
photos, and ``--tiny`` tiny text files — and a list (a few real PDQ/MD5 hashes of the photos), then
times ``python -m libra_cli scan`` of each corpus with each version, alternating A, B, A, B ... so the
noise of a shared machine falls on both alike. It prints each run, the median files/s of each version
and the median of the per-pair ratios (this checkout / other); >= 0.95 means "no worse" (issue 7).
Nothing is written but the corpora, the list and the findings files, all under the temporary folder.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def make_list(folder: Path, photos: list[Path], src: Path) -> tuple[Path, Path]:
    """An identity and a list of the first few photos' hashes, built with this checkout's CLI."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    identity = folder / "id.txt"
    out = subprocess.run([sys.executable, "-m", "libra_cli", "keygen", "-o", str(identity)],
                         env=env, capture_output=True, text=True, check=True)  # fmt: skip
    recipient = next(w for w in (out.stdout + out.stderr).split() if w.startswith("age1"))
    source = subprocess.run([sys.executable, "-m", "libra_cli", "hash", *map(str, photos), "-f", "csv", "-w", "1"],
                            env=env, capture_output=True, text=True, check=True).stdout  # fmt: skip
    (folder / "src.csv").write_text(source)
    hashlist = folder / "bench.libra"
    subprocess.run([sys.executable, "-m", "libra_cli", "hashlist", "build", str(folder / "src.csv"), "-o",
                    str(hashlist), "-r", recipient], env=env, capture_output=True, check=True)  # fmt: skip
    return identity, hashlist


def timed_scan(
    src: Path, target: Path, identity: Path, hashlist: Path, workers: int, out: Path, cpu: bool
) -> float:
    """Seconds of one scan: wall time, or (``cpu``) the CPU time of the scan process itself.

    CPU time is the steadier measure on a shared machine, but ``getrusage`` only sees processes that
    were waited for, so it is only complete for ``--workers 1`` (no worker processes).
    """
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "libra_cli", "scan", str(target), "-l", str(hashlist), "-i", str(identity),
           "-w", str(workers), "-q", "-o", str(out)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({done.returncode}): {done.stderr[-2000:]}")
    if cpu:
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the other commit (e.g. the previous release)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jpegs", type=int, default=300)
    parser.add_argument("--tiny", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cpu", action="store_true", help="CPU time of the scan (use with --workers 1)")
    args = parser.parse_args()
    from bench_throughput import make_jpegs

    with tempfile.TemporaryDirectory(prefix="libra-versions-") as tmp_name:
        tmp = Path(tmp_name)
        other = tmp / "other"
        _git("worktree", "add", "--detach", str(other), args.against)
        try:
            jpegs = tmp / "jpegs"
            jpegs.mkdir()
            photos = [Path(r.uri) for r in make_jpegs(jpegs, max(args.jpegs, 3))]
            tiny = tmp / "tiny"
            for i in range(args.tiny):
                folder = tiny / f"{i // 1000:03d}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{i:06d}.txt").write_text(f"note {i}\n")
            identity, hashlist = make_list(tmp, photos[:3], ROOT / "src")
            versions = {"this": ROOT / "src", args.against: other / "src"}
            corpora: dict[str, tuple[Path, int]] = {}
            if args.jpegs:
                corpora[f"{len(photos)} x 2 MP JPEG"] = (jpegs, len(photos))
            if args.tiny:
                corpora[f"{args.tiny} tiny files"] = (tiny, args.tiny)
            for label, (target, count) in corpora.items():
                rates: dict[str, list[float]] = {name: [] for name in versions}
                for run in range(args.runs):
                    order = list(versions) if run % 2 == 0 else list(reversed(versions))
                    for name in order:
                        seconds = timed_scan(
                            versions[name], target, identity, hashlist, args.workers, tmp / "f.json", args.cpu
                        )
                        rates[name].append(count / seconds)
                        unit = "files/CPU-s" if args.cpu else "files/s"
                        print(f"{label:24s} run {run + 1} {name:>10s} {count / seconds:9.1f} {unit}", flush=True)
                ratios = [a / b for a, b in zip(rates["this"], rates[args.against], strict=True)]
                print(f"{label:24s} median: this {statistics.median(rates['this']):.1f}, {args.against} "
                      f"{statistics.median(rates[args.against]):.1f} files/s; median ratio "
                      f"{statistics.median(ratios):.3f}", flush=True)  # fmt: skip
        finally:
            _git("worktree", "remove", "--force", str(other))


if __name__ == "__main__":
    main()
