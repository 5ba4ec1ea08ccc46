"""The state store (``--state``): real SQLite files, real photos, real encrypted lists, ``libra scan`` end to end."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from libra_cli.errors import StateError
from libra_cli.state import StateStore
from libra_cli.state.store import APPLICATION_ID, MIGRATIONS, SCHEMA
from scanhelp import cli, coffee_and_moon_lists, records

PHOTOS = Path(__file__).parent / "data" / "photos"


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(identity, a list of coffee.jpg, a list of moon.jpg): two lists with the same hash set."""
    return coffee_and_moon_lists(tmp_path_factory.mktemp("lists"))


@pytest.fixture(scope="module")
def md5_list(tmp_path_factory: pytest.TempPathFactory, lists: tuple[Path, Path, Path]) -> Path:
    """A list of one MD5 (of coffee.jpg): a run with it computes MD5 only."""
    tmp = tmp_path_factory.mktemp("md5list")
    source = tmp / "md5.csv"
    source.write_text(f"hash_type,hash,id\nmd5,{hashlib.md5((PHOTOS / 'coffee.jpg').read_bytes()).hexdigest()},c1\n")
    recipient = re.search(r"age1[0-9a-z]+", lists[0].read_text())
    assert recipient
    target = tmp / "md5.libra"
    code, _, err = cli("hashlist", "build", str(source), "-o", str(target), "--recipient", recipient.group(0))
    assert code == 0, err
    return target


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    (root / "a").mkdir(parents=True)
    for name in ("coffee.jpg", "moon.jpg", "coins.jpg"):
        shutil.copy(PHOTOS / name, root / "a" / name)
    shutil.copy(PHOTOS / "brick.jpg", root / "brick.jpg")
    (root / "readme.txt").write_text("nothing to see\n")
    return root


def scan(
    tree: Path, state: Path, identity: Path, *lists: Path, extra: tuple[str, ...] = ()
) -> tuple[int, dict[str, object], dict[str, int], str]:
    """One ``libra scan --state``: (exit code, findings, the state's counts from the log, stderr)."""
    log = tree.parent / "scan.log"
    log.unlink(missing_ok=True)
    args = ["scan", str(tree), "--state", str(state), "-i", str(identity), "--workers", "1", "-q"]
    args += [a for hl in lists for a in ("--list", str(hl))]
    code, out, err = cli(*args, "--log-file", str(log), "--log-level", "info", *extra)
    counts: dict[str, int] = {}
    if log.exists():
        found = re.search(r"state recorded run=(\d+) reused=(\d+) hashed=(\d+) stored=(\d+)", log.read_text())
        if found:
            counts = dict(zip(("run", "reused", "hashed", "stored"), map(int, found.groups()), strict=True))
    return code, (json.loads(out) if out.strip() else {}), counts, err


def matched(doc: dict[str, object]) -> set[str]:
    return {os.path.basename(r["location"]) for r in records(doc)}


def test_an_unchanged_tree_is_matched_from_the_state_without_reading_it(
    tree: Path, tmp_path: Path, lists: tuple[Path, Path, Path]
) -> None:
    identity, coffee, _ = lists
    state = tmp_path / "var" / "state.db"
    code, first, counts, err = scan(tree, state, identity, coffee)
    assert code == 1, err
    assert counts == {"run": 1, "reused": 0, "hashed": 5, "stored": 5}
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    code, second, counts, _ = scan(tree, state, identity, coffee)
    assert code == 1
    assert counts == {"run": 2, "reused": 5, "hashed": 0, "stored": 0}  # nothing went to the engine
    assert matched(first) == matched(second) == {"coffee.jpg"}
    assert first["summary"] == second["summary"]
    (finding,) = records(second)
    assert set(finding["digests"]) >= {"md5", "sha1", "sha256"}  # the report's digests are still complete


def test_a_changed_file_is_hashed_again_and_only_it(tree: Path, tmp_path: Path, lists: tuple[Path, Path, Path]) -> None:
    identity, coffee, _ = lists
    state = tmp_path / "state.db"
    scan(tree, state, identity, coffee)
    shutil.copy(PHOTOS / "coffee.jpg", tree / "brick.jpg")  # rewritten in place: new content, same name
    (tree / "new.jpg").write_bytes((PHOTOS / "chelsea.jpg").read_bytes())
    code, doc, counts, _ = scan(tree, state, identity, coffee)
    assert code == 1
    assert counts["reused"] == 4 and counts["hashed"] == 2
    assert matched(doc) == {"coffee.jpg", "brick.jpg"}


def test_a_list_added_later_matches_an_unchanged_stored_file(
    tree: Path, tmp_path: Path, lists: tuple[Path, Path, Path]
) -> None:
    identity, coffee, moon = lists
    state = tmp_path / "state.db"
    scan(tree, state, identity, coffee)
    code, doc, counts, _ = scan(tree, state, identity, coffee, moon)
    assert code == 1
    assert counts["hashed"] == 0 and counts["reused"] == 5
    assert matched(doc) == {"coffee.jpg", "moon.jpg"}


def test_a_run_needing_another_hash_type_rehashes_only_media_and_keeps_the_stored_types(
    tree: Path, tmp_path: Path, lists: tuple[Path, Path, Path], md5_list: Path
) -> None:
    identity, coffee, _ = lists
    state = tmp_path / "state.db"
    code, _, counts, _ = scan(tree, state, identity, md5_list)
    assert code == 1 and counts["hashed"] == 5
    _, doc, counts, _ = scan(tree, state, identity, coffee)  # the list needs PDQ and more digests
    assert counts["hashed"] == 5 and matched(doc) == {"coffee.jpg"}
    _, doc, counts, _ = scan(tree, state, identity, md5_list, extra=("--hash-set", "md5,pdq"))
    assert counts == {"run": 3, "reused": 5, "hashed": 0, "stored": 0} and matched(doc) == {"coffee.jpg"}
    _, _, counts, _ = scan(tree, state, identity, coffee, extra=("--no-dihedral",))  # other PDQ parameters
    assert counts["hashed"] == 4 and counts["reused"] == 1  # the text file has no perceptual hashes to redo
    _, _, counts, _ = scan(tree, state, identity, coffee, extra=("--no-dihedral", "--deep"))
    assert counts["hashed"] == 4  # --deep is part of the parameters too


def test_files_removed_since_the_last_run_are_marked_gone(
    tree: Path, tmp_path: Path, lists: tuple[Path, Path, Path]
) -> None:
    identity, coffee, _ = lists
    state = tmp_path / "state.db"
    scan(tree, state, identity, coffee)
    (tree / "a" / "moon.jpg").unlink()
    scan(tree, state, identity, coffee)
    with sqlite3.connect(state) as db:
        rows = {
            os.path.basename(bytes(loc).decode()): (gone, seen)
            for loc, gone, seen in db.execute("SELECT location, gone_at, last_seen FROM files")
        }
    assert rows["moon.jpg"][0] is not None and rows["moon.jpg"][1] < rows["coins.jpg"][1]
    assert all(gone is None for name, (gone, _) in rows.items() if name != "moon.jpg")


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    sqlite3.connect(path).close()


def _truncated_state(path: Path) -> None:
    with StateStore.open(str(path)) as store:
        store.transaction(lambda db: db.execute("CREATE TABLE padding (x BLOB)"))
        store.transaction(lambda db: db.executemany("INSERT INTO padding VALUES (?)", [(b"x" * 4000,)] * 20))
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.write_text("these are my notes\n"), "is not a libra state file (not an SQLite database)"),
        (lambda p: p.write_bytes(b""), "is not a libra state file (not an SQLite database)"),
        (_foreign_sqlite, "is another program's SQLite database, not a libra state file"),
        (_truncated_state, "is truncated"),
    ],
    ids=["text", "empty", "foreign-sqlite", "truncated"],
)
def test_a_file_that_is_not_a_whole_libra_state_is_refused_and_left_as_it_is(
    make: object, says: str, tree: Path, tmp_path: Path, lists: tuple[Path, Path, Path]
) -> None:
    identity, coffee, _ = lists
    state = tmp_path / "state.db"
    make(state)  # type: ignore[operator]
    before = state.read_bytes()
    code, doc, _, err = scan(tree, state, identity, coffee)
    assert code == 2 and doc == {}
    assert err.count("\n") == 1 and err.startswith("libra: ") and says in err, err
    assert "Traceback" not in err
    assert state.read_bytes() == before


def test_a_newer_schema_is_refused_and_an_older_one_is_upgraded(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with StateStore.open(str(newer)) as store:
        store.transaction(lambda db: db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'"))
    before = newer.read_bytes()
    with pytest.raises(StateError, match="written by a newer libra \\(schema 99\\)"):
        StateStore.open(str(newer))
    assert newer.read_bytes() == before

    old = tmp_path / "v1.db"  # the first schema, as a libra of that time wrote it
    with sqlite3.connect(old, isolation_level=None) as db:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.executescript(MIGRATIONS[1])
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("application", "libra-state"), ("schema", "1")])
        db.execute("INSERT INTO runs (started) VALUES (1.0)")
        db.execute(
            "INSERT INTO files (location, size, computed, fingerprint, hashes, first_seen, last_seen, hashed_at, "
            "last_run) VALUES (?, 3, 'md5', 'x', ?, 1, 1, 1, 1)",
            (b"/srv/a.txt", b"\x00"),
        )
    db.close()
    with StateStore.open(str(old)) as store:
        assert store.schema_version() == SCHEMA
        assert store.db.execute("SELECT count(*) FROM files").fetchone() == (1,)
        assert store.db.execute("SELECT command, targets FROM runs").fetchone() == ("scan", "[]")
        assert store.db.execute("PRAGMA user_version").fetchone() == (SCHEMA,)


def test_a_second_writer_is_refused_while_the_first_holds_the_state(
    tree: Path, tmp_path: Path, lists: tuple[Path, Path, Path]
) -> None:
    identity, coffee, _ = lists
    state = tmp_path / "state.db"
    with StateStore.open(str(state)):
        code, doc, _, err = scan(tree, state, identity, coffee)
        assert code == 2 and doc == {}
        assert err.strip() == f"libra: state {state} is in use by another libra run (pid {os.getpid()})"
    code, _, counts, _ = scan(tree, state, identity, coffee)  # released: the next run goes ahead
    assert code == 1 and counts["hashed"] == 5
