"""``libra hash``: print the hashes of files, as JSON, a hash-list source (CSV), md5sum or hashdeep lines.

It runs the same pipeline as ``libra scan`` (walk thread, worker engine) with no lists and a sink that
prints hashes instead of findings.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

import typer

from .. import signals
from ..api import hash_paths
from ..errors import ConfigError, ExitCode
from ..hashlist.importers.libra_csv import COLUMNS
from ..models import HashConfig, HashResult, HashValues, Match, ScanError, Skip
from ..settings import default_workers, parse_size
from ..sinks import Sink
from ..storage.base import WalkOptions
from ..textsafe import count, unicode_safe
from .common import guarded, say
from .progress import ScanBar

#: The list-source CSV header (docs/hashlist-format.md): what ``libra hashlist build`` imports.
CSV_HEADER = COLUMNS
#: Output formats, and whether they list every file (digest formats) or media only.
FORMATS = {"json": False, "csv": False, "md5sum": True, "sha256sum": True, "hashdeep": True}


def entry_id(uri: str, roots: Sequence[str]) -> str:
    """A stable, human-meaningful id: the path relative to the folder that was named."""
    for root in roots:
        if uri.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.relpath(uri, root)
    return os.path.basename(uri)


def _is_frames(values: HashValues) -> bool:
    """Hashes of sampled video (or animation) frames: rows with times, of the PDQ family (``vpdq``)."""
    return values.times is not None and signals.get(values.hash_type).index_family == "pdq"


def result_to_dict(result: HashResult) -> dict[str, Any]:
    """One file as ``--format json`` prints it; video frames are ``vpdq`` with their ``frame_time`` (as in CSV)."""
    perceptual = []
    for values in result.perceptual:
        frames = _is_frames(values)
        for row in range(len(values)):
            perceptual.append(
                {
                    "hash_type": "vpdq" if frames else values.hash_type,
                    "value": values.values[row].tobytes().hex(),
                    "quality": None if values.quality is None else int(values.quality[row]),
                    "variant": values.transforms[row],
                    **({} if values.times is None else {"frame_time": round(float(values.times[row]), 3)}),
                }
            )
    return {
        "location": unicode_safe(result.ref.uri),
        "size": result.ref.size,
        "media_type": result.media_type,
        "width": result.width,
        "height": result.height,
        "digests": result.hex_digests(),
        "perceptual": perceptual,
        "error": None if result.error is None else unicode_safe(result.error),
    }


def csv_rows(result: HashResult, ident: str, label: str, category: str) -> Iterator[tuple[str, ...]]:
    """List-source rows for one file: each digest, then each distinct perceptual hash of usable quality,
    with the variant it is (``original``, ``real-mirror``, ``region:tl75``, ...).

    A video's (or animated image's) sampled frames become one ``vpdq`` entry: every usable frame and its
    region variants with their time and quality, all under the file's id, so a scan can compare timelines
    (match/video.py) instead of single frames. A frame is usable when its whole picture (``original``) reaches
    the quality floor: a scan ignores a flatter frame, so a list must not carry it, nor its masked variants
    (a mask only makes a picture flatter; their own quality the video rule weighs).
    """
    for hash_type, value in result.digests.items():
        yield (hash_type, value.hex(), ident, label, category, "0", "", "", "")
    seen: set[tuple[str, bytes]] = set()
    for values in result.perceptual:
        if _is_frames(values):
            yield from _frame_rows(values, ident, label, category)
            continue
        floor = signals.get(values.hash_type).quality_floor
        for row in range(len(values)):
            if floor is not None and values.quality is not None and values.quality[row] < floor:
                continue  # flat or tiny: a scan would ignore it, so a list must not carry it
            raw = values.values[row].tobytes()
            if (values.hash_type, raw) not in seen:
                seen.add((values.hash_type, raw))
                yield (values.hash_type, raw.hex(), ident, label, category, "0", values.transforms[row], "", "")


def _frame_rows(values: HashValues, ident: str, label: str, category: str) -> Iterator[tuple[str, ...]]:
    """The rows of one video entry (see ``csv_rows``); a repeated (hash, time, variant) is written once."""
    assert values.times is not None
    kept = usable_frames(values)
    seen: set[tuple[bytes, float, str]] = set()
    for row in range(len(values)):
        raw, time, variant = values.values[row].tobytes(), round(float(values.times[row]), 3), values.transforms[row]
        if time not in kept or (raw, time, variant) in seen:
            continue
        seen.add((raw, time, variant))
        quality = "" if values.quality is None else str(int(values.quality[row]))
        yield ("vpdq", raw.hex(), ident, label, category, "0", variant, f"{time:.3f}", quality)


def usable_frames(values: HashValues) -> set[float]:
    """Times (rounded to ms) of the frames whose whole-picture hash reaches the ``vpdq`` quality floor (every
    frame when no quality is known; a frame without an ``original`` row is judged by its best row)."""
    assert values.times is not None
    floor = signals.get("vpdq").quality_floor
    best: dict[float, int] = {}
    whole: dict[float, int] = {}
    for row in range(len(values)):
        time = round(float(values.times[row]), 3)
        quality = 100 if values.quality is None else int(values.quality[row])
        best[time] = max(best.get(time, 0), quality)
        if values.transforms[row] == "original":
            whole[time] = max(whole.get(time, 0), quality)
    return {t for t, q in best.items() if floor is None or whole.get(t, q) >= floor}


def no_usable_frame(result: HashResult) -> bool:
    """A video (or animation) none of whose sampled frames a list can use: it can only match by digest."""
    frames = [v for v in result.perceptual if _is_frames(v)]
    video = (result.media_type or "").startswith("video/")
    return (video or bool(frames)) and not any(usable_frames(v) for v in frames)


class HashOutput(Sink):
    """Streams ``libra hash`` results to stdout in one of ``FORMATS``."""

    def __init__(
        self, fmt: str, all_files: bool, roots: Sequence[str], label: str, category: str, out: TextIO | None = None
    ) -> None:
        self.fmt, self.roots, self.label, self.category = fmt, roots, label, category
        self.all_files = all_files or FORMATS[fmt]
        self.out = out or sys.stdout
        # RFC 4180 line ends: csv quotes a field holding "\r" only when rows end with "\r\n".
        self.csv = csv.writer(self.out, lineterminator="\r\n") if fmt in ("csv", "hashdeep") else None
        self.written = self.left_out = 0
        self.uncovered: list[str] = []
        self.skipped: list[Skip] = []
        #: Videos with no frame of usable quality (CSV): a list can match them only by their exact digests.
        self.digest_only: list[str] = []
        if fmt == "csv":
            self.out.write(",".join(CSV_HEADER) + "\r\n")
        elif fmt == "json":
            self.out.write("[")
        elif fmt == "hashdeep":
            self.out.write(f"%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n## Invoked from: {os.getcwd()}\n##\n")

    def result(self, result: HashResult, matches: Sequence[Match]) -> None:
        unreadable = result.fatal
        if result.error:
            say(f"libra: {unicode_safe(result.ref.uri)}: {result.error}")
            if unreadable:
                self.uncovered.append(result.ref.uri)
                return
        if result.media_type is None and not self.all_files:
            self.left_out += 1
            return
        name = unicode_safe(result.ref.uri)
        digests = result.hex_digests()
        if self.fmt == "csv":
            ident = unicode_safe(entry_id(result.ref.uri, self.roots))
            self._rows(csv_rows(result, ident, self.label, self.category))
            if no_usable_frame(result):
                self.digest_only.append(result.ref.uri)
        elif self.fmt == "json":
            self.out.write(("," if self.written else "") + "\n  " + json.dumps(result_to_dict(result)))
        elif self.fmt in ("md5sum", "sha256sum"):
            # GNU coreutils' escaping: a name with a backslash or newline gets a leading backslash.
            digest = digests[self.fmt.removesuffix("sum")]
            escaped = name.replace("\\", "\\\\").replace("\n", "\\n")
            prefix = "\\" if escaped != name else ""
            self.out.write(f"{prefix}{digest}  {escaped}\n")
        else:
            self._rows([(str(result.ref.size), digests["md5"], digests["sha256"], name)])
        self.written += 1

    def _rows(self, rows: Iterator[tuple[str, ...]] | list[tuple[str, ...]]) -> None:
        assert self.csv is not None
        self.csv.writerows(rows)

    def skip(self, skip: Skip) -> None:
        if skip.listed:
            self.skipped.append(skip)

    def error(self, error: ScanError) -> None:
        self.uncovered.append(f"{error.location}: {error.reason}")

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if self.written else "]\n")
        self.out.flush()


def _digests_for(fmt: str, chosen: tuple[str, ...]) -> tuple[str, ...]:
    need = {"md5sum": ("md5",), "sha256sum": ("sha256",), "hashdeep": ("md5", "sha256")}.get(fmt, ())
    return tuple(dict.fromkeys((*chosen, *need)))


@guarded
def hash_files(
    paths: list[str] = typer.Argument(..., metavar="PATH...", help="Files or folders (walked recursively)."),
    fmt: str = typer.Option(
        "json",
        "--format",
        "-f",
        metavar="FORMAT",
        help="json (one object per file), csv (a list source), md5sum, sha256sum or hashdeep.",
    ),
    robust: bool = typer.Option(
        False,
        "--robust",
        help="Add the extra hashes that let a list catch crops and watermarks (docs/hashes.md).",
    ),
    digests: str = typer.Option(
        ",".join(signals.names("digest")),
        "--digests",
        metavar="LIST",
        help="Comma-separated exact digests to compute.",
    ),
    perceptual: str = typer.Option(
        "pdq",
        "--perceptual",
        metavar="LIST",
        help="Comma-separated perceptual hashes of images (pdq; phash and dhash only corroborate PDQ matches).",
    ),
    label: str = typer.Option(
        "", "--label", metavar="TEXT", help="Label for every CSV row (e.g. a case or series name)."
    ),
    category: str = typer.Option("", "--category", metavar="TEXT", help="Category for every CSV row (e.g. A, B, C)."),
    all_files: bool = typer.Option(
        False, "--all-files", help="Also print files that are not images or videos (exact digests only)."
    ),
    workers: int = typer.Option(
        0,
        "--workers",
        "-w",
        metavar="N",
        help="Worker processes: 0 (default) one per core; 1 hashes in this process, without crash protection.",
    ),
    max_file_size: str = typer.Option("16G", "--max-file-size", metavar="SIZE", help="Skip files larger than this."),
) -> None:
    """Print the hashes of media files (to stdout), e.g. to build a hash list from them.

    Media are recognised by content; other files are left out unless --all-files (then they get
    exact digests only). With --format csv the output is a list source:

        libra hash photos/ --robust --format csv > source.csv

        libra hashlist build source.csv -o my.libra --recipient age1...

    md5sum, sha256sum and hashdeep print every file, in those tools' own formats.

    Exit code 2 if some file could not be read.
    """
    if workers < 0:
        raise ConfigError(f"--workers must be 0 (one per core) or more, not {workers}")
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ConfigError(f"{fmt!r} is not a hash output format (choose from {', '.join(FORMATS)})")
    chosen = tuple(d.strip().lower() for d in digests.split(",") if d.strip())
    for name in chosen:
        if name not in signals.names("digest"):
            raise ConfigError(f"{name!r} is not an exact digest (choose from {', '.join(signals.names('digest'))})")
    wanted = tuple(p.strip().lower() for p in perceptual.split(",") if p.strip())
    for name in wanted:
        if name not in signals.names("perceptual") or not signals.computable(name):
            raise ConfigError(f"{name!r} is not a perceptual hash libra computes")
    config = HashConfig(
        digests=_digests_for(fmt, chosen),
        perceptual=wanted if fmt in ("json", "csv") else (),
        dihedral=False,
        robust=robust and fmt in ("json", "csv"),
        plugins=signals.plugin_modules(),
    )
    roots = [os.path.abspath(p) for p in paths]
    limit = parse_size(max_file_size)
    bar = ScanBar(enabled=True, label="hash", matches=False, targets=paths, walk=WalkOptions(max_file_size=limit))
    with bar:
        # On a terminal shared with the bar, lines of output are printed above it, never into it.
        output = HashOutput(fmt, all_files, roots, label, category, out=bar.stream(sys.stdout))
        hash_paths(
            paths,
            output,
            config=config,
            workers=workers or default_workers(),
            max_file_size=limit,
            listener=bar.update,
        )
        output.close()
    if output.left_out:
        say(f"libra: left out {count(output.left_out, 'file')} that {'is' if output.left_out == 1 else 'are'} "
            "not an image or video (see --all-files)")  # fmt: skip
    floor = signals.get("vpdq").quality_floor
    for uri in output.digest_only:
        say(f"libra: {unicode_safe(uri)}: no video frame reaches PDQ quality {floor}, so a list made from it "
            "matches this video only by its exact digests")  # fmt: skip
    for skip in output.skipped:
        say(f"libra: skipped {unicode_safe(skip.location)}: {skip.reason}")
    for problem in output.uncovered:
        say(f"libra: not covered: {unicode_safe(problem)}")
    if output.uncovered:
        raise typer.Exit(int(ExitCode.ERROR))
