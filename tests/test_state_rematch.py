"""``libra rematch``: stored hashes against new lists without opening media (the media are made unreadable)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from scanhelp import cli, make_identity, make_list, records

PHOTOS = Path(__file__).parent / "data" / "photos"


def test_rematch_matches_stored_hashes_without_reading_media_and_only_new_entries(tmp_path: Path) -> None:
    identity = tmp_path / "identity.txt"
    recipient = make_identity(identity)
    v1 = make_list(tmp_path, [PHOTOS / "coffee.jpg"], recipient, name="hotline")
    (tmp_path / "v2").mkdir()
    v2 = make_list(tmp_path / "v2", [PHOTOS / "coffee.jpg", PHOTOS / "moon.jpg"], recipient, name="hotline")
    tree, state = tmp_path / "uploads", tmp_path / "state.db"
    tree.mkdir()
    for name in ("coffee.jpg", "moon.jpg", "coins.jpg"):
        shutil.copy(PHOTOS / name, tree / name)
    code, _, err = cli("scan", str(tree), "-l", str(v1), "-i", str(identity), "--state", str(state), "-w", "1", "-q")
    assert code == 1, err
    for photo in tree.iterdir():
        photo.chmod(0)  # rematch must not open them (a scan now could not read them)
    if os.access(tree / "moon.jpg", os.R_OK):  # root reads anything: remove them instead
        shutil.rmtree(tree)

    out = tmp_path / "rematch.json"
    code, _, err = cli("rematch", "--state", str(state), "-l", str(v2), "-i", str(identity), "-o", str(out))
    assert code == 1, err
    assert "rematched 3 stored files: 2 matched" in err
    doc = json.loads(out.read_text())
    found = {Path(r["location"]).name: r for r in records(doc)}
    assert set(found) == {"coffee.jpg", "moon.jpg"}
    assert all(r["last_seen"] and r["digests"]["md5"] for r in found.values())
    assert doc["complete"] is True and doc["summary"]["files"] == 3

    code, out_text, err = cli(
        "rematch", "--state", str(state), "-l", str(v2), "--only-new-entries", str(v1), "-i", str(identity),
        "-f", "ndjson",
    )  # fmt: skip
    assert code == 1, err
    lines = [json.loads(x) for x in out_text.splitlines()]
    assert [Path(x["location"]).name for x in lines if x.get("status") == "match"] == ["moon.jpg"]
    assert 0 < lines[0]["lists"][0]["entries"] < doc["lists"][0]["entries"]  # narrowed to the new entries

    code, out_text, _ = cli("history", "--state", str(state), "-f", "json")
    runs = json.loads(out_text)
    assert [r["command"] for r in runs] == ["scan", "rematch", "rematch"]
    assert [r["findings"] for r in runs] == [1, 2, 1]

    # the versions swapped: nothing is new, and the person is told so rather than given a silent "0 matched"
    code, _, err = cli("rematch", "--state", str(state), "-l", str(v1), "--only-new-entries", str(v2),
                       "-i", str(identity), "-o", str(tmp_path / "swapped.json"))  # fmt: skip
    assert code == 0 and "adds no entries over" in err and "swapped" in err, err

    # --only-new-entries names one list: a folder of two is one sentence, not an internal error
    both = tmp_path / "both"
    both.mkdir()
    shutil.copy(v1, both / "a.libra")
    shutil.copy(v2, both / "b.libra")
    code, _, err = cli("rematch", "--state", str(state), "-l", str(v2), "--only-new-entries", str(both),
                       "-i", str(identity))  # fmt: skip
    assert code == 2 and "--only-new-entries names one list file, not 2" in err and "internal error" not in err


def test_rematch_without_a_state_says_so(tmp_path: Path) -> None:
    identity = tmp_path / "identity.txt"
    recipient = make_identity(identity)
    hl = make_list(tmp_path, [PHOTOS / "coffee.jpg"], recipient)
    code, out, err = cli("rematch", "--state", str(tmp_path / "no.db"), "-l", str(hl), "-i", str(identity))
    assert code == 2 and out == "" and "does not exist" in err and not (tmp_path / "no.db").exists()
