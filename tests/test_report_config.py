"""Exit codes (clamscan's convention), size parsing and the config file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from libra_cli.cli.common import parse_size
from libra_cli.config import load_config
from libra_cli.errors import ConfigError, ExitCode
from libra_cli.report import Report


@pytest.mark.parametrize(
    ("matched", "fatal", "errors", "code"),
    [(0, 0, 0, ExitCode.CLEAN), (1, 0, 0, ExitCode.FOUND), (0, 1, 1, ExitCode.ERROR), (2, 1, 1, ExitCode.FOUND),
     (0, 0, 3, ExitCode.CLEAN)],
)  # fmt: skip
def test_exit_code(matched: int, fatal: int, errors: int, code: ExitCode) -> None:
    assert Report(matched=matched, fatal_errors=fatal, errors=errors).exit_code == code


@pytest.mark.parametrize(("text", "value"), [("10", 10), ("1K", 1024), ("512M", 512 * 2**20), ("2g", 2 * 2**30),
                                             ("1.5KiB", 1536)])  # fmt: skip
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "lots", "5Q", "-1K"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="is not a size"):
        parse_size(text)


def test_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    path = tmp_path / "c.yaml"
    path.write_text("scan:\n  workers: 3\n  exclude: ['*.tmp']\n  quiet: true\n")
    assert load_config(str(path)) == {"workers": 3, "exclude": ["*.tmp"], "quiet": True}
    monkeypatch.setenv("LIBRA_CONFIG", str(path))
    assert load_config(None)["workers"] == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [("workers: many\n", "'workers' must be of type int"),
     ("wrokers: 2\n", r"unknown key 'wrokers' \(did you mean 'workers'\?\)"),
     ("[1, 2]\n", "must be a mapping"), ("a: [\n", "not valid YAML"),
     ("quiet: 1\n", "'quiet' must be of type bool"),
     ("scan:\n  workers: 2\nlists: [a]\n", "put 'lists' under 'scan:'")],
)  # fmt: skip
def test_config_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(str(path))


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.yaml"))


def test_yaml_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(":::bad yaml: [\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert "\n" not in str(caught.value) and " at line " in str(caught.value)


def test_config_folder_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load_config(str(tmp_path))


def test_a_bad_value_from_the_config_file_names_its_key() -> None:
    """A value the command line gave is named by its option; one from the config file by its key, since
    that is where the person has to look."""
    from libra_cli.settings import ScanSettings

    with pytest.raises(ConfigError, match=r"^config file key 'max_file_size': '2X' is not a size"):
        ScanSettings.resolve({}, {"max_file_size": "2X"})
    with pytest.raises(ConfigError, match=r"^config file key 'workers': "):
        ScanSettings.resolve({}, {"workers": -3})
    with pytest.raises(ConfigError, match=r"^'2X' is not a size"):
        ScanSettings.resolve({"max_file_size": "2X"}, {})


def test_a_default_config_folder_that_cannot_be_searched_is_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``HOME`` pointing where this user may not look: no config is used, and the log says why."""
    from libra_cli.config import find_config

    def refuse(self: Path) -> bool:
        raise PermissionError(13, "Permission denied")

    monkeypatch.delenv("LIBRA_CONFIG", raising=False)
    monkeypatch.setattr(Path, "is_file", refuse)
    logger = logging.getLogger("libra")  # other tests may stop it propagating to the root logger
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="libra"):
            assert find_config(None) is None
    finally:
        logger.removeHandler(caplog.handler)
    assert "config file not looked for" in caplog.text and "Permission denied" in caplog.text
