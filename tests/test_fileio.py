"""Files an operator names: only regular files are read, so a FIFO or a device never hangs a run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from libra_cli.errors import KeyFileError
from libra_cli.fileio import read_regular
from scanhelp import cli


def test_reads_a_regular_file_within_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_bytes(b"abc")
    assert read_regular(str(path), "key", "key file", KeyFileError, limit=3) == b"abc"
    with pytest.raises(KeyFileError, match="larger than 2 bytes"):
        read_regular(str(path), "key", "key file", KeyFileError, limit=2)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: os.mkfifo(p), "is not a regular file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: None, "no such file"),
    ],
)
def test_refuses_what_is_not_a_regular_file(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "odd"
    make(path)  # type: ignore[operator]
    with pytest.raises(KeyFileError, match=message):
        read_regular(str(path), "identity file", "key file", KeyFileError)


def test_scan_with_a_fifo_for_list_or_key_is_one_sentence(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args in (["--list", str(fifo)], ["--list", "x.libra", "--identity", str(fifo)], ["--identity", os.devnull]):
        code, out, err = cli("scan", str(tmp_path), *args, *([] if "--list" in args else ["--list", str(fifo)]))
        assert code == 2 and out == "" and "Traceback" not in err
        assert "is not a regular file" in err or "no such file" in err, err
