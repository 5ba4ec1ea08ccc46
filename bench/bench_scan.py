"""End-to-end scan throughput: walk -> 2 workers -> match -> findings, against lists of growing size.

Run:  python bench/bench_scan.py [--files 200] [--sizes 0,100000,1000000,5000000] [--workers 2]

It writes ``--files`` distinct 2-megapixel JPEGs made from the benign sample photos into a temporary
folder (outside the repository; the scan itself writes nothing), builds synthetic in-memory lists of
random PDQ hashes plus as many random MD5s, plants the real hashes of a few of the photos so every run
finds something, and prints files/s for a full ``libra_cli.api.run`` at each list size. The list
size where files/s drops shows when the parent's matching, not the workers' hashing, is the limit.
"""

from __future__ import annotations

import argparse
import io
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_throughput import make_jpegs  # bench/ is on sys.path when run as a script

from libra_cli.api import prepare, run
from libra_cli.findings import make_writer
from libra_cli.hashing import hash_ref
from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.models import Entry, HashConfig, MediaRef
from libra_cli.settings import ScanSettings
from libra_cli.sinks import FindingsSink

logging.getLogger("libra").setLevel(logging.ERROR)  # the match log lines are not what we measure

def synthetic_list(size: int, planted: list[Path], rng: np.random.Generator) -> HashList:
    """``size`` random PDQ and ``size`` random MD5 entries, plus the real hashes of ``planted``."""
    from libra_cli.hashlist.table import Codes, HashColumn, VarStrings

    def column(hash_type: str, values: np.ndarray) -> HashColumn:
        n = len(values)
        none = VarStrings(b"", np.full(n + 1, -1, dtype=np.int64))
        none.offsets[0] = 0
        empty = Codes(np.full(n, -1, dtype=np.int32), [])
        return HashColumn(hash_type, values, np.zeros(n, dtype=np.bool_), none, empty, empty, empty)

    extra: list[Entry] = []
    for path in planted:
        result = hash_ref(MediaRef(str(path), path.stat().st_size), HashConfig(dihedral=False))
        extra.append(Entry("md5", result.digests["md5"].hex(), id=path.name))
        for values in result.perceptual:
            extra += [Entry(values.hash_type, row.tobytes().hex(), id=path.name) for row in values.values]
    pdq = np.concatenate([rng.integers(0, 256, (size, 32), dtype=np.uint8),
                          np.array([bytes.fromhex(e.value) for e in extra if e.hash_type == "pdq"], "S32")
                          .view(np.uint8).reshape(-1, 32)])  # fmt: skip
    md5 = np.concatenate([rng.integers(0, 256, (size, 16), dtype=np.uint8),
                          np.array([bytes.fromhex(e.value) for e in extra if e.hash_type == "md5"], "S16")
                          .view(np.uint8).reshape(-1, 16)])  # fmt: skip
    return HashList(ListInfo("bench"), {"md5": column("md5", md5), "pdq": column("pdq", pdq)})


class Null(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--sizes", default="0,100000,1000000,5000000")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory(prefix="libra-bench-") as tmp:
        paths = [Path(ref.uri) for ref in make_jpegs(Path(tmp), args.files)]  # same photos as bench_throughput
        print(f"tree: {args.files} x 2 MP JPEG, {sum(p.stat().st_size for p in paths) / 2**20:.0f} MiB; "
              f"workers: {args.workers}")  # fmt: skip
        for size in (int(s) for s in args.sizes.split(",")):
            hashlist = synthetic_list(size, paths[:3], rng)
            settings = ScanSettings.resolve({"targets": [tmp], "workers": args.workers})
            start = time.perf_counter()
            prepared = prepare(settings, [hashlist])
            built = time.perf_counter() - start
            start = time.perf_counter()
            report = run(prepared, [FindingsSink(make_writer("json", Null()))])
            elapsed = time.perf_counter() - start
            assert report.matched >= 3, report
            print(f"list {size:>9,} PDQ + {size:>9,} MD5: build {built:5.1f} s, "
                  f"scan {report.files / elapsed:6.1f} files/s ({report.matched} matched)")  # fmt: skip


if __name__ == "__main__":
    main()
