"""libra beside the tools users know, and against lists of growing size, in one run, as ratios.

Run:  python bench/bench_tools.py [--jpegs 300] [--tiny 50000] [--uploads 3000]
                                 [--sizes 100,1000000,5000000,10000000] [--workers 2] [--runs 3] [--skip-sizes]

It builds its own corpora in a temporary folder (benign 2 MP JPEGs made from the sample photos, tiny
text files) and prints, each figure with its ratio to the tool it is compared with:

* exact-only: ``libra scan`` with an MD5-only list vs ``md5deep -r -m`` (matching mode) and
  ``clamscan -d list.hdb`` on the same tree (Debian packages ``md5deep`` and ``clamav``), on two trees:
  the JPEGs beside many tiny files (what per-file costs weigh on), and an upload-like tree of
  distinct ~250 KiB JPEGs; libra's start-up (the same scan of an empty folder) is printed beside;
* perceptual, per image and CPU-second in one process: libra's worker function (PDQ with its 7
  dihedral variants) vs a plain ``Image.open`` + ``imagehash.phash`` loop and vs python-threatexchange's
  ``PdqSignal.hash_from_file`` (what ``threatexchange hash photo`` runs, without its start-up);
* list size: a 2-worker scan of the JPEGs with lists of N entries (half random PDQ, half random MD5, plus a
  few real ones): files/s while scanning (from the scan's own "scan started"/"scan finished" log lines),
  the start-up before it (decrypting the list, building the matcher), and the scan process's peak RSS.

Wall times on a shared machine are noisy: each figure is the median of ``--runs`` runs, tools alternating.
Tools that are not installed are reported as such and skipped.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
# Bytecode is written and reused, as for an installed package (``pip install`` compiles it): a
# sandbox's PYTHONDONTWRITEBYTECODE would otherwise charge libra a recompile of itself per run.
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(ROOT / "src")}


def run(cmd: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[float, int]:
    """Wall seconds of ``cmd`` and the peak RSS (KiB) of the process itself."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:
        raise SystemExit(f"{cmd[0]} failed ({done.returncode}): {done.stderr[-1500:]}")
    return elapsed, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def median_time(cmd: list[str], runs: int, ok: tuple[int, ...] = (0, 1)) -> float:
    return statistics.median(run(cmd, ok)[0] for _ in range(runs))


def libra(*args: str) -> list[str]:
    return [sys.executable, "-m", "libra_cli", *args]


def keys(tmp: Path) -> tuple[Path, str]:
    identity = tmp / "id.txt"
    out = subprocess.run(libra("keygen", "-o", str(identity)), env=ENV, capture_output=True, text=True, check=True)
    recipient = next(w for w in (out.stdout + out.stderr).split() if w.startswith("age1"))
    return identity, recipient


def build_list(tmp: Path, name: str, rows: list[tuple[str, str]], recipient: str) -> Path:
    source = tmp / f"{name}.csv"
    with source.open("w") as out:
        out.write("hash_type,hash,id,label,category,allow\n")
        out.writelines(f"{t},{v},e{i},,,0\n" for i, (t, v) in enumerate(rows))
    target = tmp / f"{name}.libra"
    subprocess.run(libra("hashlist", "build", str(source), "-o", str(target), "-r", recipient, "--force"),
                   env=ENV, capture_output=True, check=True)  # fmt: skip
    return target


def md5s(paths: list[Path]) -> list[str]:
    import hashlib

    return [hashlib.md5(p.read_bytes()).hexdigest() for p in paths]


def exact_only(
    tmp: Path,
    tree: Path,
    files: list[Path],
    identity: Path,
    recipient: str,
    args: argparse.Namespace,
    title: str = "exact-only",
) -> None:
    planted = files[:: max(1, len(files) // 5)]
    digests = md5s(planted)
    rng = np.random.default_rng(1)
    noise = [rng.integers(0, 256, 16, dtype=np.uint8).tobytes().hex() for _ in range(1000)]
    hashlist = build_list(tmp, "md5only", [("md5", d) for d in digests + noise], recipient)
    (tmp / "known.md5").write_text("".join(f"{d}  x{i}\n" for i, d in enumerate(digests + noise)))
    (tmp / "list.hdb").write_text(
        "".join(f"{d}:{p.stat().st_size}:x{i}\n" for i, (d, p) in enumerate(zip(digests, planted, strict=True)))
    )
    count = len(files)
    scan = libra(
        "scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", str(args.workers), "-q", "-o", os.devnull
    )
    empty = tmp / "empty"
    empty.mkdir(exist_ok=True)
    start_up = [arg if arg != str(tree) else str(empty) for arg in scan]
    rows = [("libra scan (MD5-only list)", scan), ("libra start-up (empty folder)", start_up)]
    if shutil.which("md5deep"):
        rows.append(("md5deep -r -m", ["md5deep", "-r", "-m", str(tmp / "known.md5"), str(tree)]))
    if shutil.which("clamscan"):
        rows.append(
            ("clamscan -d list.hdb", ["clamscan", "--no-summary", "-r", "-d", str(tmp / "list.hdb"), str(tree)])
        )
    times: dict[str, list[float]] = {name: [] for name, _ in rows}
    for _ in range(args.runs):
        for name, cmd in rows:
            times[name].append(run(cmd, ok=(0, 1, 2))[0])
    base = statistics.median(times[rows[0][0]])
    mib = sum(p.stat().st_size for p in files) / 2**20
    print(f"\n{title}, {count} files ({mib:.0f} MiB), {args.runs} runs, whole processes:")
    for name, _ in rows:
        t = statistics.median(times[name])
        if name.startswith("libra start-up"):
            print(f"  {name:32s} {t:9.2f} s (of libra's time above; the tools below start in milliseconds)")
            continue
        print(f"  {name:32s} {count / t:9.1f} files/s {mib / t:7.1f} MiB/s   libra / this = {t / base:5.2f}")
    for name in ("md5deep -r -m", "clamscan -d list.hdb"):
        if name not in times:
            print(f"  {name:32s} not installed (apt-get install {'md5deep' if 'md5' in name else 'clamav'})")


def upload_tree(root: Path, jpegs: list[Path], count: int) -> list[Path]:
    """``count`` distinct files shaped like user uploads: the JPEGs again, each copy one byte different,
    100 to a folder."""
    out = []
    for i in range(count):
        source = jpegs[i % len(jpegs)]
        path = root / f"u{i // 100:04d}" / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source.read_bytes() + i.to_bytes(4, "big"))
        out.append(path)
    return out


def per_image(paths: list[Path], args: argparse.Namespace) -> None:
    import imagehash
    from PIL import Image

    from libra_cli.hashing import hash_ref
    from libra_cli.models import HashConfig, MediaRef

    refs = [MediaRef(str(p), p.stat().st_size) for p in paths]
    config = HashConfig(digests=(), perceptual=("pdq",))

    def libra_loop() -> None:
        for ref in refs:
            hash_ref(ref, config)

    def pillow_loop() -> None:
        for p in paths:
            imagehash.phash(Image.open(p))

    loops: list[tuple[str, Callable[[], None]]] = [("libra hash_ref (PDQ + 7 variants)", libra_loop),
                                                   ("Image.open + imagehash.phash", pillow_loop)]  # fmt: skip
    try:
        from threatexchange.signal_type.pdq.signal import PdqSignal

        def threatexchange_loop() -> None:
            for p in paths:
                PdqSignal.hash_from_file(p)

        loops.append(("threatexchange PdqSignal.hash_from_file", threatexchange_loop))
    except ImportError:
        print("  threatexchange not installed (pip install threatexchange)")
    cpu: dict[str, list[float]] = {name: [] for name, _ in loops}
    for _ in range(args.runs):
        for name, loop in loops:
            start = time.process_time()
            loop()
            cpu[name].append(time.process_time() - start)
    base = statistics.median(cpu[loops[0][0]])
    print(f"\nperceptual, one process, {len(paths)} x 2 MP JPEG (images per CPU-second):")
    for name, _ in loops:
        t = statistics.median(cpu[name])
        print(f"  {name:40s} {len(paths) / t:8.1f} img/CPU-s   libra is {t / base:5.2f}x this")


def synthetic_list(path: Path, size: int, real: list[tuple[str, bytes]], recipient: str, seed: int) -> None:
    """A list of ``size`` entries (half random PDQ, half random MD5) plus ``real`` ones, written encrypted.

    Built from numpy arrays (not a CSV source): ten million rows of text would cost minutes to parse.
    """
    from pyrage import x25519

    from libra_cli.hashlist.build import write_hashlist
    from libra_cli.hashlist.table import Codes, HashColumn, HashList, ListInfo, VarStrings

    rng = np.random.default_rng(seed)

    def column(hash_type: str, values: np.ndarray) -> HashColumn:
        n = len(values)
        ids = VarStrings(b"", np.full(n + 1, -1, dtype=np.int64))
        ids.offsets[0] = 0
        none = Codes(np.full(n, -1, dtype=np.int32), [])
        return HashColumn(hash_type, values, np.zeros(n, dtype=np.bool_), ids, none, none, none)

    columns = {}
    for hash_type, width in (("pdq", 32), ("md5", 16)):
        planted = [v for t, v in real if t == hash_type]
        values = np.concatenate([
            rng.integers(0, 256, (size // 2, width), dtype=np.uint8),
            np.frombuffer(b"".join(planted), dtype=np.uint8).reshape(-1, width),
        ])  # fmt: skip
        columns[hash_type] = column(hash_type, values)
    write_hashlist(
        HashList(ListInfo(f"bench {size}"), columns), str(path), recipients=[x25519.Recipient.from_str(recipient)]
    )


def _between(log: str, first: str, last: str) -> float:
    """Seconds between the log lines holding ``first`` and ``last`` (their ``asctime`` stamps)."""
    from datetime import datetime

    def stamp(marker: str) -> datetime:
        line = next(line for line in log.splitlines() if marker in line)
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")

    return (stamp(last) - stamp(first)).total_seconds()


def list_sizes(
    tmp: Path, tree: Path, files: list[Path], identity: Path, recipient: str, args: argparse.Namespace
) -> None:
    from libra_cli.hashing import hash_ref
    from libra_cli.models import HashConfig, MediaRef

    real: list[tuple[str, bytes]] = []
    for p in files[:3]:
        config = HashConfig(digests=("md5",), perceptual=("pdq",), dihedral=False)
        result = hash_ref(MediaRef(str(p), p.stat().st_size), config)
        real.append(("md5", result.digests["md5"]))
        real += [("pdq", row.tobytes()) for v in result.perceptual for row in v.values]
    print(f"\nlist size (half PDQ, half MD5), scan of {len(files)} x 2 MP JPEG with {args.workers} workers:")
    base_rate = None
    for size in (int(s) for s in args.sizes.split(",")):
        hashlist = tmp / f"n{size}.libra"
        synthetic_list(hashlist, size, real, recipient, seed=size)
        log = tmp / "scan.log"
        workers = str(args.workers)
        scan = libra("scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", workers, "-q", "-o",
                     os.devnull, "--log-level", "info", "--log-file", str(log))  # fmt: skip
        walls, hashing, rss = [], [], 0
        for _ in range(args.runs):
            log.unlink(missing_ok=True)
            wall, peak = run(scan)
            walls.append(wall)
            hashing.append(_between(log.read_text(), "scan started", "scan finished"))
            rss = max(rss, peak)
        rate = len(files) / statistics.median(hashing)
        base_rate = base_rate or rate
        setup = statistics.median(walls) - statistics.median(hashing)
        print(f"  {size:>11,} entries: {rate:7.1f} files/s while scanning ({rate / base_rate:4.2f}x the smallest "
              f"list), start-up {setup:5.1f} s, peak RSS {rss / 1024:6.0f} MiB", flush=True)  # fmt: skip
        hashlist.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jpegs", type=int, default=300)
    parser.add_argument("--tiny", type=int, default=50000, help="tiny files beside the JPEGs (a per-file cost test)")
    parser.add_argument("--uploads", type=int, default=3000, help="files of an upload-like tree (~250 KiB JPEGs)")
    parser.add_argument("--sizes", default="100,1000000,10000000", help="list sizes (entries, half PDQ half MD5)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-sizes", action="store_true")
    args = parser.parse_args()
    from bench_throughput import make_jpegs

    with tempfile.TemporaryDirectory(prefix="libra-tools-") as name:
        tmp = Path(name)
        tree = tmp / "tree"
        (tree / "jpegs").mkdir(parents=True)
        jpegs = [Path(r.uri) for r in make_jpegs(tree / "jpegs", args.jpegs)]
        tiny = []
        for i in range(args.tiny):
            path = tree / "notes" / f"{i // 1000:03d}" / f"{i:06d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"note {i}\n")
            tiny.append(path)
        identity, recipient = keys(tmp)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], env=ENV, check=True)
        exact_only(tmp, tree, jpegs + tiny, identity, recipient, args, f"exact-only, JPEGs and {len(tiny)} tiny files")
        uploads = upload_tree(tmp / "uploads", jpegs, args.uploads)
        exact_only(tmp, tmp / "uploads", uploads, identity, recipient, args, "exact-only, an upload-like tree")
        per_image(jpegs[: min(100, len(jpegs))], args)
        if not args.skip_sizes:
            list_sizes(tmp, tree / "jpegs", jpegs, identity, recipient, args)


if __name__ == "__main__":
    main()
