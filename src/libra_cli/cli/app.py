"""The ``libra`` command: a thin typer layer that turns library errors into one sentence and an exit code."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import signal
import sys
from typing import TextIO

import typer

from .. import __version__
from ..errors import ExitCode, LibraError
from ..textsafe import printable
from .common import LibraCommand, LibraGroup

#: Every top-level command: its module and the attribute holding the function (a command) or the
#: typer app (a group). ``build_app`` imports only what a run names: ``libra scan`` never loads the
#: state, list-building or report modules, which a CI gate of a few files would otherwise wait for.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "scan": ("scan", "scan", False),
    "hash": ("hashcmd", "hash_files", False),
    "keygen": ("keys", "keygen", False),
    "hashlist": ("hashlist", "app", True),
    "report": ("report", "app", True),
    "rematch": ("statecmd", "rematch", False),
    "history": ("statecmd", "history_app", True),
    "state": ("statecmd", "state_app", True),
    "allow": ("allowcmd", "allow_app", True),
}

_HELP = (
    "Find known child-sexual-abuse material on your own storage by hash, without copying or "
    "viewing it. libra reads bytes, hashes them in memory and keeps only hashes, locations and "
    "metadata.\n\nExit codes: 0 nothing found, 1 something matched, 2 the run could not do its job."
)


def build_app(only: str | None = None) -> typer.Typer:
    """The ``libra`` app with every command, or with just ``only`` (the one a command line names)."""
    app = typer.Typer(
        cls=LibraGroup,
        rich_markup_mode="markdown",
        name="libra",
        help=_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name, (module, attr, group) in COMMANDS.items():
        if only is not None and name != only:
            continue
        found = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
        if group:
            app.add_typer(found, name=name)
        else:
            app.command(name)(found)
    _libra_classes(app)
    app.callback()(_root)
    return app


def named_command(argv: list[str]) -> str | None:
    """The command a command line names (its first word, when it is one); ``""`` (no command needed) for
    ``--version``; else ``None`` (help, a mistyped command: the whole app answers)."""
    if argv == ["--version"]:
        return ""
    return argv[0] if argv and argv[0] in COMMANDS else None


def __getattr__(name: str) -> typer.Typer:
    """``app``: the whole app, built on first use (tests and the docs check walk every command)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


def _libra_classes(group: typer.Typer) -> None:
    """Every command and group gets libra's help rules (meaningful metavars, never python type names)."""
    for command in group.registered_commands:
        if not (isinstance(command.cls, type) and issubclass(command.cls, LibraCommand)):
            command.cls = LibraCommand
    for sub in group.registered_groups:
        sub.cls = LibraGroup
        if sub.typer_instance is not None:
            sub.typer_instance.info.cls = LibraGroup
            _libra_classes(sub.typer_instance)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"libra {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """libra: hash-based detection of known abuse material that never copies media."""


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (systemd stopping a unit, ``timeout``) unwinds like Ctrl-C: workers stopped, no half file."""
    raise KeyboardInterrupt


def _reserve_standard_fds() -> None:
    """Point a closed stdin, stdout or stderr (``libra scan ... >&-``) at /dev/null.

    Otherwise the next file libra opens would get descriptor 1 or 2, and a stray write meant for the
    terminal would land in it. ``sys.stdout`` stays ``None``, so writing findings there is refused.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if not _writable(sys.stdout):
        sys.stdout = None  # findings to stdout are then refused in one sentence
    if not _writable(sys.stderr):
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  # messages for people go nowhere, the run goes on


def _writable(stream: TextIO | None) -> bool:
    """A standard stream that exists and is open for writing (a shell can leave fd 2 open read-only)."""
    if stream is None:
        return False
    try:
        mode = fcntl.fcntl(stream.fileno(), fcntl.F_GETFL) & os.O_ACCMODE
    except (AttributeError, OSError, ValueError):
        return False
    return mode in (os.O_WRONLY, os.O_RDWR)


def main() -> None:
    """Console entry point: run the app; a ``LibraError`` becomes one plain sentence and exit code 2.

    Anything unexpected is also exit code 2 with one line, never a traceback and never exit code 1,
    which cron and CI read as "something matched".
    """
    _reserve_standard_fds()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s libra %(levelname)s %(message)s", stream=sys.stderr)
    signal.signal(signal.SIGTERM, _terminate)
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 file name must never stop a run
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        build_app(named_command(sys.argv[1:]))(standalone_mode=True)
    except LibraError as err:
        _tell(f"libra: {printable(err)}")
        sys.exit(int(err.exit_code))
    except KeyboardInterrupt:
        _tell("libra: interrupted.")
        sys.exit(int(ExitCode.ERROR))
    except Exception as err:  # a bug must still end with the documented code and one line
        logging.getLogger("libra").debug("internal error", exc_info=True)
        _tell(f"libra: internal error, the run did not complete ({type(err).__name__}: {printable(err)})")
        sys.exit(int(ExitCode.ERROR))


def _tell(text: str) -> None:
    """One line on stderr, if there is a stderr to write to."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            print(text, file=sys.stderr)
