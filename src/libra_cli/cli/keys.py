"""Placeholder: ``libra keygen`` is built with the hash-list work (cli/keys.py)."""

from __future__ import annotations

import typer


def keygen(output: str = typer.Option(..., "-o", "--output", help="Where to write the age identity.")) -> None:
    """Make an age identity (placeholder)."""
    raise typer.Exit(2)
