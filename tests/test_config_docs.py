"""The nightly config documented in docs/config.md is silent on a clean run: run exactly that block (its paths
moved into a temporary folder) as cron would, in a real process, and require empty stdout and stderr."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from libra_cli.config import load_config
from libra_cli.errors import ConfigError
from scanhelp import cli, make_identity

ROOT = Path(__file__).parent.parent
HEADING = "## A nightly config that is silent on a clean run"


def documented_config() -> str:
    """The first yaml block under the heading, verbatim."""
    text = (ROOT / "docs" / "config.md").read_text()
    section = text.split(HEADING, 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match, "docs/config.md lost its silent config example"
    return match.group(1)


def test_the_documented_config_is_silent_on_a_clean_tree(tmp_path: Path, photos: Path) -> None:
    text = documented_config()
    assert "quiet: true" in text and "log_level" not in text
    etc, var = tmp_path / "etc" / "libra", tmp_path / "var" / "lib" / "libra"
    config = tmp_path / "config.yaml"
    config.write_text(text.replace("/etc/libra", str(etc)).replace("/var/lib/libra", str(var)))
    settings = load_config(str(config))

    (etc / "lists").mkdir(parents=True)
    var.mkdir(parents=True)
    recipient = make_identity(Path(settings["identity"]))
    signing = tmp_path / "hotline-signing.key"
    assert cli("hashlist", "keygen", "-o", str(signing))[0] == 0
    shutil.copy(f"{signing}.pub", settings["publisher_keys"][0])
    source = tmp_path / "source.csv"
    source.write_text("hash_type,hash,id\nmd5," + hashlib.md5(b"libra: matches nothing here").hexdigest() + ",x\n")
    code, _, err = cli(
        "hashlist", "build", str(source), "-o", str(etc / "lists" / "hotline.libra"), "-r", recipient,
        "--sign-key", str(signing),
    )  # fmt: skip
    assert code == 0, err

    tree = tmp_path / "srv" / "uploads"
    tree.mkdir(parents=True)
    shutil.copy(photos / "coffee.jpg", tree / "coffee.jpg")
    (tree / "readme.txt").write_text("nothing to see\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRA_")}
    run = subprocess.run(
        [sys.executable, "-m", "libra_cli", "scan", str(tree), "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    assert (var / "findings.json").is_file()  # it did scan: the findings file is written


def test_lists_may_be_one_path_and_a_typo_gets_the_nearest_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("scan:\n  lists: /etc/libra/lists\n  quiet: true\n")
    assert load_config(str(config)) == {"lists": ["/etc/libra/lists"], "quiet": True}
    config.write_text("list: /etc/libra/lists\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(config))
    assert str(err.value) == (
        f"config file '{config}': unknown key 'list' (did you mean 'lists'?) (see docs/config.md)"
    )
    config.write_text("colour: blue\n")
    with pytest.raises(ConfigError, match=r"unknown key 'colour' \(see docs/config.md\)"):
        load_config(str(config))
    config.write_text("lists: [/a.libra, 3]\n")
    with pytest.raises(ConfigError, match="'lists' must be a path or a list of paths"):
        load_config(str(config))


def test_every_scan_option_is_a_config_key_and_documented() -> None:
    """A setting the config file refuses, or that docs/config.md does not name, is a setting a cron job cannot use."""
    from libra_cli.config import SCHEMA
    from libra_cli.settings import OPTIONS

    keys = set(OPTIONS) - {"targets"}  # what to scan is named on the command line
    assert keys <= set(SCHEMA), sorted(keys - set(SCHEMA))
    first_cells = re.findall(r"^\| ([^|]*) \|", (ROOT / "docs" / "config.md").read_text(), re.M)
    documented = {key for cell in first_cells for key in re.findall(r"`([a-z_0-9]+)`", cell)}
    assert keys <= documented, sorted(keys - documented)
