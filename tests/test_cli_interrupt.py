"""Ctrl-C as a terminal sends it: SIGINT to the whole process group (the scan, its forkserver, its workers,
or a local Dask cluster's processes). The user sees one sentence, never a worker's traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanhelp import PLUGIN_BOOT, make_identity, make_list

TESTS = Path(__file__).parent
PHOTOS = TESTS / "data" / "photos"
SRC = TESTS.parent / "src"
BOOT = PLUGIN_BOOT  # libra with the test plug-ins (scanhelp)
SLOW = "test://files/photo-coffee.jpg," + ",".join(f"slow{i}" for i in range(8))


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lists")
    identity = tmp / "identity.txt"
    return identity, make_list(tmp, [PHOTOS / "coffee.jpg"], make_identity(identity), name="coffee list")


def ctrl_c(keyed: tuple[Path, Path], tmp_path: Path, *extra: str, after: str, wait: float = 0.5) -> tuple[int, str]:
    """Start a scan in a process group of its own, wait for ``after`` on stderr, SIGINT the whole group."""
    identity, hashlist = keyed
    args = ["scan", SLOW, "-l", str(hashlist), "-i", str(identity), "--log-level", "info", "-q"]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", BOOT, *args, "-o", str(tmp_path / "f.json"), *extra],
        stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 90
    while after not in seen:
        line = proc.stderr.readline()
        assert line and time.monotonic() < deadline, f"the scan ended before {after!r}: {seen}"
        seen += line
    time.sleep(wait)  # the workers are inside a slow file (or starting)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, seen + err


def test_ctrl_c_with_worker_processes_prints_no_worker_traceback(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    code, err = ctrl_c(keyed, tmp_path, "-w", "2", after="match location=test://files/photo-coffee.jpg")
    assert code == 2, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "libra-worker" not in err, err
    assert "libra: interrupted after" in err


def test_ctrl_c_with_a_local_dask_cluster_is_one_sentence(tmp_path: Path, keyed: tuple[Path, Path]) -> None:
    pytest.importorskip("distributed")
    code, err = ctrl_c(keyed, tmp_path, "--engine", "dask", "-w", "2", after="scan started", wait=1)
    assert code == 2, err
    assert "Traceback" not in err and "Exception ignored" not in err and "AssertionError" not in err, err
    assert "libra: interrupted" in err, err
