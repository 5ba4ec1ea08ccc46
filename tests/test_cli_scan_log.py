"""``--log-file`` and ``-q``: the log file is private (0600, never through a symlink) and keeps warnings with
``-q`` (match and list-expired lines, which docs/operations.md has sysadmins grep for); an expired list is said
once on stderr even with ``-q``."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from scanhelp import cli, make_identity

PHOTOS = Path(__file__).parent / "data" / "photos"


@pytest.fixture(scope="module")
def expired(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(identity, a list of coffee.jpg whose publisher let it expire in 2001)."""
    tmp = tmp_path_factory.mktemp("lists")
    identity = tmp / "identity.txt"
    recipient = make_identity(identity)
    code, out, err = cli("hash", str(PHOTOS / "coffee.jpg"), "--format", "csv", "--workers", "1", "--label", "known")
    assert code == 0, err
    (tmp / "source.csv").write_text(out)
    hashlist = tmp / "old.libra"
    code, _, err = cli("hashlist", "build", str(tmp / "source.csv"), "-o", str(hashlist), "-r", recipient,
                       "--name", "old list", "--expires", "2001-02-03", "--force")  # fmt: skip
    assert code == 0, err
    return identity, hashlist


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    root.mkdir()
    shutil.copy(PHOTOS / "coffee.jpg", root / "a.jpg")
    shutil.copy(PHOTOS / "moon.jpg", root / "b.jpg")
    return root


def scan(expired: tuple[Path, Path], uploads: Path, *extra: str) -> tuple[int, str, str]:
    identity, hashlist = expired
    return cli("scan", str(uploads), "-l", str(hashlist), "-i", str(identity), "-w", "1", *extra)


def test_the_log_file_is_created_private(expired: tuple[Path, Path], uploads: Path, tmp_path: Path) -> None:
    log = tmp_path / "scan.log"
    old = os.umask(0o022)
    try:
        code, _, err = scan(expired, uploads, "-o", str(tmp_path / "f.json"), "--log-file", str(log))
    finally:
        os.umask(old)
    assert code == 1, err
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert " match location=" in log.read_text()


def test_a_symlink_as_log_file_is_refused(expired: tuple[Path, Path], uploads: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched\n")
    link = tmp_path / "scan.log"
    link.symlink_to(elsewhere)
    code, out, err = scan(expired, uploads, "--log-file", str(link))
    assert code == 2 and out == ""
    assert err.strip() == f"libra: log file {str(link)!r} is a symbolic link; name the file itself"
    assert elsewhere.read_text() == "untouched\n"


def test_quiet_keeps_warnings_in_the_log_file(expired: tuple[Path, Path], uploads: Path, tmp_path: Path) -> None:
    log = tmp_path / "scan.log"
    code, _, err = scan(expired, uploads, "-q", "-o", str(tmp_path / "f.json"), "--log-file", str(log))
    assert code == 1, err
    text = log.read_text()
    assert " match location=" in text and "list expired name=" in text
    # the expired list is said once on stderr too: cron mails it
    assert err.strip().splitlines() == [
        "libra: warning: list old list (old.libra) expired on 2001-02-03T00:00:00+00:00; "
        "install a newer version (libra hashlist update)"
    ]


def test_quiet_without_a_log_file_says_the_expired_list_once(expired: tuple[Path, Path], uploads: Path) -> None:
    code, _, err = scan(expired, uploads, "-q")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("libra: warning: list old list") and "expired on" in lines[0]


def test_without_quiet_the_expired_list_is_one_log_line(expired: tuple[Path, Path], uploads: Path) -> None:
    code, _, err = scan(expired, uploads, "-f", "json")
    assert code == 1
    assert err.count("expired on") + err.count("list expired") == 1 and "libra WARNING libra list expired name=" in err
