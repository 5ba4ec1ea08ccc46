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
from ..hashlist.importers.libra_csv import COLUMNS
from ..matcher import DEFAULT_MIN_QUALITY
from ..models import DIGEST_SIZES, HashConfig, HashResult
from ..scan import Progress
from ..storage import Walker, WalkOptions
from ..textsafe import count, unicode_safe
from ..workers import default_workers, hash_many
from .common import guarded, parse_size, say
from .progress import ScanBar

#: The list-source CSV header (docs/hashlist-format.md): what ``libra hashlist build`` imports.
CSV_HEADER = COLUMNS
#: Perceptual hashes of flat or tiny images match too much: list sources leave out what a scan would ignore.
MIN_LIST_QUALITY = DEFAULT_MIN_QUALITY


def entry_id(uri: str, roots: Sequence[str]) -> str:
    """A stable, human-meaningful id: the path relative to the folder that was named."""
    for root in roots:
        if uri.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.relpath(uri, root)
    return os.path.basename(uri)


def result_to_dict(result: HashResult) -> dict[str, Any]:
    return {
        "location": unicode_safe(result.ref.uri),
        "size": result.ref.size,
        "media_type": result.media_type,
        "width": result.width,
        "height": result.height,
        "digests": dict(result.digests),
        "perceptual": [
            {"hash_type": p.hash_type, "value": p.value, "quality": p.quality, "variant": p.variant}
            for p in result.perceptual
        ],
        "error": None if result.error is None else unicode_safe(result.error),
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


class _Output:
    """Streams ``libra hash`` results to stdout as a JSON array or list-source CSV rows."""

    def __init__(self, fmt: str, all_files: bool, roots: Sequence[str], label: str, category: str) -> None:
        self.out = sys.stdout
        self.csv = csv.writer(self.out, lineterminator="\n") if fmt == "csv" else None
        self.all_files, self.roots, self.label, self.category = all_files, roots, label, category
        self.written = self.left_out = 0
        self.uncovered: list[str] = []
        if self.csv is not None:
            self.csv.writerow(CSV_HEADER)
        else:
            self.out.write("[")

    def add(self, result: HashResult) -> None:
        unreadable = bool(result.error) and not result.digests
        if result.media_type is None and not self.all_files and not unreadable:
            self.left_out += 1
            return
        if result.error:
            say(f"libra: {result.ref.uri}: {result.error}")
            if unreadable:
                self.uncovered.append(result.ref.uri)
        if self.csv is not None:
            ident = unicode_safe(entry_id(result.ref.uri, self.roots))
            self.csv.writerows(csv_rows(result, ident, self.label, self.category))
        else:
            self.out.write(("," if self.written else "") + "\n  " + json.dumps(result_to_dict(result)))
        self.written += 1

    def close(self) -> None:
        if self.csv is None:
            self.out.write("\n]\n" if self.written else "]\n")
        self.out.flush()


@guarded
def hash_files(
    paths: list[str] = typer.Argument(..., metavar="PATH", help="Files or folders (walked recursively)."),
    fmt: str = typer.Option(
        "json", "--format", "-f", metavar="FORMAT", help="json (one object per file) or csv (a list source)."
    ),
    robust: bool = typer.Option(
        False,
        "--robust",
        help="Add the extra hashes that let a list catch crops and watermarks (docs/hashes.md).",
    ),
    digests: str = typer.Option(
        ",".join(DIGEST_SIZES), "--digests", metavar="LIST", help="Comma-separated exact digests to compute."
    ),
    label: str = typer.Option(
        "", "--label", metavar="TEXT", help="Label for every CSV row (e.g. a case or series name)."
    ),
    category: str = typer.Option("", "--category", metavar="TEXT", help="Category for every CSV row (e.g. A, B, C)."),
    all_files: bool = typer.Option(
        False, "--all-files", help="Also print files that are not images or videos (exact digests only)."
    ),
    workers: int = typer.Option(0, "--workers", "-w", metavar="N", help="Worker processes; 0 means all cores."),
    max_file_size: str = typer.Option("16G", "--max-file-size", metavar="SIZE", help="Skip files larger than this."),
) -> None:
    """Print the hashes of media files (to stdout), e.g. to build a hash list from them.

    Media are recognised by content; other files are left out unless --all-files (then they get
    exact digests only). With --format csv the output is a list source:

        libra hash photos/ --robust --format csv > source.csv

        libra hashlist build source.csv -o my.libra --recipient age1...

    Exit code 2 if some file could not be read.
    """
    if workers < 0:
        raise ConfigError(f"--workers must be 0 (all cores) or more, not {workers}")
    fmt = fmt.lower()
    if fmt not in ("json", "csv"):
        raise ConfigError(f"{fmt!r} is not a hash output format (choose json or csv)")
    chosen = tuple(d.strip().lower() for d in digests.split(",") if d.strip())
    unknown = [d for d in chosen if d not in DIGEST_SIZES]
    if unknown:
        raise ConfigError(f"{unknown[0]!r} is not an exact digest (choose from {', '.join(DIGEST_SIZES)})")
    limit = parse_size(max_file_size)
    config = HashConfig(digests=chosen, dihedral=False, robust=robust)
    roots = [os.path.abspath(p) for p in paths]
    walker = Walker(paths, WalkOptions(max_file_size=limit))
    output = _Output(fmt, all_files, roots, label, category)
    progress = Progress()
    with ScanBar(enabled=True, label="hash", matches=False) as bar:
        for result in hash_many(walker.refs(), config, workers or default_workers()):
            output.add(result)
            progress.report.files += 1
            progress.report.bytes += result.ref.size
            progress.discovered = walker.discovered
            bar.update(progress)
        progress.walk_done = True
        bar.update(progress)
    output.close()
    if output.left_out:
        say(f"libra: left out {count(output.left_out, 'file')} that are not images or videos (see --all-files)")
    for skip in walker.skipped:
        say(f"libra: skipped {skip.location}: {skip.reason}")
    problems = output.uncovered + [f"{e.location}: {e.reason}" for e in walker.errors]
    for problem in problems:
        say(f"libra: not covered: {problem}")
    if problems:
        raise typer.Exit(int(ExitCode.ERROR))
