"""``libra scan``: walk targets, hash in workers, match against lists, write findings.

The command only parses and prints: settings are resolved by the library (``settings.py``: flags over
the config file over defaults), the run is ``api.prepare`` + ``api.run``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import typer

from ..api import prepare, run
from ..config import load_config
from ..engine import engines
from ..errors import ConfigError, ExitCode
from ..findings import formats, make_writer, open_output, output_identity
from ..settings import DEFAULT_MAX_FILE_SIZE, ScanSettings
from ..sinks import FindingsSink
from ..textsafe import count
from .common import guarded, say, stderr
from .progress import ScanBar

log = logging.getLogger("libra.cli")


class _ConsoleHandler(logging.Handler):
    """Log lines to stderr through the rich console, so they print above a progress bar, not into it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stderr.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:  # logging must never break a scan
            self.handleError(record)


def setup_logging(level: str, log_file: str | None) -> None:
    """Greppable ``key=value`` log lines on stderr (or a file) for sysadmins."""
    numeric = getattr(logging, level.upper(), None) if level.lower() in ("debug", "info", "warning", "error") else None
    if not isinstance(numeric, int):
        raise ConfigError(f"{level!r} is not a log level (debug, info, warning, error)")
    try:
        handler: logging.Handler = logging.FileHandler(log_file) if log_file else _ConsoleHandler()
    except OSError as err:
        raise ConfigError(f"cannot open log file {log_file!r}: {err.strerror or err}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s libra %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("libra")
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    root.propagate = False


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


def _flag(value: Any) -> Any:
    """A boolean switch that was not given is ``None`` (so the config file can set it)."""
    return True if value else None


@guarded
def scan(
    targets: list[str] = typer.Argument(
        None, metavar="TARGET...", help="Folders, files or s3://bucket/prefix to scan (or use --files-from)."
    ),
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
        help=f"Findings format: {', '.join(formats())} (default: from the -o suffix, else json).",
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-w", metavar="N", help="Worker processes (default 0: one per core; 1: no subprocess)."
    ),
    engine: str | None = typer.Option(
        None, "--engine", metavar="NAME", help=f"Where hashing runs: {', '.join(engines())} (default local)."
    ),
    hash_set: str | None = typer.Option(
        None,
        "--hash-set",
        metavar="SET",
        help="What to compute: lists (default: what the lists can match), all, or names like md5,pdq.",
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", metavar="GLOB", help="Skip paths or names matching this glob. Repeatable."
    ),
    max_file_size: str | None = typer.Option(
        None,
        "--max-file-size",
        metavar="SIZE",
        help=f"Skip (and list) files larger than this (e.g. 512M, 64G). Default {DEFAULT_MAX_FILE_SIZE}.",
    ),
    file_timeout: float | None = typer.Option(
        None,
        "--file-timeout",
        metavar="SECONDS",
        help="Stop a worker whose file makes no progress for this long (default 120).",
    ),
    one_file_system: bool = typer.Option(False, "--one-file-system", help="Do not cross filesystem boundaries."),
    follow_symlinks: bool = typer.Option(False, "--follow-symlinks", help="Follow symbolic links."),
    pdq_threshold: int | None = typer.Option(
        None, "--pdq-threshold", metavar="N", help="Max PDQ Hamming distance for a perceptual match (default 31)."
    ),
    threshold: list[str] = typer.Option(
        [], "--threshold", metavar="TYPE=N", help="Max distance per hash type, e.g. pdq=28. Repeatable."
    ),
    min_quality: int | None = typer.Option(
        None, "--min-quality", metavar="N", help="Ignore PDQ hashes of lower quality (default 50)."
    ),
    no_dihedral: bool = typer.Option(False, "--no-dihedral", help="Do not also match mirrored/rotated images."),
    endpoint_url: str | None = typer.Option(
        None, "--endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO, Ceph, R2; default: AWS)."
    ),
    region: str | None = typer.Option(None, "--region", metavar="REGION", help="S3 region."),
    profile: str | None = typer.Option(None, "--profile", metavar="NAME", help="AWS shared-config profile."),
    path_style: bool = typer.Option(False, "--path-style", help="Path-style S3 addressing (MinIO, Ceph)."),
    all_versions: bool = typer.Option(False, "--all-versions", help="Also scan noncurrent S3 object versions."),
    since: str | None = typer.Option(
        None, "--since", metavar="WHEN", help="Only what changed since: a duration (24h, 7d) or a time (ISO 8601)."
    ),
    files_from: str | None = typer.Option(
        None,
        "--files-from",
        metavar="FILE",
        help="Scan what FILE names (- for stdin): paths, s3:// URIs, keys, or S3 event notifications (JSON).",
    ),
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
    """Scan folders, files and buckets for known material, by hash, and write findings.

    Media are recognised by content (magic bytes), never by file name. Each file is read once,
    hashed in memory (whatever the lists can match: exact digests, PDQ of images) and matched
    against the decrypted lists. Matched files also get MD5, SHA-1 and SHA-256 for the report.
    No media is ever copied, cached or written.

    Examples:

        libra scan /srv/uploads --list ncmec.libra --identity /etc/libra/host.key -o findings.json

        libra scan /srv/uploads -l hotline.libra --publisher-key hotline.pub -f ndjson -q | jq .

    Exit codes: 0 nothing found, 1 something matched (even if some files could not be read), 2 the
    scan could not cover what it was asked to (unreadable files, bad list or key).
    """
    config = load_config(config_file)
    flags: dict[str, Any] = {
        "targets": targets or [],
        "lists": lists,
        "identity": identity,
        "passphrase_env": passphrase_env,
        "publisher_keys": publisher_keys,
        "output": output,
        "format": fmt,
        "workers": workers,
        "engine": engine,
        "hash_set": hash_set,
        "exclude": exclude,
        "max_file_size": max_file_size,
        "file_timeout": file_timeout,
        "one_file_system": _flag(one_file_system),
        "follow_symlinks": _flag(follow_symlinks),
        "pdq_threshold": pdq_threshold,
        "thresholds": threshold,
        "min_quality": min_quality,
        "dihedral": False if no_dihedral else None,
        "endpoint_url": endpoint_url,
        "region": region,
        "profile": profile,
        "path_style": _flag(path_style),
        "all_versions": _flag(all_versions),
        "since": since,
        "files_from": files_from,
        "quiet": _flag(quiet),
        "log_level": log_level,
        "log_file": log_file,
    }
    settings = ScanSettings.resolve(flags, config)
    setup_logging(settings.log_level or ("error" if settings.quiet else "warning"), settings.log_file)
    if not settings.targets and not settings.files_from:
        raise ConfigError("nothing to scan: name a TARGET (a folder, file or s3://bucket/prefix) or --files-from")
    if not settings.lists:
        raise ConfigError("no hash list given: pass --list LIST (or set 'lists' in the config file)")
    prepared = prepare(settings)
    unsupported = prepared.matcher.unsupported()
    if unsupported and not settings.quiet:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(unsupported.items()))
        say(f"libra: the lists hold entries libra cannot compute ({kinds}); they will never match")
    with open_output(settings.output) as stream, ScanBar(enabled=not settings.quiet) as bar:
        own = _identities(settings.output, settings.log_file) | {i for i in [output_identity(stream)] if i}
        writer = make_writer(settings.format, stream)
        report = run(prepared, [FindingsSink(writer)], own_files=frozenset(own), listener=bar.update)
    if not settings.quiet:
        where = f" -> {settings.output}" if settings.output not in (None, "-") else ""
        coverage = "" if report.complete else ", coverage incomplete"
        say(
            f"libra: scanned {count(report.files, 'file')} ({report.media} media, {report.skipped} skipped): "
            f"{report.matched} matched, {count(report.errors, 'error')}{coverage}{where}"
        )
    if report.exit_code != ExitCode.CLEAN:
        raise typer.Exit(int(report.exit_code))
