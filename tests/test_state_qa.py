"""Defects a QA pass found in the state store: an interrupted run or a partial rematch read as a takedown by
``history diff``, ``state info`` refused during a scan, reversed diff runs, rematch's uncovered files and
allow records. Real scans and rematches into a real SQLite state; an interruption is recorded the way
``StateSession.finish`` records one (tests/test_state_interrupt.py stops real processes)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from libra_cli.state import StateStore
from scanhelp import cli, make_identity, make_list, records

PHOTOS = Path(__file__).parent / "data" / "photos"


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """An identity, a list version 1 (coffee) and version 2 (coffee and moon), both named "hotline"."""
    tmp = tmp_path_factory.mktemp("lists")
    identity = tmp / "identity.txt"
    recipient = make_identity(identity)
    v1 = make_list(tmp, [PHOTOS / "coffee.jpg"], recipient, name="hotline")
    (tmp / "v2").mkdir()
    v2 = make_list(tmp / "v2", [PHOTOS / "coffee.jpg", PHOTOS / "moon.jpg"], recipient, name="hotline")
    make_list(tmp, [PHOTOS / "coins.jpg"], recipient, name="md5 only", extra=("--digests", "md5", "--perceptual", ""))
    return identity, v1, v2


def md5_list(lists: tuple[Path, Path, Path]) -> Path:
    """A list of MD5 only (a state filled for it holds no PDQ)."""
    return lists[1].parent / "md5_only.libra"


def uploads(tmp_path: Path) -> Path:
    tree = tmp_path / "uploads"
    tree.mkdir()
    for name in ("coffee.jpg", "moon.jpg", "coins.jpg"):
        shutil.copy(PHOTOS / name, tree / name)
    return tree


def scan(target: Path, state: Path, identity: Path, hashlist: Path, *extra: str) -> int:
    code, _, err = cli("scan", str(target), "--state", str(state), "-l", str(hashlist), "-i", str(identity),
                       "-w", "1", "-q", "-o", str(state.parent / "findings.json"), *extra)  # fmt: skip
    assert code in (0, 1), err
    return code


def interrupted(state: Path, run: int) -> None:
    """Record ``run`` as a SIGTERM records it: finished, complete 0, exit 2, counts.interrupted."""
    with sqlite3.connect(state) as db:
        counts = json.loads(db.execute("SELECT counts FROM runs WHERE id = ?", (run,)).fetchone()[0])
        db.execute("UPDATE runs SET complete = 0, exit_code = 2, counts = ? WHERE id = ?",
                   (json.dumps({**counts, "interrupted": True}), run))  # fmt: skip


def diff(state: Path, *runs: str) -> dict[str, object]:
    code, out, err = cli("history", "diff", *runs, "--state", str(state), "-f", "json")
    assert code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


def names(doc: dict[str, object], kind: str) -> list[str]:
    return [Path(r["location"]).name for r in doc[kind]]  # type: ignore[attr-defined,index]


def test_an_interrupted_run_is_no_takedown_and_is_marked(tmp_path: Path, lists: tuple[Path, Path, Path]) -> None:
    identity, _, v2 = lists
    tree, state = uploads(tmp_path), tmp_path / "state.db"
    assert scan(tree, state, identity, v2) == 1  # run 1: coffee and moon
    code, out, _ = cli("history", "--state", str(state))
    assert code == 0 and "*" not in out and "incomplete" not in out  # no marked row: no legend
    scan(tree / "coins.jpg", state, identity, v2)  # run 2 reached only coins.jpg before it was stopped
    interrupted(state, 2)

    code, _, err = cli("history", "diff", "--state", str(state))
    assert code == 2 and "no previous complete run" in err and len(err.strip().splitlines()) == 1
    doc = diff(state, "1", "2")  # named explicitly: said so, and nothing reads as gone
    assert doc["disappeared"] == [] and sorted(names(doc, "unchecked")) == ["coffee.jpg", "moon.jpg"]
    assert any("run 2 was interrupted" in n for n in doc["notes"])  # type: ignore[attr-defined]
    code, out, _ = cli("history", "diff", "1", "2", "--state", str(state))
    assert code == 0 and "note: run 2 was interrupted" in out and "disappeared: 0" in out and "unchecked: 2" in out

    assert scan(tree, state, identity, v2) == 1  # run 3: complete again
    doc = diff(state)  # previous/last: runs 1 and 3, the interrupted run skipped
    assert (doc["from"], doc["to"]) == (1, 3) and doc["notes"] == []
    assert all(doc[k] == [] for k in ("appeared", "disappeared", "reappeared", "unchecked"))
    doc = diff(state, "2", "3")  # the interrupted run's absences are not reappearances
    assert doc["reappeared"] == [] and doc["appeared"] == []

    runs = json.loads(cli("history", "--state", str(state), "-f", "json")[1])
    assert [(r["exit_code"], r["complete"]) for r in runs] == [(1, True), (2, False), (1, True)]
    code, out, _ = cli("history", "--state", str(state))
    rows = out.splitlines()
    assert " 2*" in rows[2] and "*" not in rows[1] + rows[3] and "(* incomplete" in rows[-1]


def test_a_partial_rematch_makes_no_transitions(tmp_path: Path, lists: tuple[Path, Path, Path]) -> None:
    identity, v1, v2 = lists
    tree, state = uploads(tmp_path), tmp_path / "state.db"
    assert scan(tree, state, identity, v1) == 1  # run 1: coffee
    code, _, err = cli("rematch", "--state", str(state), "-l", str(v2), "--only-new-entries", str(v1),
                       "-i", str(identity), "-o", str(tmp_path / "new.json"))  # fmt: skip
    assert code == 1, err  # run 2: moon, the only new entry
    assert scan(tree, state, identity, v2) == 1  # run 3: coffee and moon, as every scan from now on

    doc = diff(state)  # the partial rematch is skipped: moon appeared between the two scans
    assert (doc["from"], doc["to"]) == (1, 3) and names(doc, "appeared") == ["moon.jpg"]
    assert doc["reappeared"] == [] and doc["disappeared"] == []
    doc = diff(state, "2", "3")  # coffee was matched by every scan: not reappeared
    assert all(doc[k] == [] for k in ("appeared", "disappeared", "reappeared")) and len(doc["notes"]) == 1  # type: ignore[arg-type]
    doc = diff(state, "1", "2")
    assert names(doc, "appeared") == ["moon.jpg"] and doc["disappeared"] == [] and names(doc, "unchecked") == [
        "coffee.jpg"
    ]
    runs = json.loads(cli("history", "--state", str(state), "-f", "json")[1])
    assert "new since an older list version" in runs[1]["counts"]["partial"]
    assert " 1*" in cli("history", "--state", str(state))[1].splitlines()[2]


def test_state_info_reads_while_a_run_holds_the_state_and_reversed_runs_are_refused(
    tmp_path: Path, lists: tuple[Path, Path, Path]
) -> None:
    identity, v1, _ = lists
    tree, state = uploads(tmp_path), tmp_path / "state.db"
    scan(tree, state, identity, v1)
    scan(tree, state, identity, v1)
    with StateStore.open(str(state)):  # the writer's lock, as a running scan holds it
        code, out, err = cli("state", "info", "--state", str(state), "-f", "json")
        assert code == 0, err
        assert json.loads(out)["files"] == 3
        code, _, err = cli("state", "vacuum", "--state", str(state))
        assert code == 2 and "in use by another libra run" in err
    code, out, err = cli("history", "diff", "2", "1", "--state", str(state))
    assert code == 2 and out == "" and "name the earlier run first (1 2)" in err and len(err.strip().splitlines()) == 1


def test_rematch_names_uncovered_files_and_applies_allow_records(
    tmp_path: Path, lists: tuple[Path, Path, Path]
) -> None:
    identity, _, v2 = lists
    tree = uploads(tmp_path)
    digests_only, state = tmp_path / "digests.db", tmp_path / "state.db"
    scan(tree, digests_only, identity, md5_list(lists))
    out = tmp_path / "rematch.json"
    code, _, err = cli("rematch", "--state", str(digests_only), "-l", str(v2), "-i", str(identity), "-o", str(out))
    assert code == 1 and "2 matched, 3 not covered by the stored hashes" in err, err  # MD5 still matches
    doc = json.loads(out.read_text())
    errors = records(doc, "error")
    assert doc["summary"]["not_covered"] == 3 and doc["complete"] is False
    assert sorted(Path(r["location"]).name for r in errors) == ["coffee.jpg", "coins.jpg", "moon.jpg"]
    lack = "stored hashes lack blake3, sha1, sha256, pdq, which the lists use; rescan it"
    assert [r["reason"] for r in errors] == [lack] * 3, errors

    assert scan(tree, state, identity, v2) == 1  # coffee and moon
    code, _, err = cli("allow", "add", str(tree / "coffee.jpg"), "--reason", "ticket 7: reviewed",
                       "--state", str(state))  # fmt: skip
    assert code == 0, err
    code, _, err = cli("rematch", "--state", str(state), "-l", str(v2), "-i", str(identity), "-o", str(out))
    assert code == 1 and "1 matched, 1 allowed" in err, err
    doc = json.loads(out.read_text())
    assert [Path(r["location"]).name for r in records(doc)] == ["moon.jpg"]
    (allowed,) = records(doc, "allowed")
    assert Path(allowed["location"]).name == "coffee.jpg" and allowed["allowed"] == "ticket 7: reviewed"
    assert doc["summary"]["matched"] == 1 and doc["summary"]["allowed"] == 1
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT location, allowed FROM findings WHERE run = 2 ORDER BY location").fetchall()
    assert [(Path(bytes(x).decode()).name, why) for x, why in rows] == [
        ("coffee.jpg", "ticket 7: reviewed"), ("moon.jpg", None)
    ]
    code, _, err = cli("allow", "add", str(tree / "moon.jpg"), "--reason", "ticket 8", "--state", str(state))
    code, _, err = cli("rematch", "--state", str(state), "-l", str(v2), "-i", str(identity), "-o", str(out))
    assert code == 0 and "0 matched, 2 allowed" in err, err  # everything reviewed: nothing found


def test_the_hook_is_told_exit_code_2_after_an_interrupted_run_that_found_something() -> None:
    """As hook.py and docs/commands/scan.md now say (the hook's behaviour is unchanged)."""
    from libra_cli.hook import hook_env
    from libra_cli.report import Report

    env = hook_env("/var/lib/libra/findings.json", Report(files=2, matched=1, interrupted=True), base={})
    assert (env["LIBRA_EXIT_CODE"], env["LIBRA_COMPLETE"], env["LIBRA_MATCHED"]) == ("2", "0", "1")
    env = hook_env("/var/lib/libra/findings.json", Report(files=2, matched=1), base={})
    assert (env["LIBRA_EXIT_CODE"], env["LIBRA_COMPLETE"]) == ("1", "1")
