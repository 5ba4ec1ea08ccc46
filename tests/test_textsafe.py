"""Hostile names (files in the tree, names in a list) never act on a terminal or forge log lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from libra_cli.textsafe import log_value, printable
from scanhelp import cli, make_identity, make_list


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
