"""Helpers shared by the command modules: error translation, stderr console, size parsing, help metavars."""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from ..errors import ExitCode, LibraError
from ..textsafe import printable

__all__ = ["LibraCommand", "LibraGroup", "guarded", "log", "parse_size", "printable", "say", "stderr_console"]

from ..settings import parse_size

if TYPE_CHECKING:
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")



@functools.cache
def stderr_console() -> Console:
    """The rich console on stderr. People read stderr; stdout carries data only (so ``libra scan ...
    --format ndjson | jq`` works). Made on first use: rich costs start-up time a quiet run need not pay."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)
log = logging.getLogger("libra")


def say(text: str) -> None:
    """One line for people on stderr: no rich markup (file names may hold brackets), control characters
    escaped (file names may hold escape sequences), no hard wrapping."""
    with contextlib.suppress(OSError, ValueError):  # a closed stderr (``2>&-``) must not change the outcome
        stderr_console().print(printable(text), markup=False, highlight=False, soft_wrap=True)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (tests): nothing to silence
        pass


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a ``LibraError`` into one plain sentence on stderr and its exit code (2), never a traceback.

    Applied to every command, so the CLI behaves the same under ``CliRunner`` and a real process.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except LibraError as err:
            say(f"libra: {printable(err)}")
            raise typer.Exit(int(err.exit_code)) from None
        except BrokenPipeError:  # `libra hash ... | head`: the reader left; nothing more to say
            _silence_stdout()
            raise typer.Exit(int(ExitCode.ERROR)) from None
        except OSError as err:  # a full disk, a vanished output folder: one sentence, never a traceback
            where = f": {printable(err.filename)}" if err.filename else ""
            say(f"libra: cannot continue: {err.strerror or err}{where}")
            raise typer.Exit(int(ExitCode.ERROR)) from None
        except KeyboardInterrupt:
            say("libra: interrupted.")
            raise typer.Exit(int(ExitCode.ERROR)) from None

    return wrapper


class _Argument(TyperArgument):
    """An argument shown by its metavar alone: ``TARGET...``, never a python type such as ``<list[str]>``."""

    @property
    def display_name_raw(self) -> str:
        name = self.metavar or (self.name or "ARG").upper()
        return name + "..." if self.nargs != 1 and not name.endswith("...") else name

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        """The usage line: ``TARGET...`` or ``[TARGET...]``, never typer's ``{TARGET}`` (typer < 0.29)."""
        return [self._usage_display_name()]


def _no_metavar(*args: Any, **kwargs: Any) -> str:
    return ""


def _plain_metavars(params: list[Any]) -> list[Any]:
    """Help shows what a value means (``FILE``, ``N``), never a python type (``<str>``, ``<bool>``).

    Switches show nothing after their name; an option without a metavar shows its name in capitals.
    """
    for param in params:
        if isinstance(param, TyperArgument):
            if not isinstance(param, _Argument):
                param.__class__ = _Argument
                # typer < 0.29 prints ``<type name>`` when the type has no metavar: give this argument a
                # copy of its type that has an empty one (the shared type objects stay untouched).
                param.type = copy.copy(param.type)
                param.type.get_metavar = _no_metavar  # type: ignore[method-assign]
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = (param.name or "value").upper()
    return params


class LibraCommand(TyperCommand):
    """Every ``libra`` command: help with meaningful metavars (see ``_plain_metavars``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_metavars(super().get_params(ctx))


class LibraGroup(TyperGroup):
    """``libra`` and ``libra hashlist``: the same help rules as ``LibraCommand``."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_metavars(super().get_params(ctx))
