"""Nightly runs as a sysadmin sets them up: output name templates, a run that reached nothing keeps the last
findings, ``--on-match`` hooks, ``--nice``, ``--max-rate``, one line on stderr with ``-q``, the early progress
total, and help texts that show meanings (``FILE``, ``N``), never python types, and never wrap an example."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import typer.main

from libra_cli import outname
from libra_cli.api import prepare, run
from libra_cli.cli.app import app
from libra_cli.cli.progress import ScanBar
from libra_cli.config import load_config
from libra_cli.errors import ConfigError
from libra_cli.hook import run_on_match
from libra_cli.models import HashResult, MediaRef, ScanError
from libra_cli.pace import Rate
from libra_cli.pipeline import Filter, Progress
from libra_cli.precount import PreCount
from libra_cli.report import Report
from libra_cli.settings import ScanSettings
from libra_cli.sinks import Sink
from libra_cli.sinks.reach import TargetWatch
from libra_cli.storage.base import StorageOptions, WalkOptions
from libra_cli.storage.local import LocalStorage
from scanhelp import cli, make_identity, make_list, records

#: A hook that records what it was given (argv, environment, the findings file as it was, its priority).
HOOK = """
import json, os, sys
findings = sys.argv[-1] if len(sys.argv) > 2 else None
doc = json.load(open(findings)) if findings else None
stat = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith(("LIBRA_", "SECRET"))},
           "complete_file": doc is not None and "finished" in doc, "nice": int(stat[16])}, open(sys.argv[1], "w"))
sys.exit(int(os.environ.get("HOOK_EXIT", "0")))
"""


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("nightly")
    photos = Path(__file__).parent / "data" / "photos"
    identity = tmp / "id.txt"
    return identity, make_list(tmp, [photos / "chelsea.jpg"], make_identity(identity))


@pytest.fixture
def tree(tmp_path: Path, photos: Path) -> Path:
    root = tmp_path / "uploads"
    root.mkdir()
    shutil.copy(photos / "chelsea.jpg", root / "cat.jpg")
    shutil.copy(photos / "moon.jpg", root / "moon.jpg")
    return root


def scan(keyed: tuple[Path, Path], *args: str) -> tuple[int, str, str]:
    identity, hashlist = keyed
    return cli("scan", *args, "-l", str(hashlist), "-i", str(identity), "-w", "1")


def hook_command(tmp_path: Path, record: Path) -> str:
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    return shlex.join([sys.executable, str(script), str(record)])


# -- output name templates ------------------------------------------------------------------------------


class _Clock:
    """Stands in for ``datetime`` in ``outname``: each run starts at the next of ``moments``."""

    def __init__(self, *moments: datetime) -> None:
        self.moments = list(moments)

    def now(self) -> datetime:
        return self.moments.pop(0)


def test_a_template_output_keeps_each_runs_file(
    tmp_path: Path, tree: Path, keyed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outname, "datetime", _Clock(datetime(2026, 11, 24, 2, 30), datetime(2026, 11, 25, 2, 30, 5)))
    template = str(tmp_path / "findings-{date}-{time}-{host}.json")
    for _ in range(2):
        assert scan(keyed, str(tree), "-q", "-o", template)[0] == 1
    host = outname.short_host()
    files = sorted(p.name for p in tmp_path.glob("findings-*.json"))
    assert files == [f"findings-2026-11-24-023000-{host}.json", f"findings-2026-11-25-023005-{host}.json"]
    for name in files:
        doc = json.loads((tmp_path / name).read_text())
        assert len(records(doc)) == 1 and stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_a_mistyped_placeholder_is_refused_before_the_scan(
    tmp_path: Path, tree: Path, keyed: tuple[Path, Path]
) -> None:
    code, _, err = scan(keyed, str(tree), "-q", "-o", str(tmp_path / "findings-{dat}.json"))
    assert code == 2 and "unknown placeholder {dat}" in err and not list(tmp_path.glob("findings*"))
    with pytest.raises(ConfigError, match="unmatched brace"):
        outname.expand_output("/var/lib/libra/findings-{date.json")


# -- a run that reached none of its targets ------------------------------------------------------------


def test_a_run_that_reached_no_target_leaves_the_previous_findings(
    tmp_path: Path, tree: Path, keyed: tuple[Path, Path]
) -> None:
    findings = tmp_path / "findings.json"
    assert scan(keyed, str(tree), "-q", "-o", str(findings))[0] == 1
    before = findings.read_bytes()
    code, _, err = scan(keyed, str(tmp_path / "uplaods"), str(tmp_path / "gone"), "-q", "-o", str(findings))
    assert code == 2
    assert f"none of the targets could be reached; {findings} was left as it was" in err
    assert findings.read_bytes() == before and len(records(json.loads(before))) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftover temporary file

    # One target reached is a real (incomplete) record: it replaces the file and names what was missed.
    code, _, _ = scan(keyed, str(tree), str(tmp_path / "uplaods"), "-q", "-o", str(findings))
    doc = json.loads(findings.read_text())
    assert code == 1 and [r["location"] for r in records(doc, "error")] == [str(tmp_path / "uplaods")]


def test_quiet_says_in_one_line_that_coverage_was_incomplete(
    tmp_path: Path, tree: Path, keyed: tuple[Path, Path]
) -> None:
    out = tmp_path / "f.json"
    code, _, err = scan(keyed, str(tmp_path / "missing"), "-q", "-o", str(out))
    assert code == 2
    assert f"libra: coverage incomplete: 1 file or folder could not be read (listed as errors in {out})" in err
    code, _, err = scan(keyed, str(tree), "-q", "-o", str(out))
    assert code == 1 and err == ""  # a complete run with -q says nothing: the exit code and the file do


# -- --on-match ---------------------------------------------------------------------------------------


def test_on_match_gets_the_complete_findings_file_and_runs_only_on_a_match(
    tmp_path: Path, tree: Path, keyed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    record, findings = tmp_path / "hook.json", tmp_path / "out" / "findings.json"
    findings.parent.mkdir()
    hook = hook_command(tmp_path, record)
    monkeypatch.setenv("SECRET_PASS", "hunter2")
    code, _, _ = scan(
        keyed, str(tree), "-q", "-o", str(findings), "--on-match", hook, "--passphrase-env", "SECRET_PASS"
    )
    assert code == 1
    seen = json.loads(record.read_text())
    assert seen["argv"] == [str(record), str(findings)] and seen["complete_file"]
    assert seen["env"] == {
        "LIBRA_FINDINGS": str(findings), "LIBRA_MATCHED": "1", "LIBRA_FILES": "2", "LIBRA_ERRORS": "0",
        "LIBRA_COMPLETE": "1", "LIBRA_EXIT_CODE": "1",
    }  # fmt: skip  # and never the list passphrase

    record.unlink()
    (tree / "cat.jpg").unlink()
    assert scan(keyed, str(tree), "-q", "-o", str(findings), "--on-match", hook)[0] == 0
    assert not record.exists()  # nothing matched: the hook did not run


def test_a_failing_hook_is_logged_and_the_exit_code_stays(
    tmp_path: Path, tree: Path, keyed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_EXIT", "3")
    record = tmp_path / "hook.json"
    code, _, err = scan(
        keyed, str(tree), "-q", "-o", str(tmp_path / "f.json"), "--on-match", hook_command(tmp_path, record)
    )
    assert code == 1 and record.exists()
    assert "on-match hook failed" in err and "exit=3" in err
    # a hook that cannot start is refused before the scan (tests/test_cli_scan_checks.py); one that vanished
    # by the end of the scan is logged, and the exit code stays
    gone = tmp_path / "gone-alert"
    gone.write_text("#!/bin/sh\n")
    gone.chmod(0o755)
    gone.unlink()
    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("libra.hook").addHandler(handler)
    try:
        assert run_on_match(str(gone), None, Report(matched=1)) is None
    finally:
        logging.getLogger("libra.hook").removeHandler(handler)
    assert any("on-match hook could not start" in line for line in said)


def test_nice_lowers_the_priority_of_the_scan_and_what_it_starts(
    tmp_path: Path, tree: Path, keyed: tuple[Path, Path]
) -> None:
    """In a real process (niceness cannot be raised back): the hook, a child of the scan, inherits it."""
    identity, hashlist = keyed
    record = tmp_path / "hook.json"
    start = os.getpriority(os.PRIO_PROCESS, 0)
    run_ = subprocess.run(
        [sys.executable, "-m", "libra_cli", "scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "1",
         "-q", "-o", str(tmp_path / "f.json"), "--nice", "--on-match", hook_command(tmp_path, record)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run_.returncode == 1, run_.stderr
    assert json.loads(record.read_text())["nice"] == max(start, 10)
    probe = "from libra_cli.priority import *; p = lower_priority(); print(p.nice, io_priority_class())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    nice, io_class = done.stdout.split()
    assert int(nice) == max(start, 10) and io_class in ("3", "None")  # idle, where the kernel call exists


# -- --max-rate --------------------------------------------------------------------------------------


class _Submits(Filter):
    """Asked about each file just before it goes to the engine: when the pace lets it go."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def check(self, ref: MediaRef) -> HashResult | None:
        self.times.append(time.monotonic())
        return None


@pytest.mark.parametrize(("rate", "size", "per_second"), [("20", 10, 20.0), ("100K", 20 * 1024, 5.0)])
def test_max_rate_bounds_files_per_second(
    tmp_path: Path, keyed: tuple[Path, Path], rate: str, size: int, per_second: float
) -> None:
    for i in range(6):
        (tmp_path / f"f{i}.bin").write_bytes(bytes([i]) * size)
    identity, hashlist = keyed
    flags = {"targets": [str(tmp_path)], "lists": [str(hashlist)], "identity": [str(identity)], "workers": 1}
    submits = _Submits()
    report = run(prepare(ScanSettings.resolve({**flags, "max_rate": [rate]})), [Sink()], filter=submits)
    assert report.files == 6 and len(submits.times) == 6
    span = submits.times[-1] - submits.times[0]
    assert 5 / span <= per_second * 1.02  # 6 files, 5 gaps: never faster than the cap


def test_max_rate_values_are_checked() -> None:
    for bad in ("0", "-3", "fast", "2Q"):
        with pytest.raises(ConfigError, match="--max-rate"):  # the option is named, files/s or bytes/s
            ScanSettings.resolve({"max_rate": [bad]})
    assert ScanSettings.resolve({"max_rate": ["100", "50M"]}).max_rate is not None


# -- progress: a total early ----------------------------------------------------------------------------


def test_the_early_count_matches_the_walk_and_gives_the_bar_its_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("a", "a/b", "c", "cache"):
        (tmp_path / folder).mkdir()
    for i, folder in enumerate(("a", "a/b", "c", "cache", ".")):
        for j in range(5):
            (tmp_path / folder / f"{i}-{j}.jpg").write_bytes(b"x" * (10 + j))
    (tmp_path / "big.iso").write_bytes(b"x" * 5000)
    os.mkfifo(tmp_path / "pipe")
    os.symlink(tmp_path / "a", tmp_path / "link")
    options = WalkOptions(exclude=("*/cache",), max_file_size=1000)
    walked = sum(isinstance(i, MediaRef) for i in LocalStorage(StorageOptions()).walk(str(tmp_path), options))
    counter = PreCount([str(tmp_path)], options).start()
    counter._thread.join(timeout=10)
    assert counter.done and counter.total == walked == 20

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with ScanBar(enabled=True, targets=[str(tmp_path)], walk=options) as bar:
        assert bar.counter is not None
        bar.counter._thread.join(timeout=10)
        assert bar.task.total == 20  # before the walk has found anything
        bar.update(Progress(discovered=3))
        assert bar.task.total == 20  # not the 3 found so far
        done = Progress(discovered=21, walk_done=True)
        bar.update(done)
        assert bar.task.total == 21  # the walk's exact count wins at the end
    assert PreCount(["s3://bucket/prefix", str(tmp_path)], options).start().total is None  # no second listing


# -- help texts ---------------------------------------------------------------------------------------


def _commands() -> list[tuple[tuple[str, ...], object]]:
    found: list[tuple[tuple[str, ...], object]] = []

    def visit(cmd: object, path: tuple[str, ...]) -> None:
        found.append((path, cmd))
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            visit(sub, (*path, name))

    visit(typer.main.get_command(app), ())
    return found


def test_help_shows_meanings_not_python_types_and_keeps_examples_whole() -> None:
    checked = 0
    for path, command in _commands():
        code, out, _ = cli(*path, "--help", env={"COLUMNS": "80"})
        assert code == 0
        assert not re.search(r"<(list\[|bool|str|int|float|path)", out), f"libra {' '.join(path)} --help: {out}"
        assert "{" not in next(line for line in out.splitlines() if "Usage:" in line)
        lines = [line.strip() for line in out.splitlines()]
        doc = getattr(command, "help", "") or ""
        for example in re.findall(r"^ {4,}(\S.*)$", doc, re.M):  # the indented example lines of the docstring
            assert example.strip() in lines, f"libra {' '.join(path)} --help wraps {example!r} at 80 columns"
            checked += 1
    assert checked >= 12


def test_the_documented_nightly_keys_load(tmp_path: Path) -> None:
    """The yaml block of docs/config.md's nightly section is valid as written."""
    text = (Path(__file__).parent.parent / "docs" / "config.md").read_text()
    section = text.split("## Each night its own file", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block
    config = tmp_path / "config.yaml"
    config.write_text(block.group(1))
    settings = ScanSettings.resolve({}, load_config(str(config)))
    assert re.fullmatch(r"/var/lib/libra/findings-\d{4}-\d\d-\d\d\.json", settings.output or "")
    assert settings.nice and settings.on_match == "/usr/local/sbin/libra-alert"
    assert settings.max_rate == Rate(bytes=50 * 2**20)


def test_a_listing_that_failed_midway_still_replaces_the_file() -> None:
    """A bucket listing that stops after some objects is a walk error at the target itself, but the run did
    look at files (and may have found something): only a run that saw nothing keeps the previous file."""
    watch = TargetWatch(["s3://uploads/2026/", "/srv/uplaods"])
    watch.error(ScanError("/srv/uplaods", "No such file or directory", fatal=True))
    watch.error(ScanError("s3://uploads/2026/", "access denied", fatal=True))
    assert watch.reached_none
    watch.result(HashResult(MediaRef("s3://uploads/2026/a.jpg", 10), "image/jpeg"), [])
    assert not watch.reached_none
    assert not TargetWatch([]).reached_none  # --files-from alone: no targets to miss
