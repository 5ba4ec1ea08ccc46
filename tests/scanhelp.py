"""Helpers for end-to-end tests: run the CLI, build real encrypted lists from benign photos."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from libra_cli.cli.app import app

#: ``libra`` in a subprocess with the test plug-ins loaded (``test://`` storage), as a third party's wrapper
#: would run it: ``[sys.executable, "-c", PLUGIN_BOOT, *args]``.
PLUGIN_BOOT = (
    f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import testplugins; "
    "from libra_cli.entry import main; sys.argv = ['libra', *sys.argv[1:]]; main()"
)

runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``libra ARGS`` in-process; return (exit code, stdout, stderr)."""
    result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def make_identity(path: Path) -> str:
    """A real age identity file; returns its public recipient."""
    code, out, err = cli("keygen", "-o", str(path))
    assert code == 0, err
    match = re.search(r"age1[0-9a-z]+", out + err)
    assert match, out + err
    return match.group(0)


def make_list(
    tmp: Path,
    images: list[Path],
    recipient: str,
    *,
    robust: bool = False,
    name: str = "test list",
    extra: tuple[str, ...] = (),
) -> Path:
    """Hash ``images`` into a list source with ``libra hash`` (``extra``: more of its options), then build
    an encrypted list from it."""
    args = ["hash", *map(str, images), "--format", "csv", "--workers", "1", "--label", "known", "--category", "A"]
    code, out, err = cli(*args, *(["--robust"] if robust else []), *extra)
    assert code == 0, err
    source = tmp / f"{name.replace(' ', '_')}.csv"
    source.write_text(out)
    target = tmp / f"{name.replace(' ', '_')}.libra"
    code, out, err = cli("hashlist", "build", str(source), "-o", str(target), "--recipient", recipient, "--name", name)
    assert code == 0, err
    return target


def records(doc: dict[str, Any], *statuses: str) -> list[dict[str, Any]]:
    """The records of a JSON findings document with one of ``statuses`` (default: matches)."""
    wanted = statuses or ("match",)
    return [r for r in doc["findings"] if r["status"] in wanted]


def coffee_and_moon_lists(tmp: Path) -> tuple[Path, Path, Path]:
    """(identity, a list of coffee.jpg, a list of moon.jpg): two lists with the same hash set."""
    photos = Path(__file__).parent / "data" / "photos"
    identity = tmp / "identity.txt"
    recipient = make_identity(identity)
    coffee = make_list(tmp, [photos / "coffee.jpg"], recipient, name="coffee list")
    moon = make_list(tmp, [photos / "moon.jpg"], recipient, name="moon list")
    return identity, coffee, moon
