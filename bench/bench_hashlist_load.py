"""Load time and peak memory of a large hash list: does a 5M-entry list load in seconds, near its raw size?

Builds a synthetic list (random values, short ids, A/B/C categories) of exact MD5 digests and PDQ hashes,
encrypts it to a fresh age identity and signs it, then loads it in a fresh process (so the build's memory
does not count) and prints wall time and peak RSS next to the raw size of the columns.

Run from the repository root:

    python bench/bench_hashlist_load.py                      # 5,000,000 entries: 2.5M md5 + 2.5M pdq
    python bench/bench_hashlist_load.py --entries 1000000    # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    """Peak RSS of this process image in MiB (VmHWM: unlike ru_maxrss, not inherited across fork+exec)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n_md5: int, n_pdq: int):  # type: ignore[no-untyped-def]
    from libra_cli.hashlist import Codes, HashColumn, HashList, ListInfo, VarStrings

    rng = np.random.default_rng(7)
    columns = {}
    for hash_type, n, width in (("md5", n_md5, 16), ("pdq", n_pdq, 32)):
        id_width = 9
        blob = "".join(f"V{i:08d}" for i in range(n)).encode("ascii")
        offsets = np.arange(n + 1, dtype=np.int64) * id_width
        columns[hash_type] = HashColumn(
            hash_type=hash_type,
            values=rng.integers(0, 256, size=(n, width), dtype=np.uint8),
            allow=np.zeros(n, dtype=np.bool_),
            ids=VarStrings(blob, offsets),
            labels=Codes(np.full(n, -1, dtype=np.int32), []),
            categories=Codes(rng.integers(0, 3, size=n, dtype=np.int32), ["A", "B", "C"]),
            sources=Codes(np.full(n, -1, dtype=np.int32), []),
        )
    return HashList(ListInfo(name="bench", publisher="bench", created="2024-01-01T00:00:00+00:00"), columns)


def raw_bytes(hashlist) -> int:  # type: ignore[no-untyped-def]
    total = 0
    for column in hashlist.columns.values():
        total += column.values.nbytes + column.allow.nbytes + len(column.ids.blob) + column.ids.offsets.nbytes
        total += column.labels.codes.nbytes + column.categories.codes.nbytes + column.sources.codes.nbytes
    return total


def child(path: str, identity: str, pub: str) -> None:
    """Runs in a fresh process: import, measure the baseline, load, measure again, print JSON."""
    from libra_cli.hashlist import load_hashlist, load_identities, load_publisher_keys

    ids, keys = load_identities([identity]), load_publisher_keys([pub])
    base = rss_mib()
    start = time.perf_counter()
    hashlist = load_hashlist(path, identities=ids, publisher_keys=keys)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "seconds": seconds,
        "baseline_mib": base,
        "after_mib": rss_mib(),
        "peak_mib": peak_mib(),
        "entries": len(hashlist),
        "raw_mib": raw_bytes(hashlist) / 2**20,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=5_000_000, help="total entries, half md5, half pdq")
    parser.add_argument("--child", nargs=3, metavar=("LIST", "IDENTITY", "PUB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from libra_cli.hashlist import generate_identity, generate_signing_key, load_signing_key, write_hashlist
    from libra_cli.hashlist.keys import load_recipients

    with tempfile.TemporaryDirectory(prefix="libra-bench-") as root:
        identity, sign = os.path.join(root, "host.key"), os.path.join(root, "pub.key")
        recipient = generate_identity(identity)
        generate_signing_key(sign)
        n_md5 = args.entries // 2
        start = time.perf_counter()
        hashlist = synthetic(n_md5, args.entries - n_md5)
        made = time.perf_counter() - start
        path = os.path.join(root, "bench.libra")
        start = time.perf_counter()
        write_hashlist(hashlist, path, recipients=load_recipients([recipient]), sign_key=load_signing_key(sign))
        wrote = time.perf_counter() - start
        raw = raw_bytes(hashlist) / 2**20
        del hashlist
        size = os.path.getsize(path) / 2**20
        proc = subprocess.run(
            [sys.executable, __file__, "--child", path, identity, sign + ".pub"],
            check=True, capture_output=True, text=True,
        )
        result = json.loads(proc.stdout)
        print(f"entries            {result['entries']:,} ({n_md5:,} md5 + {args.entries - n_md5:,} pdq)")
        print(f"raw column size    {raw:8.1f} MiB")
        print(f"list file size     {size:8.1f} MiB  (built in {made:.1f} s, encrypted+signed+written in {wrote:.1f} s)")
        print(f"load time          {result['seconds']:8.2f} s    (verify signature + decrypt + rebuild columns)")
        base = result["baseline_mib"]
        print(f"RSS before load    {base:8.1f} MiB")
        print(f"RSS after load     {result['after_mib']:8.1f} MiB  (+{result['after_mib'] - base:.1f})")
        print(f"peak RSS           {result['peak_mib']:8.1f} MiB  (+{result['peak_mib'] - base:.1f})")


if __name__ == "__main__":
    main()
