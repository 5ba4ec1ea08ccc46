"""Hostile names (files in the tree, names in a list) never act on a terminal or forge log lines."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from libra_cli.textsafe import location_bytes, location_from_text, location_text, log_value, printable
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
    location = json.loads(out)["findings"][0]["location"]
    assert "\n" not in location and location_from_text(location).endswith(name)  # escaped, and exact
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


# ------------------------------------------------------------------------------------- location encoding

PROPERTY = settings(database=None, deadline=None, max_examples=200)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"/srv/plain.jpg", "/srv/plain.jpg"),
        (b"/srv/bad\xff.jpg", "/srv/bad\\xff.jpg"),  # the raw byte 0xFF ...
        (b"/srv/bad\\xff.jpg", "/srv/bad\\\\xff.jpg"),  # ... and the text backslash, x, f, f: not the same
        (b"/srv/two\nlines", "/srv/two\\u000alines"),
        (b"/srv/\x1b[2J", "/srv/\\u001b[2J"),
        (b"/srv/\xe2\x80\xaegpj.exe", "/srv/\\u202egpj.exe"),  # right-to-left override
        (b"/srv/caf\xc3\xa9 \xf0\x9f\x93\xb7.jpg", "/srv/caf\u00e9 \U0001f4f7.jpg"),  # printable: kept
        (b"/srv/\xed\xa0\x80", "/srv/\\xed\\xa0\\x80"),  # an encoded surrogate is not UTF-8
    ],
)
def test_location_text_examples(raw: bytes, text: str) -> None:
    uri = os.fsdecode(raw)
    assert location_text(uri) == text
    assert os.fsencode(location_from_text(text)) == raw


def test_location_bytes_only_for_names_that_are_not_utf8() -> None:
    assert location_bytes("/srv/caf\u00e9\n.jpg") is None
    assert base64.b64decode(location_bytes(os.fsdecode(b"/srv/bad\xff.jpg")) or "") == b"/srv/bad\xff.jpg"


@pytest.mark.parametrize("text", ["a\\", "a\\q", "a\\x4", "a\\x41", "a\\u12", "a\\XFF"])
def test_text_location_text_cannot_make_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a location text"):
        location_from_text(text)


@PROPERTY
@given(st.binary(max_size=64))
@example(b"\\xff")
@example(b"\xff")
@example(b"\\\\x")
def test_location_text_is_reversible_over_any_byte_name(raw: bytes) -> None:
    uri = os.fsdecode(raw)  # how Python hands over a file name (undecodable bytes as lone surrogates)
    text = location_text(uri)
    assert text.isprintable()  # one line, no control characters: safe in CSV, logs and terminals
    assert location_from_text(text) == uri and os.fsencode(location_from_text(text)) == raw
    encoded = location_bytes(uri)
    assert (encoded is None) == _is_utf8(raw)
    assert encoded is None or base64.b64decode(encoded) == raw


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@PROPERTY
@given(st.binary(max_size=24), st.binary(max_size=24))
@example(b"\xff", b"\\xff")
@example(b"\\", b"\\\\")
def test_distinct_names_never_share_a_location(one: bytes, other: bytes) -> None:
    if one != other:
        assert location_text(os.fsdecode(one)) != location_text(os.fsdecode(other))


@PROPERTY
@given(st.text())
def test_location_text_is_reversible_over_any_string(uri: str) -> None:  # S3 keys, odd surrogates
    assert location_from_text(location_text(uri)) == uri
