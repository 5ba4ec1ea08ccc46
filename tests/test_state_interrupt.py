"""Interrupted runs, in real processes: SIGTERM mid-scan writes the findings so far (``"complete": false``,
exit 2) and records the run as interrupted; SIGKILL leaves the state consistent and the previous findings file
untouched. The scans read ``test://`` files (tests/testplugins.py): a real photo, then files that take 2 s each."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import testplugins  # noqa: F401  (test:// storage in this process too, for the in-process --resume run)
from scanhelp import PLUGIN_BOOT, cli, make_identity, make_list

TESTS = Path(__file__).parent
PHOTOS = TESTS / "data" / "photos"
SRC = TESTS.parent / "src"
BOOT = PLUGIN_BOOT  # libra with the test plug-ins (scanhelp)
SLOW = "test://files/photo-coffee.jpg,photo-moon.jpg," + ",".join(f"slow{i}" for i in range(4))


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lists")
    identity = tmp / "identity.txt"
    return identity, make_list(tmp, [PHOTOS / "coffee.jpg"], make_identity(identity), name="coffee list")


def start(keyed: tuple[Path, Path], target: str, output: Path, *extra: str) -> subprocess.Popen[str]:
    identity, hashlist = keyed
    args = ["scan", target, "-l", str(hashlist), "-i", str(identity), "-w", "1", "-q", "--log-level", "info"]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", BOOT, *args, "-o", str(output), *extra], stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for(proc: subprocess.Popen[str], text: str) -> str:
    """stderr up to the first line holding ``text`` (the run is then past that point)."""
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 60
    while text not in seen:
        line = proc.stderr.readline()
        assert line and time.monotonic() < deadline, f"the scan ended before {text!r}: {seen}"
        seen += line
    return seen


def committed(state: Path) -> int:
    """Rows a reader sees in the state now (a run in progress commits a batch at a time)."""
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM files").fetchone()[0])
    finally:
        db.close()


def test_sigterm_writes_the_findings_so_far_marked_incomplete(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    """With a state (without one: tests/test_cli_scan.py::test_sigterm_stops_cleanly...)."""
    output, state = tmp_path / "findings.json", tmp_path / "state.db"
    proc = start(keyed, SLOW, output, "--state", str(state))
    wait_for(proc, "match location=test://files/photo-coffee.jpg")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert "interrupted after" in err and '"complete": false' in err and "Traceback" not in err
    doc = json.loads(output.read_text())
    assert doc["complete"] is False and doc["summary"]["interrupted"] is True
    assert [r["location"] for r in doc["findings"] if r["status"] == "match"] == ["test://files/photo-coffee.jpg"]
    assert [r for r in doc["findings"] if r["status"] == "error"] == []  # files in flight are not called unreadable
    assert 2 <= doc["summary"]["files"] < 6
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("state")) == ["findings.json"]
    db = sqlite3.connect(state)
    row = db.execute("SELECT finished, complete, exit_code, counts FROM runs").fetchone()
    finished, complete, exit_code, counts = row
    assert finished is not None and complete == 0 and exit_code == 2 and json.loads(counts)["interrupted"] is True
    stored = {bytes(r[0]).decode() for r in db.execute("SELECT location FROM files")}
    assert "test://files/photo-coffee.jpg" in stored and len(stored) == doc["summary"]["files"]
    gone = db.execute("SELECT count(*) FROM files WHERE gone_at IS NOT NULL").fetchone()[0]
    assert gone == 0  # a stopped walk marks nothing gone
    assert db.execute("SELECT location FROM findings").fetchall() == [(b"test://files/photo-coffee.jpg",)]


def test_sigkill_keeps_the_state_consistent_and_the_previous_findings(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    output, state = tmp_path / "findings.json", tmp_path / "state.db"
    first = start(keyed, "test://files/photo-coffee.jpg", output, "--state", str(state))
    _, err = first.communicate(timeout=60)
    assert first.returncode == 1, err
    before = output.read_bytes()
    proc = start(keyed, SLOW, output, "--state", str(state))
    wait_for(proc, "match location=test://files/photo-coffee.jpg")
    deadline = time.monotonic() + 30
    while committed(state) < 3:  # kill it once this run has committed rows of its own
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert output.read_bytes() == before  # outputs are atomic: yesterday's findings stay whole
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("state")) == ["findings.json"]
    code, out, err = cli("state", "info", "--state", str(state), "--format", "json")
    assert code == 0, err
    info = json.loads(out)
    assert info["runs"] == 2 and info["files"] >= 3
    db = sqlite3.connect(state)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    killed = db.execute("SELECT finished, complete FROM runs WHERE id = 2").fetchone()
    assert killed == (None, None)  # never finished: the history shows it as such
    for location, size, computed in db.execute("SELECT location, size, computed FROM files"):
        name = bytes(location).decode().rsplit("/", 1)[1]
        real = (PHOTOS / name.removeprefix("photo-")).stat().st_size if name.startswith("photo-") else 8
        assert size == real and "md5" in computed  # what was recorded is true
        assert ("pdq@1" in computed) == name.startswith("photo-")
    code, _, err = cli("history", "--state", str(state))
    assert code == 0, err


def test_resume_continues_the_interrupted_run_and_reports_its_findings(
    tmp_path: Path, keyed: tuple[Path, Path]
) -> None:
    output, state = tmp_path / "findings.json", tmp_path / "state.db"
    proc = start(keyed, SLOW, output, "--state", str(state))
    wait_for(proc, "match location=test://files/photo-coffee.jpg")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    recorded = committed(state)
    identity, hashlist = keyed
    log = tmp_path / "resume.log"
    args = ["scan", "--resume", "--state", str(state), "-l", str(hashlist), "-i", str(identity), "-w", "1", "-q"]
    code, out, err = cli(*args, "--log-file", str(log), "--log-level", "info")  # no targets: the interrupted run's
    assert code == 1, err
    doc = json.loads(out)
    assert doc["targets"] == [SLOW] and doc["complete"] is True and doc["summary"]["files"] == 6
    assert [r["location"] for r in doc["findings"] if r["status"] == "match"] == ["test://files/photo-coffee.jpg"]
    text = log.read_text()
    assert "resuming run=1" in text
    assert f"reused={recorded} hashed={6 - recorded}" in text  # what the stopped run recorded was not read again
    db = sqlite3.connect(state)
    assert db.execute("SELECT id, resumed_from, complete FROM runs ORDER BY id").fetchall() == [(1, None, 0), (2, 1, 1)]
    code, out, _ = cli("history", "--state", str(state), "-f", "json")
    assert code == 0 and [r["resumed_from"] for r in json.loads(out)] == [None, 1]
    code, _, err = cli(*args, "--log-file", str(log))  # nothing left to resume: a normal scan, same targets named
    assert code == 2 and "not interrupted" in err
