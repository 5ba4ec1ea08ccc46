"""Hostile names (files in the tree, names in a list) never act on a terminal or forge log lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from libra_cli.textsafe import log_value, printable
from scanhelp import cli, make_identity, make_list, records


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("plain", "plain"), ("a\nb", "a\\nb"), ("\x1b[2J", "\\x1b[2J"), ("tab\there", "tab\\there"), (None, "")],
)
def test_printable(raw: str | None, shown: str) -> None:
    assert printable(raw) == shown


@pytest.mark.parametrize(
    ("raw", "logged"),
    [("/srv/a.jpg", "/srv/a.jpg"), ("my list", '"my list"'), ("a=b", '"a=b"'), ("x\ny", '"x\\ny"'), ("", '""')],
)
def test_log_value(raw: str, logged: str) -> None:
    assert log_value(raw) == logged
    assert "\n" not in log_value(raw)


def test_hostile_file_name_is_one_log_line_and_exact_in_findings(tmp_path: Path, photos: Path) -> None:
    identity = tmp_path / "id.txt"
    hashlist = make_list(tmp_path, [photos / "moon.jpg"], make_identity(identity))
    tree = tmp_path / "tree"
    tree.mkdir()
    name = "evil\nlibra WARNING forged\x1b[2J.jpg"
    shutil.copy(photos / "moon.jpg", tree / name)
    code, out, err = cli("scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "1", "--log-level", "info")
    assert code == 1
    assert json.loads(out)["findings"][0]["location"].endswith(name)  # findings keep the exact name
    match_lines = [line for line in err.splitlines() if " match location=" in line]
    assert len(match_lines) == 1 and "\\n" in match_lines[0] and "\x1b" not in err
    assert not any(line.startswith("libra WARNING forged") for line in err.splitlines())


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
def test_non_utf8_file_names_never_stop_a_scan(tmp_path: Path, photos: Path, fmt: str) -> None:
    import os

    identity = tmp_path / "id.txt"
    hashlist = make_list(tmp_path, [photos / "moon.jpg"], make_identity(identity))
    tree = tmp_path / "tree"
    tree.mkdir()
    raw = os.fsencode(tree) + b"/bad\xff.jpg"
    with open(raw, "wb") as handle:
        handle.write((photos / "moon.jpg").read_bytes())
    with open(os.fsencode(tree) + b"/broken\xfe.jpg", "wb") as handle:
        handle.write((photos / "moon.jpg").read_bytes()[:500])
    out = tmp_path / f"findings.{fmt}"
    code, _, err = cli("scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "1", "-q", "-o", str(out))
    assert code == 1, err
    text = out.read_text(encoding="utf-8")  # valid UTF-8 throughout
    if fmt == "json":
        doc = json.loads(text)
        names = [records(doc)[0]["location"], records(doc, "warning")[0]["location"]]
    elif fmt == "ndjson":
        lines = [json.loads(line) for line in text.splitlines()]
        names = [x["location"] for x in lines if x["type"] in ("finding", "error")]
    else:
        names = sorted({row.split(",")[1] for row in text.splitlines()[1:]})  # a row per match
    assert sorted(Path(n).name for n in names) == ["bad\\xff.jpg", "broken\\xfe.jpg"]
    code, out_text, err = cli("hash", str(tree), "-w", "1")
    assert code == 0 and "bad\\\\xff.jpg" in out_text  # JSON-escaped backslash
