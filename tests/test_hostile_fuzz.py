"""The fuzz target (fuzz/fuzz_decode.py) in the suite: a three-second coverage-guided run, and a replay of
every input the fuzzer ever found that crashed (tests/data/fuzz/): each must now pass quietly."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "fuzz" / "fuzz_decode.py"
REGRESSIONS = Path(__file__).parent / "data" / "fuzz"


def _target() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_decode", TARGET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _regressions() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if p.suffix == ".bin")


@pytest.mark.parametrize("path", _regressions(), ids=lambda p: p.stem)
def test_inputs_the_fuzzer_found_are_handled(path: Path) -> None:
    _target().one_input(path.read_bytes())


def test_there_are_regression_inputs() -> None:
    assert len(_regressions()) >= 1


def test_a_short_fuzzing_run_finds_nothing(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    made = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "make_seeds.py"), str(corpus)], env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    for path in _regressions():
        (corpus / path.name).write_bytes(path.read_bytes())
    args = [sys.executable, str(TARGET), "-max_total_time=3", "-seed=6", "-timeout=10", "-rss_limit_mb=2048"]
    args += [f"-artifact_prefix={tmp_path}/", str(corpus)]
    run = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    artifacts = [p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-", "leak-"))]
    assert run.returncode == 0 and not artifacts, (artifacts, run.stderr[-3000:])
    assert "Done " in run.stderr and "runs in" in run.stderr  # it did run
