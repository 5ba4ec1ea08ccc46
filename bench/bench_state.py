"""The state store: first scan vs unchanged rescan vs 1%-changed rescan, rematch, and bytes per file.

Run:  python bench/bench_state.py [--files 2000] [--rows 200000] [--list-size 1000000] [--new 10000] [--workers 2]
      [--megapixels 2] [--rescans 3] [--keep DIR]  (the issue's goal: --files 20000 --megapixels 2 --skip-rematch)

Part 1 writes ``--files`` distinct small JPEGs (crops and flips of the benign sample photos, 640x480) into
a temporary folder and times three real ``libra scan --state`` processes side by side (start-up and list
load included): the first scan, a rescan of the unchanged tree, and a rescan after 1% of the files were
rewritten. Part 2 fills a state with ``--rows`` synthetic stored files (random MD5 and PDQ with its seven
dihedral variants, as a scan stores them) and times ``libra rematch`` against a list of ``--list-size``
entries (half PDQ, half MD5), then ``--only-new-entries`` against a version adding ``--new`` entries.
``--side-by-side`` times the rematch paths (per row, blobs, hash columns) alternately in one process.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sqlite3
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from bench_tools import ENV, keys, libra, run
from PIL import Image

from libra_cli.findings import make_writer
from libra_cli.hashlist.table import HashList
from libra_cli.match.matcher import Matcher
from libra_cli.models import HashResult, HashValues, MediaRef
from libra_cli.state import StateStore, codec
from libra_cli.state.rematch import only_new_entries, rematch
from libra_cli.state.store import key

PHOTOS = Path(__file__).parent.parent / "tests" / "data" / "photos"
COLUMNS = ", ".join(codec.COLUMNS)  # the hash columns (schema 4), as the sink fills them
DIHEDRAL = ("original", "rot90", "rot180", "rot270", "mirror", "mirror-rot90", "mirror-rot180", "mirror-rot270")


def make_tree(root: Path, count: int, size: tuple[int, int] = (640, 480)) -> list[Path]:
    """``count`` distinct JPEGs under ``root``, written by one process per core; a tree already there with
    that many files is reused (``--keep``)."""
    existing = sorted(root.glob("d*/p*.jpg"))
    if len(existing) == count:
        return existing
    cores = len(os.sched_getaffinity(0))
    chunks = [(root, range(start, min(count, start + 500)), size) for start in range(0, count, 500)]
    with ProcessPoolExecutor(cores) as pool:
        return [path for part in pool.map(_make_part, chunks) for path in part]


def _make_part(job: tuple[Path, range, tuple[int, int]]) -> list[Path]:
    root, numbers, size = job
    photos = [Image.open(p).convert("RGB") for p in sorted(PHOTOS.glob("*.jpg"))]
    paths = []
    for i in numbers:
        img = photos[i % len(photos)]
        w, h = img.size
        shift = (i // len(photos)) % 97
        part = img.crop((shift * w // 300, shift * h // 400, w, h)).resize(size)
        if (i // len(photos)) % 2:
            part = part.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        folder = root / f"d{i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"p{i:06d}.jpg"
        buffer = io.BytesIO()
        part.save(buffer, "JPEG", quality=85)
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def make_list(columns: dict[str, np.ndarray], name: str) -> HashList:
    from libra_cli.hashlist.table import Codes, HashColumn, ListInfo, VarStrings

    built = {}
    for hash_type, values in columns.items():
        n = len(values)
        ids = VarStrings(b"", np.full(n + 1, -1, dtype=np.int64))
        ids.offsets[0] = 0
        none = Codes(np.full(n, -1, dtype=np.int32), [])
        built[hash_type] = HashColumn(hash_type, values, np.zeros(n, dtype=np.bool_), ids, none, none, none)
    return HashList(ListInfo(name), built)


def write_list(path: Path, columns: dict[str, np.ndarray], recipient: str, name: str) -> None:
    from pyrage import x25519

    from libra_cli.hashlist.build import write_hashlist

    write_hashlist(make_list(columns, name), str(path), recipients=[x25519.Recipient.from_str(recipient)])


def scans(tmp: Path, args: argparse.Namespace, identity: Path, recipient: str) -> None:
    tree = tmp / "tree"
    tree.mkdir(exist_ok=True)
    height = 480 if args.megapixels is None else int((args.megapixels * 1e6 * 3 / 4) ** 0.5)
    size = (height * 4 // 3, height)  # 4:3; 2 MP is 1632x1224
    start = time.perf_counter()
    paths = make_tree(tree, args.files, size)
    print(f"tree of {len(paths)} JPEGs ready in {time.perf_counter() - start:.0f} s", flush=True)
    rng = np.random.default_rng(1)
    hl = tmp / "scan-list.libra"
    write_list(hl, {"pdq": rng.integers(0, 256, (5000, 32), dtype=np.uint8),
                    "md5": rng.integers(0, 256, (5000, 16), dtype=np.uint8)}, recipient, "bench")  # fmt: skip
    state = tmp / "scan-state.db"
    for old in tmp.glob("scan-state.db*"):
        old.unlink()
    cmd = libra("scan", str(tree), "-l", str(hl), "-i", str(identity), "--state", str(state), "-w", str(args.workers),
                "-q", "-o", str(tmp / "findings.json"))  # fmt: skip
    first = run(cmd)[0]
    print(f"first scan {first:.2f} s", flush=True)
    unchanged_times, changed_times = [], []
    for round_ in range(args.rescans):  # each round: an unchanged rescan, then 1% rewritten and a rescan
        unchanged_times.append(run(cmd)[0])
        for path in random.Random(2 + round_).sample(paths, max(1, len(paths) // 100)):
            img = Image.open(path)
            img.load()
            img.transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(path, "JPEG", quality=80)
        changed_times.append(run(cmd)[0])
        print(f"round {round_ + 1}: unchanged {unchanged_times[-1]:.2f} s, 1% changed {changed_times[-1]:.2f} s",
              flush=True)  # fmt: skip
    unchanged, changed = statistics.median(unchanged_times), statistics.median(changed_times)
    with sqlite3.connect(state) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
        blob = db.execute("SELECT avg(length(hashes)) FROM files").fetchone()[0]
    print(f"\nscan with --state, {args.files} JPEGs {size[0]}x{size[1]}, {args.workers} workers, 10,000-entry list "
          f"(rescans: median of {args.rescans}):")  # fmt: skip
    print(f"  first scan          {first:7.2f} s")
    print(f"  unchanged rescan    {unchanged:7.2f} s   {first / unchanged:5.1f}x faster")
    print(f"  1% changed rescan   {changed:7.2f} s   {first / changed:5.1f}x faster")
    print(f"  state size          {os.path.getsize(state)} bytes, {pages / args.files:.0f} bytes per file "
          f"(stored hashes {blob:.0f} bytes)")  # fmt: skip


def synthetic_state(path: Path, rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` stored images: random MD5 and 8 PDQ rows each, written as a scan would store them."""
    md5 = rng.integers(0, 256, (rows, 16), dtype=np.uint8)
    pdq = rng.integers(0, 256, (rows, 8, 32), dtype=np.uint8)
    quality = np.full(8, 90, dtype=np.uint8)
    now = time.time()
    with StateStore.open(str(path)) as store:
        for start in range(0, rows, 20000):
            batch = []
            for i in range(start, min(rows, start + 20000)):
                ref = MediaRef(f"/srv/uploads/u{i % 997}/f{i:08d}.jpg", 100000 + i, i, i, i)
                result = HashResult(ref, "image/jpeg", {"md5": md5[i].tobytes()},
                                    (HashValues("pdq", pdq[i], DIHEDRAL, quality),),
                                    frozenset({"md5", "pdq"}), width=640, height=480)  # fmt: skip
                batch.append((key(ref.uri), ref.size, ref.mtime_ns, ref.inode, ref.ctime_ns, None, None, "image/jpeg",
                              640, 480, codec.computed_text(result.computed), "bench", codec.encode(result), now, now,
                              now, 0, *codec.column_values(result)))  # fmt: skip
            store.transaction(lambda db, b=batch: db.executemany(  # type: ignore[misc]
                "INSERT INTO files (location, size, mtime_ns, inode, ctime_ns, etag, version_id, media_type, width, "
                f"height, computed, fingerprint, hashes, first_seen, last_seen, hashed_at, last_run, {COLUMNS}, "
                f"columns) VALUES ({', '.join('?' * 22)}, 1)", b))  # fmt: skip
    return md5, pdq


def rematches(tmp: Path, args: argparse.Namespace, identity: Path, recipient: str) -> None:
    rng = np.random.default_rng(3)
    state = tmp / "rematch-state.db"
    start = time.perf_counter()
    md5, pdq = synthetic_state(state, args.rows, rng)
    filled = time.perf_counter() - start
    half = args.list_size // 2
    planted = rng.choice(args.rows, 10, replace=False)
    old_pdq = np.concatenate([rng.integers(0, 256, (half, 32), dtype=np.uint8), pdq[planted[:5], 0]])
    old_md5 = np.concatenate([rng.integers(0, 256, (half, 16), dtype=np.uint8), md5[planted[:5]]])
    new_pdq = np.concatenate([old_pdq, rng.integers(0, 256, (args.new // 2, 32), dtype=np.uint8), pdq[planted[5:], 0]])
    new_md5 = np.concatenate([old_md5, rng.integers(0, 256, (args.new // 2, 16), dtype=np.uint8), md5[planted[5:]]])
    old, new = tmp / "v1.libra", tmp / "v2.libra"
    write_list(old, {"pdq": old_pdq, "md5": old_md5}, recipient, "hotline")
    write_list(new, {"pdq": new_pdq, "md5": new_md5}, recipient, "hotline")
    full = run(libra("rematch", "--state", str(state), "-l", str(new), "-i", str(identity), "-q",
                     "-o", str(tmp / "rematch.json")))[0]  # fmt: skip
    narrowed = run(libra("rematch", "--state", str(state), "-l", str(new), "--only-new-entries", str(old),
                         "-i", str(identity), "-q", "-o", str(tmp / "rematch-new.json")))[0]  # fmt: skip
    size = os.path.getsize(state)
    print(f"\nrematch, {args.rows:,} stored images (MD5 + 8 PDQ each; state filled in {filled:.0f} s, "
          f"{size / args.rows:.0f} bytes per file):")  # fmt: skip
    print(f"  against {len(new_pdq) + len(new_md5):,} entries          {full:7.2f} s  "
          f"({args.rows / full:,.0f} stored files/s)")  # fmt: skip
    print(f"  --only-new-entries ({args.new:,} new)   {narrowed:7.2f} s")


def side_by_side(tmp: Path, args: argparse.Namespace) -> None:
    """Three rematch paths alternately in this process on the same state and lists: per row (every row
    decoded, one matching thread), blobs (each row's msgpack read for its hash values, the multi-index
    ``native`` index on every core: the path before the hash columns) and columns (the hash columns of
    schema 4, the index the factory picks: ``expanded`` for a few thousand entries)."""
    rng = np.random.default_rng(4)
    state = tmp / "side-state.db"
    md5, pdq = synthetic_state(state, args.rows, rng)
    half = args.list_size // 2
    planted = rng.choice(args.rows, 10, replace=False)
    old = make_list({"pdq": np.concatenate([rng.integers(0, 256, (half, 32), dtype=np.uint8), pdq[planted[:5], 0]]),
                     "md5": np.concatenate([rng.integers(0, 256, (half, 16), dtype=np.uint8), md5[planted[:5]]])},
                    "hotline")  # fmt: skip
    extra = args.new // 2
    added = {"pdq": np.concatenate([rng.integers(0, 256, (extra, 32), dtype=np.uint8), pdq[planted[5:], 0]]),
             "md5": np.concatenate([rng.integers(0, 256, (extra, 16), dtype=np.uint8), md5[planted[5:]]])}  # fmt: skip
    new = make_list({t: np.concatenate([old.columns[t].values, added[t]]) for t in added}, "hotline")
    narrowed = only_new_entries(new, old)
    cores = len(os.sched_getaffinity(0))
    paths = ("per row", "blobs", "columns")
    matchers: dict[tuple[str, str], Matcher] = {}
    for which, hl in (("full", new), ("new", narrowed)):
        if "full" in args.which or which == "new":
            matchers[(which, "per row")] = Matcher.build([hl], threads=1, backend="native")
            matchers[(which, "blobs")] = Matcher.build([hl], threads=cores, backend="native")
            matchers[(which, "columns")] = Matcher.build([hl], threads=cores)
    for matcher in matchers.values():  # the one-off numba compile, outside the timings
        matcher.match_many([])
        matcher.may_match("pdq", pdq[:2, 0])
        matcher.may_match("pdq", np.frombuffer(pdq[:2, 0].tobytes(), dtype=np.uint8).reshape(2, 32))
    times: dict[tuple[str, str], list[float]] = {k: [] for k in matchers}
    found: dict[tuple[str, str], int] = {}
    for _ in range(args.rounds):
        for (which, path), matcher in matchers.items():
            if path == "per row" and args.skip_per_row:
                continue
            lists = [narrowed if which == "new" else new]
            with StateStore.open(str(state)) as store:
                start = time.perf_counter()
                report = rematch(store, matcher, make_writer("ndjson", io.StringIO()), lists, bulk=path != "per row",
                                 columns=path == "columns")  # fmt: skip
                times[(which, path)].append(time.perf_counter() - start)
            found[(which, path)] = report.matched
    print(f"\nrematch in one process, {args.rows:,} stored images, alternately ({args.rounds} rounds, median; "
          "list already loaded, index built):")  # fmt: skip
    for which, label in (("full", f"{len(new):,} entries"), ("new", f"only the {len(narrowed):,} new entries")):
        if (which, "columns") not in times:
            continue
        med = {p: statistics.median(times[(which, p)]) for p in paths if times[(which, p)]}
        assert len({found[(which, p)] for p in med}) == 1, found
        parts = "   ".join(f"{p} {t:7.2f} s" for p, t in med.items())
        print(f"  {label:32s} {parts}   blobs/columns {med['blobs'] / med['columns']:5.1f}x   "
              f"({found[(which, 'columns')]} matched; columns {args.rows / med['columns']:,.0f} files/s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--list-size", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-scans", action="store_true")
    parser.add_argument("--megapixels", type=float, default=None, help="JPEG size (default 640x480)")
    parser.add_argument("--skip-rematch", action="store_true", help="no whole-process rematch runs")
    parser.add_argument("--side-by-side", action="store_true", help="rematch paths alternately in one process")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--which", default="full,new", help="side by side: 'new' = only the narrowed list")
    parser.add_argument("--rescans", type=int, default=1, help="rounds of unchanged + 1%%-changed rescans (median)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (its tree is reused)")
    parser.add_argument("--skip-per-row", action="store_true", help="side by side: not the per-row path")
    args = parser.parse_args()
    assert ENV["PYTHONPATH"]
    with tempfile.TemporaryDirectory(prefix="libra-bench-state-") as name:
        tmp = Path(name) if args.keep is None else args.keep
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "id.txt").unlink(missing_ok=True)  # keygen never overwrites a key
        identity, recipient = keys(tmp)
        if not args.skip_scans:
            scans(tmp, args, identity, recipient)
        if args.side_by_side:
            side_by_side(tmp, args)
        if not args.skip_rematch:
            rematches(tmp, args, identity, recipient)


if __name__ == "__main__":
    main()
