"""The ``libra`` command: a thin typer layer that turns library errors into one sentence and an exit code."""

from __future__ import annotations

import logging
import signal
import sys

import typer

from .. import __version__
from ..errors import ExitCode, LibraError
from ..textsafe import printable
from . import hashcmd, hashlist, keys, scan

app = typer.Typer(
    rich_markup_mode="markdown",
    name="libra",
    help=(
        "Find known child-sexual-abuse material on your own storage by hash, without copying or "
        "viewing it. libra reads bytes, hashes them in memory and keeps only hashes, locations and "
        "metadata.\n\nExit codes: 0 nothing found, 1 something matched, 2 the run could not do its job."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("scan")(scan.scan)
app.command("hash")(hashcmd.hash_files)
app.command("keygen")(keys.keygen)
app.add_typer(hashlist.app, name="hashlist")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"libra {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """libra: hash-based detection of known abuse material that never copies media."""


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (systemd stopping a unit, ``timeout``) unwinds like Ctrl-C: workers stopped, no half file."""
    raise KeyboardInterrupt


def main() -> None:
    """Console entry point: run the app; a ``LibraError`` becomes one plain sentence and exit code 2."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s libra %(levelname)s %(message)s", stream=sys.stderr
    )
    signal.signal(signal.SIGTERM, _terminate)
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 file name must never stop a run
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        app(standalone_mode=True)
    except LibraError as err:
        typer.echo(f"libra: {printable(err)}", err=True)
        sys.exit(int(err.exit_code))
    except KeyboardInterrupt:
        typer.echo("libra: interrupted.", err=True)
        sys.exit(int(ExitCode.ERROR))
