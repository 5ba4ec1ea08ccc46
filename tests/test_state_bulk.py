"""Rematch's columnar paths (``state/bulk.py``: the hash columns of schema 4, and the quick read of blobs for
rows they do not serve) report exactly what decoding every stored row reports."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from libra_cli.findings import make_writer
from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.match.matcher import Matcher
from libra_cli.models import Entry, HashResult, HashValues, MediaRef
from libra_cli.state import StateStore, codec
from libra_cli.state import bulk as columnar
from libra_cli.state.rematch import _ARCHIVES, rematch
from libra_cli.state.store import APPLICATION_ID, MIGRATIONS, key

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


_COLUMNS = ", ".join(codec.COLUMNS)
_WITH_COLUMNS = _INSERT.replace(") VALUES (", f", {_COLUMNS}, columns) VALUES (?, ?, ?, ?, ?, ?, ")


def _state(path: Path, rng: np.random.Generator, *, schema: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """60 stored images (MD5 + 8 PDQ rows), one of them unreadable, one hashed without PDQ, one an archive.

    ``schema`` 4: rows as the sink writes them, hash columns filled, except every tenth (from 5) left as a
    row the upgrade could not read; the unreadable row and the archive (whose blob holds members, which a
    scan never stores) have none either. ``schema`` 3: the file as a libra before the columns wrote it."""
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
        row = (key(ref.uri), ref.size, ref.mtime_ns, ref.inode, ref.ctime_ns, None, None, "image/jpeg", 640, 480,
               codec.computed_text(computed), "f", blob, now, now, now, 0)  # fmt: skip
        served = schema >= 4 and i not in (19, 29) and i % 10 != 5
        rows.append((*row, *codec.column_values(result), 1) if served else (*row, *[None] * len(codec.COLUMNS), 0))
    if schema >= 4:
        with StateStore.open(str(path)) as store:
            store.transaction(lambda db: db.executemany(_WITH_COLUMNS, rows))
        return md5, pdq
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for step in range(1, schema + 1):
            db.executescript(MIGRATIONS[step])
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("application", "libra-state"), ("schema", str(schema))])
        db.executemany(_INSERT, [r[: -len(codec.COLUMNS) - 1] for r in rows])
    db.close()
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
    path: Path, lists: list[HashList], *, bulk: bool, columns: bool = True, backend: str = "auto"
) -> tuple[list[str], dict[str, object], set[tuple[object, ...]]]:
    stream = io.StringIO()
    with StateStore.open(str(path)) as store:
        matcher = Matcher.build(lists, backend=backend)
        report = rematch(store, matcher, make_writer("ndjson", stream), lists, bulk=bulk, columns=columns)
        run = store.db.execute("SELECT max(id) FROM runs").fetchone()[0]
        found = {
            tuple(r)
            for r in store.db.execute("SELECT location, list, entry, allowed FROM findings WHERE run = ?", (run,))
        }
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    records = sorted(json.dumps(x, sort_keys=True) for x in lines if x.get("type") != "header" and "status" in x)
    summary = {k: v for k, v in report.summary().items() if "second" not in k and "duration" not in k}
    return records, summary, found


@pytest.mark.parametrize("schema", [4, 3])
def test_bulk_rematch_reports_what_decoding_every_row_reports(tmp_path: Path, schema: int) -> None:
    rng = np.random.default_rng(5)
    state = tmp_path / "state.db"
    md5, pdq = _state(state, rng, schema=schema)  # 3: upgraded on open, the columns filled from the blobs
    lists = _lists(md5, pdq, rng)
    slow = _run(state, lists, bulk=False)
    fast = _run(state, lists, bulk=True)
    assert fast == slow
    assert _run(state, lists, bulk=True, columns=False) == slow  # the quick read of every blob
    assert _run(state, lists, bulk=True, backend="native") == slow  # the list-side index or not
    assert _run(state, lists, bulk=True, backend="brute") == slow
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


def test_an_upgrade_fills_the_columns_of_every_row_it_can_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    state = tmp_path / "state.db"
    md5, pdq = _state(state, rng, schema=3)
    with StateStore.open(str(state)) as store:
        assert store.schema_version() == 4
        rows = store.db.execute(f"SELECT columns, {_COLUMNS} FROM files ORDER BY id").fetchall()
    assert [i for i, r in enumerate(rows) if r[0] == 0] == [19, 29]  # unreadable; an archive: from the blob
    assert rows[0][1:] == (md5[0].tobytes(), None, None, None, pdq[0].tobytes())
    assert rows[23][1:] == (md5[23].tobytes(), None, None, None, None)  # hashed without PDQ
    with StateStore.open(str(tmp_path / "new.db")) as store:  # a new file: nothing to fill
        assert store.schema_version() == 4


def test_columns_serve_only_rows_that_hold_nothing_else_the_lists_use(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    md5, pdq = _state(tmp_path / "state.db", rng)
    matcher = Matcher.build(_lists(md5, pdq, rng))
    types, others = columnar.column_types(matcher)
    assert types == ["md5", "pdq"] and others == {"vpdq"}  # a video's frames are read from its blob
    good = (md5[0].tobytes(), pdq[0].tobytes())
    rows = [
        (1, "md5,pdq@1", *good),
        (1, "md5,pdq@1,vpdq@1", *good),  # a video
        (0, "md5,pdq@1", None, None),  # not filled
        (1, "md5,pdq@1", md5[0].tobytes()[:8], pdq[0].tobytes()),  # a digest of the wrong size
        (1, "md5,pdq@1", md5[0].tobytes(), pdq[0].tobytes()[:40]),  # a partial PDQ row
        (1, "md5", md5[1].tobytes(), None),  # no PDQ held
    ]
    batch = columnar.column_batch(rows, 2, types, others, {})
    assert batch.served.tolist() == [True, False, False, False, False, True]
    values, owners = batch.arrays["pdq"]
    assert owners.tolist() == [0] * 8 and values.tobytes() == pdq[0].tobytes()
    assert batch.arrays["md5"][1].tolist() == [0, 5]


def test_only_new_entries_compares_whole_values() -> None:
    from libra_cli.state.rematch import _held

    rng = np.random.default_rng(9)
    old = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    old[1:40, :8] = old[0, :8]  # many rows sharing their first 8 bytes
    new = np.concatenate([old[::3], rng.integers(0, 256, (50, 32), dtype=np.uint8), old[:40]])
    twin = old[5].copy()
    twin[31] ^= 1  # a head that is listed, a value that is not
    new = np.concatenate([new, twin[None]])
    expected = [any((row == o).all() for o in old) for row in new]
    assert _held(new, old).tolist() == expected
    assert _held(new[:, :4], old[:, :4]).tolist() == [any((r == o).all() for o in old[:, :4]) for r in new[:, :4]]
    assert not _held(new, old[:0]).any() and len(_held(new[:0], old)) == 0


def test_held_in_agrees_with_brute_force_on_appended_and_reordered_versions() -> None:
    from libra_cli.state.rematch import _held_few, held_in

    rng = np.random.default_rng(11)
    old = rng.integers(0, 256, (400, 32), dtype=np.uint8)
    old[1:30, :8] = old[0, :8]  # heads shared by many rows
    old[50] = old[51]  # a value listed twice
    twins = old[[5, 100]].copy()
    twins[:, 31] ^= 1  # their heads are listed (one shared, one not), their values are not
    added = np.concatenate([rng.integers(0, 256, (20, 32), dtype=np.uint8), old[[3, 7, 0, 51]], twins])
    added = np.concatenate([added, added[:2]])  # an added value listed twice
    appended = np.concatenate([old, added])  # the usual update: old entries first, in order
    shuffled = appended[rng.permutation(len(appended))]  # the same entries in another order

    def brute(values: np.ndarray, among: np.ndarray) -> list[bool]:
        return [bool((among == row).all(axis=1).any()) for row in values]

    for values, among in [(appended, old), (shuffled, old), (added, old), (old, added), (appended[:-3], old)]:
        assert held_in(values, among).tolist() == brute(values, among)
        assert _held_few(values, among).tolist() == brute(values, among)
    assert held_in(appended, old)[len(old) :].tolist() == brute(added, old)  # the prefix path looked at the tail
    assert not held_in(appended, old[:0]).any() and len(held_in(appended[:0], old)) == 0
    assert held_in(old, old).all() and not _held_few(added[:20], old).any()


@pytest.mark.parametrize("schema", [4, 3])
def test_stored_archives_are_named_from_their_index(tmp_path: Path, schema: int) -> None:
    rng = np.random.default_rng(9)
    state = tmp_path / "state.db"
    md5, pdq = _state(state, rng, schema=schema)  # 3: the upgrade makes the index too
    with StateStore.open(str(state)) as store:
        store.transaction(lambda db: db.execute("UPDATE files SET fingerprint = ? WHERE id = 30", (codec.ARCHIVE,)))
        plan = " ".join(str(r) for r in store.db.execute(f"EXPLAIN QUERY PLAN {_ARCHIVES}"))
    assert "files_archives" in plan  # not a pass over every stored row
    records, _, _ = _run(state, _lists(md5, pdq, rng), bulk=True)
    errors = [json.loads(r) for r in records if json.loads(r)["status"] == "error"]
    assert any(e["location"].endswith("f029.jpg") and "an archive" in json.dumps(e) for e in errors), errors


def test_an_interrupted_rematch_stops_its_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from libra_cli.state import rematch as rematch_module

    rng = np.random.default_rng(10)
    state = tmp_path / "state.db"
    md5, pdq = _state(state, rng)
    lists = _lists(md5, pdq, rng)
    monkeypatch.setattr(rematch_module, "COLUMN_BATCH", 7)  # several batches, read ahead one at a time

    def stop(report: object) -> None:
        raise KeyboardInterrupt

    with StateStore.open(str(state)) as store, pytest.raises(KeyboardInterrupt):
        rematch(store, Matcher.build(lists), make_writer("ndjson", io.StringIO()), lists, listener=stop)
    assert not any(t.name == "libra-state-read" for t in threading.enumerate())
    with StateStore.open(str(state)) as store:  # recorded as interrupted, and the state is usable
        assert store.db.execute("SELECT complete FROM runs ORDER BY id DESC LIMIT 1").fetchone() == (0,)
    assert _run(state, lists, bulk=True) == _run(state, lists, bulk=False)
