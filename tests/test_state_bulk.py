"""Rematch's columnar path (``state/bulk.py``) reports exactly what decoding every stored row reports."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np

from libra_cli.findings import make_writer
from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.match.matcher import Matcher
from libra_cli.models import Entry, HashResult, HashValues, MediaRef
from libra_cli.state import StateStore, codec
from libra_cli.state import bulk as columnar
from libra_cli.state.rematch import rematch
from libra_cli.state.store import key

DIHEDRAL = ("original", "rot90", "rot180", "rot270", "mirror", "mirror-rot90", "mirror-rot180", "mirror-rot270")
_INSERT = (
    "INSERT INTO files (location, size, mtime_ns, inode, ctime_ns, etag, version_id, media_type, width, height, "
    "computed, fingerprint, hashes, first_seen, last_seen, hashed_at, last_run) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _flip(value: np.ndarray, bits: int) -> np.ndarray:
    out = value.copy()
    for b in range(bits):
        out[b] ^= 1 << (b % 8)
    return out


def _state(path: Path, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """60 stored images (MD5 + 8 PDQ rows), one of them unreadable, one hashed without PDQ, one an archive."""
    md5 = rng.integers(0, 256, (60, 16), dtype=np.uint8)
    pdq = rng.integers(0, 256, (60, 8, 32), dtype=np.uint8)
    now = time.time()
    rows = []
    for i in range(60):
        ref = MediaRef(f"/srv/u/f{i:03d}.jpg", 1000 + i, i, i, i)
        quality = np.full(8, 10 if i == 13 else 90, dtype=np.uint8)  # 13: below PDQ's quality floor
        perceptual = () if i == 23 else (HashValues("pdq", pdq[i], DIHEDRAL, quality),)
        computed = frozenset({"md5"} if i == 23 else {"md5", "pdq"})
        members: tuple[HashResult, ...] = ()
        if i == 29:  # an archive: its member's hashes are not the archive's own
            inner = MediaRef("/srv/u/f029.jpg!a.jpg", 5)
            members = (HashResult(inner, "image/jpeg", {"md5": md5[30].tobytes()}, (), frozenset({"md5"})),)
        result = HashResult(ref, "image/jpeg", {"md5": md5[i].tobytes()}, perceptual, computed, members=members)
        blob = b"\x93garbage" if i == 19 else codec.encode(result)
        rows.append((key(ref.uri), ref.size, ref.mtime_ns, ref.inode, ref.ctime_ns, None, None, "image/jpeg", 640, 480,
                     codec.computed_text(computed), "f", blob, now, now, now, 0))  # fmt: skip
    with StateStore.open(str(path)) as store:
        store.transaction(lambda db: db.executemany(_INSERT, rows))
    return md5, pdq


def _lists(md5: np.ndarray, pdq: np.ndarray, rng: np.random.Generator) -> list[HashList]:
    noise = [Entry("pdq", v.tobytes().hex()) for v in rng.integers(0, 256, (300, 32), dtype=np.uint8)]
    noise += [Entry("md5", v.tobytes().hex()) for v in rng.integers(0, 256, (300, 16), dtype=np.uint8)]
    planted = [
        Entry("md5", md5[3].tobytes().hex(), id="md5-3"),
        Entry("pdq", _flip(pdq[7, 0], 5).tobytes().hex(), id="pdq-7"),
        Entry("pdq", pdq[11, 4].tobytes().hex(), id="mirrored-11"),  # the file is a mirrored copy
        Entry("pdq", pdq[13, 0].tobytes().hex(), id="low-quality-13"),
        Entry("md5", md5[17].tobytes().hex(), id="reviewed-17", allow=True),
        Entry("pdq", pdq[17, 0].tobytes().hex(), id="pdq-17"),
        Entry("md5", md5[23].tobytes().hex(), id="md5-23"),
        Entry("md5", md5[30].tobytes().hex(), id="md5-30"),
        Entry("pdq", pdq[19, 0].tobytes().hex(), id="unreadable-19"),
    ]
    return [HashList.from_entries(ListInfo("hotline"), noise + planted)]


def _run(
    path: Path, lists: list[HashList], *, bulk: bool
) -> tuple[list[str], dict[str, object], set[tuple[object, ...]]]:
    stream = io.StringIO()
    with StateStore.open(str(path)) as store:
        report = rematch(store, Matcher.build(lists), make_writer("ndjson", stream), lists, bulk=bulk)
        run = store.db.execute("SELECT max(id) FROM runs").fetchone()[0]
        found = {
            tuple(r)
            for r in store.db.execute("SELECT location, list, entry, allowed FROM findings WHERE run = ?", (run,))
        }
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    records = sorted(json.dumps(x, sort_keys=True) for x in lines if x.get("type") != "header" and "status" in x)
    summary = {k: v for k, v in report.summary().items() if "second" not in k and "duration" not in k}
    return records, summary, found


def test_bulk_rematch_reports_what_decoding_every_row_reports(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    state = tmp_path / "state.db"
    md5, pdq = _state(state, rng)
    lists = _lists(md5, pdq, rng)
    slow = _run(state, lists, bulk=False)
    fast = _run(state, lists, bulk=True)
    assert fast == slow
    records, summary, found = fast
    matched = {(Path(r["location"]).name, r["status"]) for r in map(json.loads, records) if "location" in r}
    assert {("f003.jpg", "match"), ("f007.jpg", "match"), ("f011.jpg", "match"), ("f030.jpg", "match")} <= matched
    # 13: below the quality floor; 17: the list's allow entry covers its MD5: no finding either way
    assert not any(name in ("f013.jpg", "f017.jpg") for name, _ in matched)
    assert summary["files"] == 58  # the unreadable row and the archive (scans never store one) are named, not counted
    assert summary["errors"] == 3  # those two, and the row hashed without PDQ
    assert any(entry == "md5-23" for _, _, entry, _ in found)  # its MD5 still matches


def test_quick_read_marks_only_rows_that_may_match(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    state = tmp_path / "state.db"
    md5, pdq = _state(state, rng)
    matcher = Matcher.build(_lists(md5, pdq, rng))
    with StateStore.open(str(state)) as store:
        blobs = [bytes(b) for (b,) in store.db.execute("SELECT hashes FROM files ORDER BY id")]
    batch = columnar.read(blobs, columnar.searched_types(matcher))
    assert batch.meta[19] is None and batch.meta[29] is None  # unreadable; an archive: decoded in full
    assert batch.meta[0] == ("image/jpeg", 1000)
    marked = set(np.flatnonzero(columnar.candidates(batch, matcher)).tolist())
    assert marked == {3, 7, 11, 13, 17, 19, 23, 29, 30}  # 30: its own MD5 is listed too
