"""``libra scan``: walk targets, hash in workers, match against lists, write findings."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from ..config import load_config
from ..errors import ConfigError, ExitCode
from ..findings import formats, make_writer, open_output, output_identity
from ..hashlist.table import HashList
from ..matcher import DEFAULT_MIN_QUALITY, DEFAULT_THRESHOLDS, Matcher
from ..models import HashConfig
from ..scan import ScanOptions
from ..scan import scan as run_scan
from ..storage import WalkOptions
from ..textsafe import count
from ..workers import DEFAULT_TIMEOUT, default_workers
from .common import guarded, parse_size, say, stderr
from .lists import load_lists
from .progress import ScanBar

log = logging.getLogger("libra.cli")

#: Larger files are skipped (and counted): streaming their digests would outlast --file-timeout.
DEFAULT_MAX_FILE_SIZE = "16G"

_SUFFIX_FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json"}


def _pick(cli: Any, config: dict[str, Any], key: str, default: Any) -> Any:
    """Command line beats config file beats built-in default."""
    if cli not in (None, [], ()):
        return cli
    return config.get(key, default)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


class _ConsoleHandler(logging.Handler):
    """Log lines to stderr through the rich console, so they print above a progress bar, not into it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stderr.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:  # logging must never break a scan
            self.handleError(record)


def setup_logging(level: str, log_file: str | None) -> None:
    """Greppable ``key=value`` log lines on stderr (or a file) for sysadmins."""
    try:
        numeric = getattr(logging, level.upper())
    except AttributeError:
        raise ConfigError(f"{level!r} is not a log level (debug, info, warning, error)") from None
    try:
        handler: logging.Handler = logging.FileHandler(log_file) if log_file else _ConsoleHandler()
    except OSError as err:
        raise ConfigError(f"cannot open log file {log_file!r}: {err.strerror or err}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s libra %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("libra")
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    root.propagate = False


#: A week: longer than any one file can take, short enough for the wait primitives.
MAX_TIMEOUT = 7 * 24 * 3600.0


def _timeout(value: Any) -> float:
    seconds = float(value)
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ConfigError(f"--file-timeout must be between 0 and {MAX_TIMEOUT:g} seconds, not {value!r}")
    return seconds


def _identities(*paths: str | None) -> set[tuple[int, int]]:
    """(device, inode) of the files that exist among ``paths``: libra's own, recognised whatever their name."""
    found: set[tuple[int, int]] = set()
    for path in paths:
        if path not in (None, "-"):
            try:
                st = os.stat(str(path))
            except OSError:
                continue
            found.add((st.st_dev, st.st_ino))
    return found


def parse_thresholds(values: list[str], configured: dict[str, Any]) -> dict[str, int]:
    """``["phash=6"]`` plus the config's ``thresholds`` mapping -> ``{"phash": 6}`` (command line wins)."""
    out = {str(k): v for k, v in configured.items()}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep:
            raise ConfigError(f"--threshold {value!r} must look like TYPE=N, e.g. phash=6")
        out[name.strip().lower()] = number
    parsed: dict[str, int] = {}
    for name, number in out.items():
        try:
            parsed[name] = int(number)
        except (TypeError, ValueError):
            raise ConfigError(f"threshold {name}={number!r} is not a whole number") from None
    return parsed


@guarded
def scan(
    targets: list[str] = typer.Argument(..., metavar="TARGET", help="Folders or files to scan (walked recursively)."),
    lists: list[str] = typer.Option(
        [], "--list", "-l", metavar="LIST", help="A hash list (*.libra, or an age-encrypted source). Repeatable."
    ),
    identity: list[str] = typer.Option(
        [],
        "--identity",
        "-i",
        metavar="FILE",
        help="age identity file to decrypt lists (default: $LIBRA_IDENTITY). Repeatable.",
    ),
    passphrase_env: str | None = typer.Option(
        None, "--passphrase-env", metavar="VAR", help="Name of an environment variable holding a list passphrase."
    ),
    publisher_keys: list[str] = typer.Option(
        [],
        "--publisher-key",
        metavar="PUB",
        help="Require lists to be signed by this publisher key (*.pub). Repeatable.",
    ),
    output: str | None = typer.Option(None, "--output", "-o", metavar="FILE", help="Findings file (default: stdout)."),
    fmt: str | None = typer.Option(
        None,
        "--format",
        "-f",
        metavar="FORMAT",
        help=f"Findings format: {', '.join(formats())} (default: from -o suffix, else json).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-w", metavar="N", help="Worker processes (default: all cores)."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", metavar="GLOB", help="Skip paths or names matching this glob. Repeatable."
    ),
    max_file_size: str | None = typer.Option(
        None,
        "--max-file-size",
        metavar="SIZE",
        help=f"Skip files larger than this (e.g. 512M, 64G). Default {DEFAULT_MAX_FILE_SIZE}.",
    ),
    file_timeout: float | None = typer.Option(
        None,
        "--file-timeout",
        metavar="SECONDS",
        help="Stop a worker that returns nothing for this many seconds (default 300).",
    ),
    one_file_system: bool = typer.Option(False, "--one-file-system", help="Do not cross filesystem boundaries."),
    follow_symlinks: bool = typer.Option(False, "--follow-symlinks", help="Follow symbolic links."),
    pdq_threshold: int | None = typer.Option(
        None, "--pdq-threshold", metavar="N", help="Max PDQ Hamming distance for a perceptual match (default 31)."
    ),
    threshold: list[str] = typer.Option(
        [], "--threshold", metavar="TYPE=N", help="Max distance per hash type, e.g. phash=6, dhash=4. Repeatable."
    ),
    min_quality: int | None = typer.Option(
        None, "--min-quality", metavar="N", help="Ignore PDQ hashes of lower quality (default 50)."
    ),
    no_dihedral: bool = typer.Option(False, "--no-dihedral", help="Do not also match mirrored/rotated images."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary, only error logs (for cron)."),
    log_level: str | None = typer.Option(
        None, "--log-level", metavar="LEVEL", help="debug, info, warning (default), error."
    ),
    log_file: str | None = typer.Option(
        None, "--log-file", metavar="FILE", help="Append logs to this file instead of stderr."
    ),
    config_file: str | None = typer.Option(
        None,
        "--config",
        metavar="FILE",
        help="Config file (default: $LIBRA_CONFIG, ~/.config/libra/config.yaml, /etc/libra/config.yaml).",
    ),
) -> None:
    """Scan folders and files for known material, by hash, and write findings.

    Media are recognised by content (magic bytes), never by file name. Each file is read once,
    hashed in memory (MD5, SHA-1, SHA-256 and whatever the lists use; PDQ, pHash, dHash of images)
    and matched against the decrypted lists. No media is ever copied, cached or written.

    Examples:

        libra scan /srv/uploads --list ncmec.libra --identity /etc/libra/host.key -o findings.json

        libra scan /srv/uploads -l hotline.libra --publisher-key hotline.pub -f ndjson -q | jq .

    Exit codes: 0 nothing found, 1 something matched, 2 the scan could not cover what it was
    asked to (unreadable files, bad list or key).
    """
    config = load_config(config_file)
    quiet = quiet or bool(config.get("quiet", False))
    setup_logging(_pick(log_level, config, "log_level", "error" if quiet else "warning"), log_file)
    list_paths = _pick(lists, config, "lists", [])
    if not list_paths:
        raise ConfigError("no hash list given: pass --list LIST (or set 'lists' in the config file)")
    output = _pick(output, config, "output", None)
    fmt = (_pick(fmt, config, "format", None) or _SUFFIX_FORMATS.get(Path(output or "").suffix.lower(), "json")).lower()
    size_text = _pick(max_file_size, config, "max_file_size", DEFAULT_MAX_FILE_SIZE)
    size_limit = parse_size(str(size_text))
    n_workers = int(_pick(workers, config, "workers", 0)) or default_workers()
    if n_workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {n_workers}")
    thresholds = parse_thresholds(threshold, config.get("thresholds", {}))
    thresholds.setdefault("pdq", int(_pick(pdq_threshold, config, "pdq_threshold", DEFAULT_THRESHOLDS["pdq"])))
    thresholds.setdefault("vpdq", thresholds["pdq"])

    loaded: list[HashList] = load_lists(
        list_paths,
        identities=_as_list(_pick(identity, config, "identity", [])),
        passphrase_env=_pick(passphrase_env, config, "passphrase_env", None),
        publisher_keys=_as_list(_pick(publisher_keys, config, "publisher_keys", [])),
    )
    matcher = Matcher.build(
        loaded, thresholds=thresholds, min_quality=int(_pick(min_quality, config, "min_quality", DEFAULT_MIN_QUALITY))
    )
    unsupported = matcher.stats()["unsupported"]
    if unsupported and not quiet:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(unsupported.items()))  # type: ignore[attr-defined]
        say(f"libra: the lists hold entries libra cannot compute ({kinds}); they will never match")
    options = ScanOptions(
        walk=WalkOptions(
            exclude=tuple(_pick(exclude, config, "exclude", [])),
            max_file_size=size_limit,
            one_file_system=one_file_system or bool(config.get("one_file_system", False)),
            follow_symlinks=follow_symlinks or bool(config.get("follow_symlinks", False)),
        ),
        workers=n_workers,
        file_timeout=_timeout(_pick(file_timeout, config, "file_timeout", DEFAULT_TIMEOUT)),
        hash_config=HashConfig(dihedral=not no_dihedral and bool(config.get("dihedral", True))),
    )
    with open_output(output) as stream, ScanBar(enabled=not quiet) as bar:
        own = _identities(output, log_file) | {i for i in [output_identity(stream)] if i is not None}
        options = replace(options, walk=replace(options.walk, own_files=frozenset(own)))
        writer = make_writer(fmt, stream)
        report = run_scan(targets, matcher, writer, options, lists=loaded, listener=bar.update)
    if not quiet:
        where = f" -> {output}" if output not in (None, "-") else ""
        say(
            f"libra: scanned {count(report.files, 'file')} ({report.media} media, {report.skipped} skipped): "
            f"{report.matched} matched, {count(report.errors, 'error')}{where}"
        )
    if report.exit_code != ExitCode.CLEAN:
        raise typer.Exit(int(report.exit_code))
