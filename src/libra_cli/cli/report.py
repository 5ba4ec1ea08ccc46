"""``libra report``: summaries of findings files that can be shared (``aggregate``)."""

from __future__ import annotations

import json

import typer

from ..aggregate import aggregate
from ..errors import ConfigError
from ..outfile import atomic_output
from .common import guarded

app = typer.Typer(help="Summaries of findings files that can be shared.", no_args_is_help=True)


@app.command("aggregate")
@guarded
def aggregate_command(
    findings: list[str] = typer.Argument(..., metavar="FINDINGS...", help="Findings files (json or ndjson)."),
    min_count: int = typer.Option(
        1, "--min-count", metavar="K", help="Leave out counts below K (they could point at one user)."
    ),
    with_hashes: bool = typer.Option(
        False, "--with-hashes", help="Also give MD5, SHA-1 and SHA-256 of suspected files (for a hotline)."
    ),
    output: str | None = typer.Option(None, "--output", "-o", metavar="FILE", help="Write here (default stdout)."),
) -> None:
    """A location-free summary of findings files, as JSON: counts per list, category, hash type, signal
    and day. No paths, accounts or folders; hashes of suspected files only with --with-hashes.

        libra report aggregate /var/lib/libra/findings-*.json --min-count 5
    """
    text = json.dumps(aggregate(findings, min_count=min_count, with_hashes=with_hashes), indent=2) + "\n"
    if output in (None, "-"):
        typer.echo(text, nl=False)
        return
    assert output is not None
    try:
        with atomic_output(output) as out:
            out.handle.write(text)
    except OSError as err:
        raise ConfigError(f"cannot write {output!r}: {err.strerror or err}") from None
