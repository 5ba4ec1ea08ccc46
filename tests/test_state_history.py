"""History and housekeeping of a state file: runs listed, findings that moved, records purged by prefix."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from libra_cli.state.store import SCHEMA
from scanhelp import cli, coffee_and_moon_lists

PHOTOS = Path(__file__).parent / "data" / "photos"


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(identity, a list of coffee.jpg, a list of moon.jpg): two lists with the same hash set."""
    return coffee_and_moon_lists(tmp_path_factory.mktemp("lists"))


def scan(tree: Path, state: Path, identity: Path, *lists: Path) -> int:
    args = ["scan", str(tree), "--state", str(state), "-i", str(identity), "--workers", "1", "-q", "-o",
            str(tree.parent / "findings.json")]  # fmt: skip
    code, _, err = cli(*args, *[a for hl in lists for a in ("--list", str(hl))])
    assert code in (0, 1), err
    return code


def state_json(*args: str) -> object:
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_history_lists_runs_and_diff_tells_appeared_taken_down_and_reappeared(
    tmp_path: Path, lists: tuple[Path, Path, Path]
) -> None:
    identity, coffee, moon = lists
    tree, state = tmp_path / "uploads", tmp_path / "state.db"
    tree.mkdir()
    for name in ("coffee.jpg", "moon.jpg", "coins.jpg"):
        shutil.copy(PHOTOS / name, tree / name)
    assert scan(tree, state, identity, coffee) == 1  # run 1: coffee matches
    assert scan(tree, state, identity, coffee, moon) == 1  # run 2: a new list, moon matches too
    (tree / "coffee.jpg").rename(tmp_path / "away.jpg")
    assert scan(tree, state, identity, coffee, moon) == 1  # run 3: coffee taken down
    (tmp_path / "away.jpg").rename(tree / "coffee.jpg")
    assert scan(tree, state, identity, coffee, moon) == 1  # run 4: coffee uploaded again

    runs = state_json("history", "--state", str(state))
    assert [r["run"] for r in runs] == [1, 2, 3, 4]  # type: ignore[index]
    last = runs[-1]  # type: ignore[index]
    assert last["exit_code"] == 1 and last["complete"] is True and last["findings"] == 2
    assert last["targets"] == [str(tree)] and last["counts"]["files"] == 3
    assert [x["name"] for x in last["lists"]] == ["coffee list", "moon list"]
    assert all(len(x["sha256"]) == 64 for x in last["lists"]) and "pdq" in last["hash_set"]
    assert runs[0]["duration"] >= 0  # type: ignore[index]

    def moved(a: str, b: str) -> dict[str, list[tuple[str, str]]]:
        doc = state_json("history", "diff", a, b, "--state", str(state))
        return {k: [(Path(r["location"]).name, r.get("state", "")) for r in v]  # type: ignore[index]
                for k, v in doc.items() if k in ("appeared", "disappeared", "reappeared")}  # type: ignore[union-attr]  # fmt: skip

    assert moved("1", "2") == {"appeared": [("moon.jpg", "")], "disappeared": [], "reappeared": []}
    assert moved("2", "3") == {"appeared": [], "disappeared": [("coffee.jpg", "taken down")], "reappeared": []}
    assert moved("previous", "last") == {"appeared": [], "disappeared": [], "reappeared": [("coffee.jpg", "")]}
    doc = state_json("history", "diff", "3", "4", "--state", str(state))
    (back,) = doc["reappeared"]  # type: ignore[index]
    assert back["first_seen"] <= back["last_seen"] and back["runs"] == 3 and back["entry"] == "coffee.jpg"

    code, out, _ = cli("history", "--state", str(state))
    assert code == 0 and len(out.splitlines()) == 5  # a header and 4 runs; no legend: no run is marked
    code, _, err = cli("history", "diff", "1", "9", "--state", str(state))
    assert code == 2 and "has no run 9" in err


def test_state_info_forget_and_vacuum(tmp_path: Path, lists: tuple[Path, Path, Path]) -> None:
    identity, coffee, _ = lists
    tree, state = tmp_path / "uploads", tmp_path / "state.db"
    for account in ("alice", "bob"):
        (tree / account).mkdir(parents=True)
        for name in ("coffee.jpg", "coins.jpg"):
            shutil.copy(PHOTOS / name, tree / account / name)
    (tree / "bobby").mkdir()
    shutil.copy(PHOTOS / "coffee.jpg", tree / "bobby" / "x.jpg")
    scan(tree, state, identity, coffee)
    doc = state_json("state", "info", "--state", str(state))
    assert doc["files"] == 5 and doc["runs"] == 1 and doc["findings"] == 3 and doc["schema"] == SCHEMA  # type: ignore[index]
    assert 0 < doc["hash_bytes_per_file"] < 1000  # type: ignore[index,operator]

    code, _, err = cli("state", "forget", str(tree / "bob"), "--state", str(state))
    assert code == 0 and "forgot 2 file records, 1 findings" in err
    with sqlite3.connect(state) as db:
        left = sorted(bytes(r[0]).decode() for r in db.execute("SELECT location FROM files"))
        assert not any("/bob/" in x for x in left) and any("/bobby/" in x for x in left)  # a prefix, not a string
        assert db.execute("SELECT count(*) FROM findings").fetchone() == (2,)
    raw = state.read_bytes()
    assert str(tree / "bob" / "coffee.jpg").encode() not in raw  # purged from free pages too (vacuumed)
    code, _, err = cli("state", "vacuum", "--state", str(state))
    assert code == 0 and "state vacuumed" in err
    code, _, err = cli("state", "info", "--state", str(tmp_path / "none.db"))
    assert code == 2 and "does not exist" in err and not (tmp_path / "none.db").exists()


def test_a_run_still_going_shows_as_running_not_as_killed(tmp_path: Path, lists: tuple[Path, Path, Path]) -> None:
    """An unfinished run is either still going (a writer holds the state's lock) or was killed: history
    tells the two apart."""
    from libra_cli.models import HashConfig
    from libra_cli.state import session

    identity, coffee, _ = lists
    tree, state = tmp_path / "uploads", tmp_path / "state.db"
    tree.mkdir()
    shutil.copy(PHOTOS / "coffee.jpg", tree / "coffee.jpg")
    scan(tree, state, identity, coffee)
    with session(str(state), HashConfig(), [str(tree)]):  # a second run begins and holds the lock
        code, out, err = cli("history", "--state", str(state))
        assert code == 0, err
        last = out.strip().splitlines()[-1]
        assert " run " in f" {last} " and "*" not in last, out
        runs = state_json("history", "--state", str(state))
        assert isinstance(runs, list) and runs[-1].get("running") is True and "running" not in runs[0]
    code, out, _ = cli("history", "--state", str(state))  # the lock is released: nothing shows as running
    assert all(" run " not in f" {line} " for line in out.strip().splitlines()[1:]), out
