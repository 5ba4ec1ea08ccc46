"""Findings writers: schema, streaming, atomic output."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from libra_cli.errors import ConfigError
from libra_cli.findings import ScanHeader, formats, make_writer, open_output
from libra_cli.models import Entry, Finding, Match, MediaRef, ScanError, Skip

HEADER = ScanHeader("0.1.0", "2026-11-25T08:00:00+00:00", ["/srv"], [{"name": "demo", "entries": 3, "sha256": "ab"}])


def finding(location: str = "/srv/a.jpg") -> Finding:
    entry = Entry("md5", "00" * 16, id="e1", label="series", category="A")
    match = Match("exact", "md5", 0, "demo", entry)
    ref = MediaRef(location, 10, mtime_ns=1_500_000_000)
    return Finding(ref, "image/jpeg", {"md5": bytes(16)}, (match,))


def run(fmt: str, findings: int = 2, errors: int = 1, skips: int = 0) -> str:
    stream = io.StringIO()
    writer = make_writer(fmt, stream)
    writer.begin(HEADER)
    for i in range(findings):
        writer.finding(finding(f"/srv/{i}.jpg"))
    for i in range(errors):
        writer.error(ScanError(f"/srv/bad{i}", "cannot read", fatal=True))
    for i in range(skips):
        writer.skip(Skip(f"/srv/big{i}", "larger than --max-file-size", "max_file_size"))
    writer.end({"files": 5, "matched": findings}, errors == 0, "2026-11-25T08:01:00+00:00")
    return stream.getvalue()


def test_registry_names_are_unique_and_known() -> None:
    assert formats() == ("csv", "json", "ndjson")
    with pytest.raises(ConfigError, match="'xml' is not a findings format"):
        make_writer("xml", io.StringIO())


@pytest.mark.parametrize(("findings", "errors"), [(0, 0), (1, 0), (2, 3), (0, 2)])
def test_json_document_is_valid_and_complete(findings: int, errors: int) -> None:
    doc = json.loads(run("json", findings, errors, skips=1))
    assert doc["schema"] == 2 and doc["libra_version"] == "0.1.0"
    assert doc["lists"] == [{"name": "demo", "entries": 3, "sha256": "ab"}]
    statuses = [r["status"] for r in doc["findings"]]
    assert statuses == ["match"] * findings + ["error"] * errors + ["skipped"]
    assert doc["findings"][-1]["rule"] == "max_file_size"
    assert doc["summary"]["matched"] == findings and doc["complete"] is (errors == 0)
    if findings:
        first = doc["findings"][0]
        assert first["mtime"] == "1970-01-01T00:00:01.500000Z" and first["digests"] == {"md5": "00" * 16}
        match = first["matches"][0]
        assert match["entry"] == {"id": "e1", "label": "series", "category": "A"}
        assert "value" not in match["entry"]  # the list's hash values are not repeated in findings


def test_ndjson_lines_are_typed() -> None:
    lines = [json.loads(x) for x in run("ndjson", 2, 1, skips=1).splitlines()]
    assert [x["type"] for x in lines] == ["scan", "finding", "finding", "error", "skipped", "summary"]
    assert lines[0]["schema"] == 2 and lines[-1]["complete"] is False
    assert lines[1]["location"] == "/srv/0.jpg"


def test_csv_one_row_per_match_and_error() -> None:
    rows = list(csv.DictReader(io.StringIO(run("csv", 2, 1, skips=1))))
    assert [r["status"] for r in rows] == ["match", "match", "error", "skipped"]
    assert rows[0]["entry_id"] == "e1" and rows[0]["md5"] == "00" * 16
    assert rows[2]["reason"] == "cannot read"


def test_open_output_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "findings.json"
    old = '{"type": "scan", "libra_version": "0.1.0"}\n'  # last night's findings (ndjson)
    target.write_text(old)
    with pytest.raises(RuntimeError), open_output(str(target)) as stream:
        stream.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == old  # the old file is untouched
    assert os.listdir(tmp_path) == ["findings.json"]  # and no temp file is left behind
    with open_output(str(target)) as stream:
        stream.write("new")
        assert target.read_text() == old  # not visible until the end
    assert target.read_text() == "new"


def test_open_output_missing_folder_is_a_plain_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"), open_output(str(tmp_path / "no" / "f.json")):
        pass


def test_open_output_writes_through_special_files(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    with open_output(str(fifo)) as stream:
        stream.write("through the pipe")
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert fifo.is_fifo()  # still a pipe: never replaced by a regular file
    with open_output(os.devnull) as stream:
        stream.write("x")
    assert not Path(os.devnull).is_file()
