"""Placeholder: the ``libra hashlist`` group is built with the hash-list work."""

from __future__ import annotations

import typer

app = typer.Typer(help="Build, inspect and verify encrypted, signed hash lists.", no_args_is_help=True)
