"""Placeholder until the command lands."""

from __future__ import annotations

import typer


def hash_files() -> None:
    """Placeholder."""
    raise typer.Exit(2)
