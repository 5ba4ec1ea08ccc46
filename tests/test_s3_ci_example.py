"""examples/ci: the CI gate's scripts parse, its workflow is well-formed, and it runs end to end locally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
CI = ROOT / "examples" / "ci"


def test_scripts_parse_and_the_workflow_runs_the_gate() -> None:
    for script in ("scan-uploads.sh", "run-local.sh"):
        assert subprocess.run(["sh", "-n", str(CI / script)], capture_output=True).returncode == 0, script
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = workflow["jobs"]["scan"]["steps"]
    scan = next(s for s in steps if s.get("name") == "Scan the upload prefix")
    assert scan["run"].startswith("sh ci/scan-uploads.sh")
    assert scan["env"]["LIBRA_TARGET"].startswith("s3://") and "LIBRA_LIST" in scan["env"]
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}
    gate = (CI / "scan-uploads.sh").read_text()
    for flag in ("--endpoint-url", "--region", "--path-style", "--since", "--identity", "--publisher-key"):
        assert flag in gate


def _cli_reads_s3() -> bool:
    """``libra scan`` has the S3 options and ``libra_cli.storage`` registers the ``s3`` backend."""
    helped = subprocess.run([sys.executable, "-m", "libra_cli", "scan", "--help"], capture_output=True, text=True)
    code = "import libra_cli.storage as s; print('s3' in s.schemes())"
    registered = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
    return "--endpoint-url" in helped.stdout and registered == "True"


@pytest.mark.skipif(
    not _cli_reads_s3(), reason="libra_cli.storage does not import the s3 backend yet (`from . import s3`)"
)
def test_the_gate_fails_on_a_match_and_passes_a_clean_prefix_against_a_local_endpoint(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"  # `libra` on PATH runs this checkout, whatever is installed
    bindir.mkdir()
    (bindir / "libra").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m libra_cli "$@"\n')
    (bindir / "libra").chmod(0o755)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    done = subprocess.run(["sh", str(CI / "run-local.sh")], capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MATCH in s3://uploads/demo/" in done.stderr and "s3://uploads/clean/ is clean" in done.stdout
