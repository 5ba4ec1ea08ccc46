"""Placeholder until the command lands."""

from __future__ import annotations

import typer


def scan() -> None:
    """Placeholder."""
    raise typer.Exit(2)
