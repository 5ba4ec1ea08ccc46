"""Settings that cannot work are refused in one sentence before anything is decrypted or written: stdout stays
empty (no half findings document), exit code 2."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from scanhelp import cli, make_identity, make_list

PHOTOS = Path(__file__).parent / "data" / "photos"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lists")
    identity = tmp / "identity.txt"
    return identity, make_list(tmp, [PHOTOS / "coffee.jpg"], make_identity(identity), name="coffee list")


def scan(keyed: tuple[Path, Path], *extra: str, hashlist: str | None = None) -> tuple[int, str, str]:
    identity, listed = keyed
    return cli("scan", str(PHOTOS / "moon.jpg"), "-l", hashlist or str(listed), "-i", str(identity), *extra)


def refused(code: int, out: str, err: str) -> str:
    assert code == 2 and out == "", (code, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_an_unknown_engine_writes_nothing_and_is_refused_before_the_lists(keyed: tuple[Path, Path]) -> None:
    err = refused(*scan(keyed, "--engine", "foo", "-f", "json"))
    assert err.startswith("libra: 'foo' is not an engine (choose from ") and "local" in err
    # checked before the lists are read: a missing list is not what is reported
    err = refused(*scan(keyed, "--engine", "foo", hashlist="/nonexistent/list.libra"))
    assert "'foo' is not an engine" in err


def test_an_unknown_engine_leaves_no_output_file(keyed: tuple[Path, Path], tmp_path: Path) -> None:
    refused(*scan(keyed, "--engine", "foo", "-o", str(tmp_path / "f.json")))
    assert list(tmp_path.iterdir()) == []


def test_dask_settings_without_the_dask_engine_are_refused(keyed: tuple[Path, Path], tmp_path: Path) -> None:
    err = refused(*scan(keyed, "--scheduler", "tcp://127.0.0.1:8786"))
    assert err == "libra: --scheduler is for the Dask cluster: it needs --engine dask"
    err = refused(*scan(keyed, "--engine", "local", "--tls-ca-file", str(tmp_path / "ca.pem")))
    assert err == "libra: --tls-ca-file is for the Dask cluster: it needs --engine dask"


def test_near_band_needs_suspected_and_must_start_past_the_threshold(keyed: tuple[Path, Path]) -> None:
    err = refused(*scan(keyed, "--near-band", "32..48"))
    assert err == "libra: --near-band needs --suspected: a near-band hit is only ever a suspected reason"
    err = refused(*scan(keyed, "--suspected", "--near-band", "10..20"))
    assert err.startswith("libra: --near-band 10..20 starts at or below the PDQ match threshold (31)")
    assert "e.g. 32..48" in err  # a band past the threshold, of the default width
    err = refused(*scan(keyed, "--suspected", "--pdq-threshold", "36", "--near-band", "33..48"))
    assert "threshold (36)" in err and "37..48" in err
    # accepted: a band past the threshold with --suspected, and "off" without it
    assert scan(keyed, "--suspected", "--near-band", "40..50", "-q")[0] == 0
    assert scan(keyed, "--near-band", "off", "-q")[0] == 0


def test_an_on_match_program_that_cannot_run_is_refused_before_the_scan(
    keyed: tuple[Path, Path], tmp_path: Path
) -> None:
    err = refused(*scan(keyed, "--on-match", "/no/such/cmd --flag", "-o", str(tmp_path / "f.json")))
    assert err == "libra: --on-match: '/no/such/cmd' is not an executable file"
    assert list(tmp_path.iterdir()) == []
    err = refused(*scan(keyed, "--on-match", "no-such-libra-alert-cmd"))
    assert err == "libra: --on-match: 'no-such-libra-alert-cmd' is not a command on PATH (give its full path)"
    script = tmp_path / "alert"
    script.write_text("#!/bin/sh\nexit 0\n")  # not executable
    err = refused(*scan(keyed, "--on-match", str(script)))
    assert err == f"libra: --on-match: {str(script)!r} is not an executable file"


def test_file_timeout_bounds_are_said_plainly(keyed: tuple[Path, Path]) -> None:
    err = refused(*scan(keyed, "--file-timeout", "0"))
    assert err == "libra: --file-timeout must be greater than 0 and at most 604800 seconds, not 0.0"


def test_a_refused_scheduler_fails_fast(keyed: tuple[Path, Path]) -> None:
    pytest.importorskip("distributed")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    err = refused(*scan(keyed, "--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"))
    assert time.monotonic() - started < 10
    assert err == f"libra: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: connection refused"


def test_the_help_jq_example_selects_records_that_have_a_location(keyed: tuple[Path, Path]) -> None:
    """``scan --help`` pipes NDJSON to jq: the type it selects is the one whose lines carry a location."""
    import json
    import re

    code, out, _ = cli("scan", "--help")
    assert code == 0
    selected = re.search(r"select\(\.type==\"(\w+)\"\) \| \.location", out)
    assert selected, "the jq example is gone from scan --help"
    identity, listed = keyed
    code, out, err = cli("scan", str(PHOTOS), "-l", str(listed), "-i", str(identity), "-f", "ndjson", "-q")
    assert code == 1, err
    lines = [json.loads(line) for line in out.splitlines()]
    chosen = [line for line in lines if line["type"] == selected.group(1)]
    assert chosen and all(isinstance(line["location"], str) for line in chosen)
    assert {"scan", "summary"} <= {line["type"] for line in lines if "location" not in line}
