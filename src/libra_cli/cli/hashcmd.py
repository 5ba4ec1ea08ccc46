"""``libra hash``: print the hashes of media files, as JSON or as a hash-list source (CSV)."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import typer

from ..errors import ConfigError, ExitCode
from ..models import DIGEST_SIZES, HashConfig, HashResult
from ..storage import Walker, WalkOptions
from ..workers import default_workers, hash_many
from .common import guarded, parse_size, stderr

#: The list-source CSV header (docs/hashlist-format.md): what ``libra hashlist build`` imports.
CSV_HEADER = ("hash_type", "hash", "id", "label", "category", "allow")
#: Perceptual hashes of flat or tiny images match too much: list sources leave them out.
MIN_LIST_QUALITY = 50


def entry_id(uri: str, roots: Sequence[str]) -> str:
    """A stable, human-meaningful id: the path relative to the folder that was named."""
    for root in roots:
        if uri.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.relpath(uri, root)
    return os.path.basename(uri)


def result_to_dict(result: HashResult) -> dict[str, Any]:
    return {
        "location": result.ref.uri,
        "size": result.ref.size,
        "media_type": result.media_type,
        "width": result.width,
        "height": result.height,
        "digests": dict(result.digests),
        "perceptual": [
            {"hash_type": p.hash_type, "value": p.value, "quality": p.quality, "variant": p.variant}
            for p in result.perceptual
        ],
        "error": result.error,
    }


def csv_rows(result: HashResult, ident: str, label: str, category: str) -> Iterator[tuple[str, ...]]:
    """List-source rows for one file: each digest, then each distinct perceptual hash of usable quality."""
    for hash_type, value in result.digests.items():
        yield (hash_type, value, ident, label, category, "0")
    seen: set[tuple[str, str]] = set()
    for p in result.perceptual:
        if p.quality is not None and p.quality < MIN_LIST_QUALITY:
            continue
        if (p.hash_type, p.value) not in seen:
            seen.add((p.hash_type, p.value))
            yield (p.hash_type, p.value, ident, label, category, "0")


@guarded
def hash_files(
    paths: list[str] = typer.Argument(..., help="Files or folders (walked recursively)."),
    fmt: str = typer.Option("json", "--format", "-f", help="json (one object per file) or csv (a list source)."),
    robust: bool = typer.Option(
        False,
        "--robust",
        help="Add the extra hashes that let a list catch crops and watermarks (docs/hashes.md).",
    ),
    digests: str = typer.Option(",".join(DIGEST_SIZES), "--digests", help="Comma-separated exact digests to compute."),
    label: str = typer.Option("", "--label", help="Label for every CSV row (e.g. a case or series name)."),
    category: str = typer.Option("", "--category", help="Category for every CSV row (e.g. A, B, C)."),
    all_files: bool = typer.Option(
        False, "--all-files", help="Also print files that are not images or videos (exact digests only)."
    ),
    workers: int = typer.Option(0, "--workers", "-w", help="Worker processes (default: all cores)."),
    max_file_size: str = typer.Option("512M", "--max-file-size", help="Skip files larger than this."),
) -> None:
    """Print the hashes of media files (to stdout), e.g. to build a hash list from them.

    Media are recognised by content; other files are left out unless --all-files (then they get
    exact digests only). With --format csv the output is a list source:

      libra hash photos/ --robust --format csv > source.csv

      libra hashlist build source.csv -o my.libra --recipient age1...

    Exit code 2 if some file could not be read.
    """
    if fmt not in ("json", "csv"):
        raise ConfigError(f"{fmt!r} is not a hash output format (choose json or csv)")
    chosen = tuple(d.strip().lower() for d in digests.split(",") if d.strip())
    unknown = [d for d in chosen if d not in DIGEST_SIZES]
    if unknown:
        raise ConfigError(f"{unknown[0]!r} is not an exact digest (choose from {', '.join(DIGEST_SIZES)})")
    limit = parse_size(max_file_size)
    config = HashConfig(digests=chosen, dihedral=False, robust=robust, max_file_size=limit)
    roots = [os.path.abspath(p) for p in paths]
    problems: list[str] = []
    walker = Walker(paths, WalkOptions(max_file_size=limit))
    out = sys.stdout
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_HEADER)
    else:
        out.write("[")
    count = skipped = 0
    for result in hash_many(walker.refs(), config, workers or default_workers()):
        if result.media_type is None and not all_files and not (result.error and not result.digests):
            skipped += 1
            continue
        if result.error:
            stderr.print(f"libra: {result.ref.uri}: {result.error}")
            if not result.digests:
                problems.append(result.ref.uri)
        if writer is not None:
            ident = entry_id(result.ref.uri, roots)
            writer.writerows(csv_rows(result, ident, label, category))
        else:
            out.write(("," if count else "") + "\n  " + json.dumps(result_to_dict(result)))
        count += 1
    if writer is None:
        out.write("\n]\n" if count else "]\n")
    out.flush()
    if skipped:
        stderr.print(f"libra: left out {skipped} files that are not images or videos (see --all-files)")
    problems.extend(f"{e.location}: {e.reason}" for e in walker.errors)
    for skip in walker.skipped:
        stderr.print(f"libra: skipped {skip.location}: {skip.reason}")
    for problem in problems:
        stderr.print(f"libra: not covered: {problem}")
    if problems:
        raise typer.Exit(int(ExitCode.ERROR))
