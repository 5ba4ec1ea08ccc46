"""Settings that cannot work are refused in one sentence before anything is decrypted or written: stdout stays
empty (no half findings document), exit code 2."""

from __future__ import annotations

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
