"""Allow records (reviewed false positives) and ``--new-only``: real state files, real photos, real lists."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from scanhelp import cli, make_identity, make_list, records

PHOTOS = Path(__file__).parent / "data" / "photos"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lists")
    identity = tmp / "identity.txt"
    return identity, make_list(tmp, [PHOTOS / "coffee.jpg"], make_identity(identity), name="coffee list")


@pytest.fixture(scope="module")
def coffee_hashes() -> dict[str, str]:
    """The file's own hashes, as ``libra hash`` prints them (an operator copies them from a finding)."""
    code, out, err = cli("hash", str(PHOTOS / "coffee.jpg"), "-f", "csv", "-w", "1")
    assert code == 0, err
    return {r["hash_type"]: r["hash"] for r in csv.DictReader(io.StringIO(out)) if r["variant"] in ("", "original")}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    (root / "a").mkdir(parents=True)
    shutil.copy(PHOTOS / "coffee.jpg", root / "a" / "coffee.jpg")
    shutil.copy(PHOTOS / "moon.jpg", root / "a" / "moon.jpg")
    return root


def scan(tree: Path, keyed: tuple[Path, Path], *extra: str) -> tuple[int, dict[str, object], str]:
    identity, hashlist = keyed
    state = tree.parent / "state.db"
    args = ["scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "1", "-q", "--state", str(state)]
    code, out, err = cli(*args, *extra)
    return code, json.loads(out), err


def allowed(doc: dict[str, object]) -> list[dict[str, object]]:
    return records(doc, "allowed")


def test_new_only_alerts_only_on_matches_no_earlier_run_reported(tree: Path, keyed: tuple[Path, Path]) -> None:
    hook_ran = tree.parent / "hook-ran"
    hook = ("--on-match", f"touch {hook_ran}")
    code, doc, err = scan(tree, keyed, "--new-only", *hook)
    assert code == 1, err
    assert [r["new"] for r in records(doc)] == [True] and doc["summary"]["new"] == 1
    assert hook_ran.exists()
    hook_ran.unlink()
    code, doc, err = scan(tree, keyed, "--new-only", *hook)
    assert code == 0, err  # seen before: written, but no alert
    assert [r["new"] for r in records(doc)] == [False] and doc["summary"]["matched"] == 1
    assert not hook_ran.exists()
    code, doc, _ = scan(tree, keyed)  # without --new-only the same match is exit 1, still marked not new
    assert code == 1 and [r["new"] for r in records(doc)] == [False]
    shutil.copy(PHOTOS / "coffee.jpg", tree / "again.jpg")  # uploaded again elsewhere: a new finding
    code, doc, err = scan(tree, keyed, "--new-only", *hook)
    assert code == 1, err
    assert {os.path.basename(r["location"]): r["new"] for r in records(doc)} == {"coffee.jpg": False, "again.jpg": True}
    assert hook_ran.exists()
    # taken down, then uploaded again at the same place: new again (a known item came back)
    (tree / "again.jpg").unlink()
    assert scan(tree, keyed)[0] == 1
    shutil.copy(PHOTOS / "coffee.jpg", tree / "again.jpg")
    code, doc, err = scan(tree, keyed, "--new-only")
    assert code == 1, err
    assert {os.path.basename(r["location"]): r["new"] for r in records(doc)} == {"coffee.jpg": False, "again.jpg": True}


def test_an_allowed_location_is_reported_as_allowed_until_the_file_changes(
    tree: Path, keyed: tuple[Path, Path]
) -> None:
    state = tree.parent / "state.db"
    coffee = tree / "a" / "coffee.jpg"
    assert scan(tree, keyed)[0] == 1
    code, _, err = cli("allow", "add", str(coffee), "--reason", "ticket 7: staff photo", "--state", str(state))
    assert code == 0 and "allow record 1 added" in err
    code, doc, err = scan(tree, keyed)
    assert code == 0, err
    assert records(doc) == [] and doc["summary"]["matched"] == 0 and doc["summary"]["allowed"] == 1
    (record,) = allowed(doc)
    assert record["location"] == str(coffee) and record["allowed"] == "ticket 7: staff photo"
    assert record["matches"][0]["list"] == "coffee list"  # what was suppressed stays visible
    db = sqlite3.connect(state)
    assert db.execute("SELECT run, allowed FROM findings ORDER BY run").fetchall() == [
        (1, None), (2, "ticket 7: staff photo")
    ]  # fmt: skip
    code, out, _ = cli("history", "--state", str(state), "--format", "json")
    assert code == 0 and [r["findings"] for r in json.loads(out)] == [1, 0]
    assert json.loads(out)[1]["counts"]["allowed"] == 1
    code, out, err = cli("history", "diff", "1", "2", "--state", str(state), "--format", "json")
    moved = json.loads(out)
    assert code == 0 and moved["disappeared"] == [], err  # allowed is not taken down
    assert [r["location"] for r in moved["allowed"]] == [str(coffee)]
    code, out, _ = cli("allow", "list", "--state", str(state), "--format", "json")
    assert code == 0 and json.loads(out)[0]["suppressed"] == 1 and json.loads(out)[0]["value"] == str(coffee)
    os.utime(coffee, ns=(1, 1))  # a new version at the same place: reviewed nothing, so matched again
    code, doc, _ = scan(tree, keyed)
    assert code == 1 and len(records(doc)) == 1 and allowed(doc) == []


@pytest.mark.parametrize("kind", ["sha256", "bare-sha256", "md5", "pdq"])
def test_an_allowed_hash_covers_every_copy(
    tree: Path, keyed: tuple[Path, Path], coffee_hashes: dict[str, str], kind: str
) -> None:
    state = tree.parent / "state.db"
    shutil.copy(PHOTOS / "coffee.jpg", tree / "copy.jpg")
    assert scan(tree, keyed)[0] == 1
    value = coffee_hashes["sha256"] if kind == "bare-sha256" else f"{kind}:{coffee_hashes[kind]}"
    code, _, err = cli("allow", "add", value, "--reason", "reviewed", "--state", str(state))
    assert code == 0, err
    code, doc, err = scan(tree, keyed)
    assert code == 0, err
    assert sorted(os.path.basename(r["location"]) for r in allowed(doc)) == ["coffee.jpg", "copy.jpg"]
    code, out, _ = cli("allow", "list", "--state", str(state), "--format", "json")
    (listed,) = json.loads(out)
    assert listed["kind"] == kind.removeprefix("bare-") and listed["suppressed"] == 2
    code, _, err = cli("allow", "remove", str(listed["id"]), "--state", str(state))
    assert code == 0, err
    code, doc, _ = scan(tree, keyed)
    assert code == 1 and len(records(doc)) == 2 and allowed(doc) == []  # withdrawn: matched again


def test_a_pdq_allow_is_exact_a_near_copy_still_matches(
    tree: Path, keyed: tuple[Path, Path], coffee_hashes: dict[str, str]
) -> None:
    from PIL import Image, ImageEnhance

    state = tree.parent / "state.db"
    with Image.open(PHOTOS / "coffee.jpg") as img:
        ImageEnhance.Brightness(img).enhance(1.2).save(tree / "brighter.jpg")  # PDQ 8 bits away: still a match
    assert scan(tree, keyed)[0] == 1
    cli("allow", "add", f"pdq:{coffee_hashes['pdq']}", "--reason", "reviewed", "--state", str(state))
    code, doc, _ = scan(tree, keyed)
    assert [os.path.basename(r["location"]) for r in allowed(doc)] == ["coffee.jpg"]
    assert code == 1 and [os.path.basename(r["location"]) for r in records(doc)] == ["brighter.jpg"]


def test_bad_allow_input_is_one_sentence(tree: Path, keyed: tuple[Path, Path]) -> None:
    state = tree.parent / "state.db"
    code, _, err = cli("allow", "add", str(tree / "x.jpg"), "--reason", "r", "--state", str(state))
    assert code == 2 and "does not exist" in err  # no state yet: never created by allow
    assert not state.exists()
    scan(tree, keyed)
    for what, reason, said in [
        (str(tree / "never-scanned.jpg"), "r", "is not in state"),
        ("sha256:abc", "r", "take 64 hex digits"),
        ("sha256:" + "0" * 64, " ", "--reason is required"),
    ]:
        code, _, err = cli("allow", "add", what, "--reason", reason, "--state", str(state))
        assert code == 2 and said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("allow", "remove", "99", "--state", str(state))
    assert code == 2 and "no allow record 99" in err
    identity, hashlist = keyed
    for flag in ("--new-only", "--resume"):
        code, _, err = cli("scan", str(tree), "-l", str(hashlist), "-i", str(identity), flag)
        assert code == 2 and f"{flag} needs --state" in err
