"""``libra scan`` typed at a terminal, in a real pseudo-terminal: a readable summary, never JSON, and the
progress bar never inside a line of data.

The screen is rebuilt from the bytes the terminal received (cursor moves, line erases, carriage returns),
so a bar redrawn over half a finding line, or a finding printed into the bar's line, shows up as a
broken line on the screen, as a person would see it.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from libra_cli.cli.scan import _for_a_person
from libra_cli.cli.terminal import TerminalSink
from libra_cli.models import Entry, HashResult, Match, MediaRef, ScanError, Skip
from libra_cli.report import Report
from libra_cli.settings import ScanSettings
from scanhelp import make_identity, make_list

WIDTH = 200
#: A control sequence: CSI (ESC [ params final) or a two-byte escape.
CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>]")


def screen(raw: str) -> list[str]:
    """The lines a terminal of ``WIDTH`` columns shows after receiving ``raw`` (enough of VT100 for rich)."""
    rows: list[list[str]] = [[]]
    row = col = 0
    pos = 0
    while pos < len(raw):
        found = CONTROL.match(raw, pos)
        if found:
            params, final = found.group(1) or "", found.group(2)
            count = int(params) if params.isdigit() else 1
            if final == "A":
                row = max(0, row - count)
            elif final == "B":
                row += count
            elif final == "G":
                col = count - 1
            elif final == "K":
                line = rows[row]
                if params in ("2",):
                    rows[row] = []
                elif params in ("", "0"):
                    del line[col:]
                else:
                    rows[row] = [" "] * col + line[col:]
            pos = found.end()
            continue
        char = raw[pos]
        pos += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
        elif char.isprintable():
            if col >= WIDTH:
                row, col = row + 1, 0
            while len(rows) <= row:
                rows.append([])
            line = rows[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = char
            col += 1
        while len(rows) <= row:
            rows.append([])
    return ["".join(r).rstrip() for r in rows]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("terminal")
    photos = Path(__file__).parent / "data" / "photos"
    identity = tmp / "id.txt"
    return identity, make_list(tmp, [photos / "chelsea.jpg", photos / "coffee.jpg"], make_identity(identity))


def run_in_terminal(args: list[str], timeout: float = 120) -> tuple[int, str]:
    """Run ``libra ARGS`` with stdin, stdout and stderr on one pseudo-terminal; (exit code, bytes as text)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, WIDTH, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "TERM")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "libra_cli", *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def test_a_person_at_a_terminal_gets_lines_and_totals_not_json(
    tmp_path: Path, photos: Path, keyed: tuple[Path, Path]
) -> None:
    tree = tmp_path / "uploads"
    (tree / "a").mkdir(parents=True)
    shutil.copy(photos / "chelsea.jpg", tree / "a" / "cat.jpg")
    shutil.copy(photos / "coffee.jpg", tree / "notes.txt")
    for name in ("moon.jpg", "coins.jpg", "brick.jpg"):
        shutil.copy(photos / name, tree / name)
    os.mkfifo(tree / "pipe")
    identity, hashlist = keyed
    code, raw = run_in_terminal(["scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "1"])
    lines = screen(raw)
    text = "\n".join(lines)
    assert code == 1, text

    assert '"schema"' not in raw and not any(line.lstrip().startswith("{") for line in lines)  # no JSON
    matches = [line for line in lines if "MATCH" in line]
    assert len(matches) == 2, text
    for line in matches:  # whole lines, each starting with its location: no bar drawn into them
        assert re.fullmatch(rf"{re.escape(str(tree))}/\S+: MATCH list=\"test list\" entry=\S+ .*\(exact \w+.*\)", line)
    assert any(line.startswith(f"{tree}/a/cat.jpg: MATCH") and "entry=chelsea.jpg" in line for line in matches)
    assert f"{tree}/pipe: SKIPPED a named pipe (FIFO)" in lines
    bars = [line for line in lines if "files/s" in line]
    assert len(bars) == 1 and "5/5" in bars[0] and "2 matched" in bars[0]  # redrawn in place, left at its end
    assert lines.index(bars[0]) > max(lines.index(m) for m in matches)  # data above the bar, never below it
    assert "----------- libra scan summary -----------" in lines
    assert "Matched:       2 files" in lines and "Skipped:       1 file" in text
    assert any(line.startswith("Result:") and "exit code 1" in line for line in lines)
    assert not any("libra.scan match" in line for line in lines)  # the MATCH line is not repeated as a log line


def test_only_a_terminal_without_o_or_format_gets_the_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    plain = ScanSettings.resolve({"targets": ["/srv"]})
    assert _for_a_person(plain, format_given=False)
    assert not _for_a_person(plain, format_given=True)  # --format (or format: in the config) is a choice
    assert not _for_a_person(ScanSettings.resolve({"output": "-"}), format_given=False)
    assert not _for_a_person(ScanSettings.resolve({"output": "/var/lib/libra/f.json"}), format_given=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert not _for_a_person(plain, format_given=False)  # a pipe or a file: the findings format, as before


def test_hostile_names_cannot_repaint_the_screen() -> None:
    shown: list[str] = []
    sink = TerminalSink(lambda line: shown.append(str(line)))
    sink.skip(Skip("/srv/evil\x1b[2J\rname\n.fifo", "a named pipe (FIFO)", "special_file"))
    sink.error(ScanError("/srv/bad\udcff\x07dir", "Permission denied\x1b]0;title\x07", fatal=True))
    sink.skip(Skip("/srv/cache/a.jpg", "excluded (--exclude)", "exclude", listed=False))  # counted, not listed
    assert shown == [
        "/srv/evil\\x1b[2J\\rname\\n.fifo: SKIPPED a named pipe (FIFO)",
        "/srv/bad\\xff\\x07dir: ERROR Permission denied\\x1b]0;title\\x07",
    ]


def test_only_matches_keeps_the_match_lines_and_the_totals() -> None:
    shown: list[str] = []
    sink = TerminalSink(lambda line: shown.append(str(line)), only_matches=True)
    entry = Entry("pdq", "00" * 32, id="H-1190", category="A")
    match = Match("perceptual", "pdq", 8, "hotline", entry, transform="mirror")
    sink.result(HashResult(MediaRef("/srv/b/banner.png", 10), "image/png"), [match])
    sink.result(HashResult(MediaRef("/srv/c/broken.jpg", 10), "image/jpeg", error="truncated"), [])
    sink.skip(Skip("/srv/d/disk.img", "larger than --max-file-size (21474836480 bytes)", "max_file_size"))
    sink.error(ScanError("/srv/private", "Permission denied", fatal=True))
    assert shown == ["/srv/b/banner.png: MATCH list=hotline entry=H-1190 category=A (pdq distance 8, mirrored)"]
    totals = sink.totals(Report(files=2, media=2, matched=1, skipped=1, errors=2, fatal_errors=1))
    assert "Skipped:       1 file (not looked at: size limit, special file or link)" in totals
    assert "Result:        known material FOUND (exit code 1); coverage incomplete" in totals


def test_warnings_are_counted_apart_from_errors_and_say_only_what_happened() -> None:
    """A file read and matched by digest but not decoded is a warning, not an error; a member that was not
    read at all does not claim its digests were matched."""
    shown: list[str] = []
    sink = TerminalSink(lambda line: shown.append(str(line)))
    sink.result(HashResult(MediaRef("/srv/c/broken.jpg", 10), "image/jpeg", {"md5": b"1" * 16}, error="truncated"), [])
    sink.result(HashResult(MediaRef("/srv/a.zip!x.jpg", 10), None, error="the member is truncated: not hashed"), [])
    assert shown == [
        "/srv/c/broken.jpg: WARNING truncated (exact digests were still matched)",
        "/srv/a.zip!x.jpg: WARNING the member is truncated: not hashed",
    ]
    totals = sink.totals(Report(files=3, media=2, errors=3, fatal_errors=1))
    assert "Errors:        1 (files or folders not read: not covered)" in totals
    assert "Warnings:      2 (hashed in part: see the WARNING lines)" in totals
