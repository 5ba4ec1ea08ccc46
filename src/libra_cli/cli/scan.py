"""``libra scan``: walk targets, hash in workers, match against lists, write findings.

The command only parses and prints: settings are resolved by the library (``settings.py``: flags over
the config file over defaults), the run is ``api.prepare`` + ``api.run``. What is printed depends on
where stdout goes: a person at a terminal gets one line per finding and totals (``terminal.py``),
files and pipes get the findings format. Around the run, the command keeps the nightly promises:
a run that reached none of its targets leaves the previous findings file in place, and the
``--on-match`` hook runs once the findings file is complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import typer

from ..api import prepare, run
from ..config import load_config
from ..engine import engines
from ..errors import ConfigError, ExitCode
from ..findings import formats, make_writer, open_output, output_identity
from ..hashlist.table import HashList
from ..hook import run_on_match
from ..lists import expired_lists
from ..models import HashConfig
from ..outfile import open_private_log
from ..report import Report
from ..settings import DEFAULT_MAX_FILE_SIZE, ScanSettings
from ..sinks import FindingsSink, Sink
from ..sinks.reach import TargetWatch
from ..storage.base import WalkOptions
from ..textsafe import count, printable
from .common import guarded, say, stderr_console
from .progress import ScanBar

if TYPE_CHECKING:  # the state package loads only for runs with --state, the terminal view with a terminal
    from ..state import StateSession
    from .terminal import TerminalSink

log = logging.getLogger("libra.cli")


class _ConsoleHandler(logging.Handler):
    """Log lines to stderr through the rich console, so they print above a progress bar, not into it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stderr_console().print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:  # logging must never break a scan
            self.handleError(record)


class _LogFileHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Log lines appended to the ``--log-file`` stream, which is closed with the handler."""

    def close(self) -> None:
        try:
            self.flush()
            self.stream.close()
        finally:
            super().close()


class _ShownOnScreen(logging.Filter):
    """Drops the per-file events the terminal summary already shows as lines (matches, errors, skips)."""

    EVENTS = ("match ", "unreadable ", "undecodable ", "skipped ", "filtered ")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "libra.scan" and record.getMessage().startswith(self.EVENTS))


def effective_log_level(settings: ScanSettings) -> str:
    """``--log-level``, else ``warning``; ``-q`` lowers only what goes to stderr to errors. A log file
    (``--log-file``) keeps warnings with ``-q``: matches and expired lists are WARNING lines there, and
    docs/operations.md has sysadmins grep for them."""
    if settings.log_level:
        return settings.log_level
    return "error" if settings.quiet and not settings.log_file else "warning"


def setup_logging(level: str, log_file: str | None, terminal: bool = False) -> None:
    """Greppable ``key=value`` log lines on stderr (or a file) for sysadmins.

    With the terminal summary on screen (``terminal``), log lines on stderr leave out what it shows.
    A log file is created ``0600`` and never through a symbolic link (``outfile.open_private_log``).
    """
    numeric = getattr(logging, level.upper(), None) if level.lower() in ("debug", "info", "warning", "error") else None
    if not isinstance(numeric, int):
        raise ConfigError(f"{level!r} is not a log level (debug, info, warning, error)")
    try:
        handler: logging.Handler = _LogFileHandler(open_private_log(log_file)) if log_file else _ConsoleHandler()
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ConfigError(f"log file {log_file!r} is a symbolic link; name the file itself") from None
        raise ConfigError(f"cannot open log file {log_file!r}: {err.strerror or err}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s libra %(levelname)s %(name)s %(message)s"))
    if terminal and not log_file:
        handler.addFilter(_ShownOnScreen())
    root = logging.getLogger("libra")
    for previous in root.handlers:
        previous.close()  # an earlier run's log file, in this process (library callers, tests)
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


def _for_a_person(settings: ScanSettings, format_given: bool) -> bool:
    """The terminal summary instead of a findings format: stdout is a terminal, no -o, no format asked for."""
    if settings.output is not None or format_given or sys.stdout is None:
        return False
    try:
        return sys.stdout.isatty()
    except (ValueError, OSError):
        return False


class _KeepPrevious(Exception):
    """Raised inside ``open_output`` to discard the new findings file and keep the one in place."""

    def __init__(self, report: Report) -> None:
        super().__init__("none of the targets could be reached")
        self.report = report


def _walk_options(settings: ScanSettings) -> WalkOptions:
    """The walk's rules, for the progress bar's early count."""
    return WalkOptions(
        exclude=settings.exclude,
        max_file_size=settings.max_file_size,
        one_file_system=settings.one_file_system,
        follow_symlinks=settings.follow_symlinks,
        since=settings.since,
    )


@guarded
def scan(
    targets: list[str] = typer.Argument(
        None, metavar="TARGET...", help="Folders, files or s3://bucket/prefix to scan (or use --files-from)."
    ),
    lists: list[str] = typer.Option(
        [],
        "--list",
        "-l",
        metavar="LIST",
        help="A hash list (*.libra, or an age-encrypted source), or a folder of them. Repeatable.",
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
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="Findings file; may hold {date}, {time}, {host} (default: stdout; a summary on a terminal).",
    ),
    fmt: str | None = typer.Option(
        None,
        "--format",
        "-f",
        metavar="FORMAT",
        help=f"Findings format: {', '.join(formats())} (default: from the -o suffix, else json; "
        "given, it is used on a terminal too).",
    ),
    only_matches: bool = typer.Option(
        False, "--only-matches", help="On a terminal, print matches only (totals still count the rest)."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-w",
        metavar="N",
        help="Worker processes: 0 (default) one per core; 1 hashes in this process, without crash protection.",
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
        help="Stop a worker whose file makes no progress for this long (default 120, at most 604800).",
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
    deep: bool = typer.Option(
        False,
        "--deep",
        help="Also hash parts of each image: a picture inside a larger one, the corners a watermark or logo "
        "leaves alone, a mirrored crop. Slower (each image costs about 1.9 times as much; docs/hashes.md).",
    ),
    endpoint_url: str | None = typer.Option(
        None, "--endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO, Ceph, R2; default: AWS)."
    ),
    region: str | None = typer.Option(None, "--region", metavar="REGION", help="S3 region."),
    profile: str | None = typer.Option(None, "--profile", metavar="NAME", help="AWS shared-config profile."),
    path_style: bool = typer.Option(False, "--path-style", help="Path-style S3 addressing (MinIO, Ceph)."),
    all_versions: bool = typer.Option(False, "--all-versions", help="Also scan noncurrent S3 object versions."),
    video_fps: float | None = typer.Option(
        None, "--video-fps", metavar="N", help="Video frames sampled per second, plus the first (default 1)."
    ),
    match_threads: int | None = typer.Option(
        None,
        "--match-threads",
        metavar="N",
        help="Threads matching against large perceptual lists (default: one per six cores).",
    ),
    max_frames: int | None = typer.Option(
        None, "--max-frames", metavar="N", help="At most this many distinct frames per video (default 7200)."
    ),
    since: str | None = typer.Option(
        None, "--since", metavar="WHEN", help="Only what changed since: a duration (24h, 7d) or a time (ISO 8601)."
    ),
    files_from: str | None = typer.Option(
        None,
        "--files-from",
        metavar="FILE",
        help="Scan what FILE names (- for stdin): paths, s3:// URIs, keys, or S3 event notifications (JSON).",
    ),
    nice: bool = typer.Option(
        False, "--nice", help="Lower CPU priority (nice 10) and disk priority (idle class), for daytime runs."
    ),
    max_rate: list[str] = typer.Option(
        [],
        "--max-rate",
        metavar="RATE",
        help="At most this many files per second (100), or bytes per second with a unit (50M). Repeatable.",
    ),
    on_match: str | None = typer.Option(
        None,
        "--on-match",
        metavar="CMD",
        help="Run CMD after a run that matched, with the findings file path (never media); checked at start; see docs.",
    ),
    suspected: bool = typer.Option(
        False,
        "--suspected",
        help="Also flag unmatched media beside a match (folder, account, batch) as suspected, never as matches.",
    ),
    group_by: str | None = typer.Option(
        None,
        "--group-by",
        metavar="KINDS",
        help="What makes files neighbours of a match: folder, account, batch (default folder,account).",
    ),
    account_pattern: list[str] = typer.Option(
        [],
        "--account-pattern",
        metavar="PATTERN",
        help="Where an account's files live, e.g. '/srv/uploads/{account}/' or 's3://bucket/{account}/'. Repeatable.",
    ),
    batch_window: float | None = typer.Option(
        None, "--batch-window", metavar="SECONDS", help="Upload batch: mtime within this of a match (default 600)."
    ),
    fail_on_suspected: bool = typer.Option(
        False, "--fail-on-suspected", help="Exit 1 when files are suspected, even if nothing matched."
    ),
    suspected_min_score: float | None = typer.Option(
        None, "--suspected-min-score", metavar="SCORE", help="Report suspected files scoring at least this (0-1)."
    ),
    context_max_files: int | None = typer.Option(
        None,
        "--context-max-files",
        metavar="N",
        help="Unmatched media kept in memory for suspected findings, at most (default 1000000).",
    ),
    state: str | None = typer.Option(
        None,
        "--state",
        metavar="PATH",
        help="State file: unchanged files are matched from their stored hashes, not read again "
        "('default': $XDG_STATE_HOME/libra/state.db; see docs/state.md).",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="With --state: continue the last scan if it was interrupted (its targets if none are named).",
    ),
    new_only: bool = typer.Option(
        False,
        "--new-only",
        help="With --state: exit 1 and run --on-match only for matches no earlier run reported (all are written).",
    ),
    near_band: str | None = typer.Option(
        None,
        "--near-band",
        metavar="LOW..HIGH",
        help="With --suspected (refused without it): PDQ distances past the match threshold that make a candidate "
        "(default 32..48 with --suspected; 'off' disables).",
    ),
    keywords: list[str] = typer.Option(
        [],
        "--keywords",
        metavar="LIST",
        help="With --suspected: an encrypted keyword list matched against file and folder names. Repeatable.",
    ),
    no_archives: bool = typer.Option(
        False, "--no-archives", help="Hash ZIP and TAR archives as plain files, without opening their members."
    ),
    archive_max_depth: int | None = typer.Option(
        None, "--archive-max-depth", metavar="N", help="Open archives nested at most N deep (default 5)."
    ),
    archive_max_members: int | None = typer.Option(
        None,
        "--archive-max-members",
        metavar="N",
        help="Members per archive file, nested ones included (default 10000).",
    ),
    archive_max_size: str | None = typer.Option(
        None,
        "--archive-max-size",
        metavar="SIZE",
        help="Inflated bytes per archive file, nested included (default 1G).",
    ),
    archive_max_member_size: str | None = typer.Option(
        None,
        "--archive-max-member-size",
        metavar="SIZE",
        help="Larger members are listed, not inflated (default 256M).",
    ),
    archive_max_ratio: int | None = typer.Option(
        None,
        "--archive-max-ratio",
        metavar="N",
        help="Members compressed more than N to 1 are not inflated (default 100).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary, only error logs (for cron)."),
    log_level: str | None = typer.Option(
        None, "--log-level", metavar="LEVEL", help="debug, info, warning (default), error."
    ),
    log_file: str | None = typer.Option(
        None, "--log-file", metavar="FILE", help="Append logs to this file instead of stderr."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        metavar="ADDRESS",
        help="With --engine dask (refused without it): the Dask scheduler, e.g. tcp://host:8786 "
        "(default: a local cluster).",
    ),
    tls_ca_file: str | None = typer.Option(
        None, "--tls-ca-file", metavar="FILE", help="With --engine dask: TLS to the cluster, this CA's certificate."
    ),
    tls_cert: str | None = typer.Option(
        None, "--tls-cert", metavar="FILE", help="With --engine dask: this client's TLS certificate (PEM)."
    ),
    tls_key: str | None = typer.Option(
        None, "--tls-key", metavar="FILE", help="With --engine dask: the certificate's private key (PEM)."
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

    On a terminal it prints one line per finding, then totals; to a file (-o)
    or a pipe it writes findings as json, csv or ndjson. Examples:

        libra scan /srv/uploads -l ncmec.libra -i /etc/libra/host.key

        libra scan /srv/uploads -l /etc/libra/lists -i /etc/libra/host.key \\
            -o /var/lib/libra/findings-{date}.json -q

        libra scan /srv -l hotline.libra -f ndjson -q \\
            | jq -r 'select(.type=="finding") | .location'

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
        "only_matches": _flag(only_matches),
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
        "deep": _flag(deep),
        "endpoint_url": endpoint_url,
        "region": region,
        "profile": profile,
        "path_style": _flag(path_style),
        "all_versions": _flag(all_versions),
        "since": since,
        "video_fps": video_fps,
        "max_frames": max_frames,
        "match_threads": match_threads,
        "files_from": files_from,
        "nice": _flag(nice),
        "max_rate": max_rate,
        "on_match": on_match,
        "suspected": _flag(suspected),
        "group_by": group_by,
        "account_pattern": account_pattern,
        "batch_window": batch_window,
        "fail_on_suspected": _flag(fail_on_suspected),
        "suspected_min_score": suspected_min_score,
        "context_max_files": context_max_files,
        "state": state,
        "near_band": near_band,
        "keywords": keywords,
        "archives": False if no_archives else None,
        "archive_max_depth": archive_max_depth,
        "archive_max_members": archive_max_members,
        "archive_max_size": archive_max_size,
        "archive_max_member_size": archive_max_member_size,
        "archive_max_ratio": archive_max_ratio,
        "resume": _flag(resume),
        "new_only": _flag(new_only),
        "quiet": _flag(quiet),
        "log_level": log_level,
        "log_file": log_file,
        "scheduler": scheduler,
        "tls_ca_file": tls_ca_file,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
    }
    settings = ScanSettings.resolve(flags, config)
    terminal = _for_a_person(settings, format_given=fmt is not None or "format" in config)
    setup_logging(effective_log_level(settings), settings.log_file, terminal)
    settings = _resumed_targets(settings)
    if not settings.targets and not settings.files_from:
        raise ConfigError("nothing to scan: name a TARGET (a folder, file or s3://bucket/prefix) or --files-from")
    if not settings.lists:
        raise ConfigError("no hash list given: pass --list LIST (or set 'lists' in the config file)")
    prepared = prepare(settings)
    _note_expired(settings, prepared.lists)
    unsupported = prepared.matcher.unsupported()
    if unsupported and not settings.quiet:
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(unsupported.items()))
        say(f"libra: the lists hold entries libra cannot compute ({kinds}); they will never match")
    target = settings.output if settings.output not in (None, "-") else None
    existed = target is not None and os.path.isfile(target)
    watch = TargetWatch(settings.targets)
    view: TerminalSink | None = None
    kept = False
    counted = () if settings.files_from else settings.targets  # a --files-from list is not counted ahead
    bar = ScanBar(enabled=not settings.quiet, targets=counted, walk=_walk_options(settings))
    try:
        with _state(settings, prepared.config) as kept_state, open_output(settings.output) as stream, bar:
            own = _identities(settings.output, settings.log_file) | {i for i in [output_identity(stream)] if i}
            own |= kept_state.store.own_files() if kept_state else set()
            sinks: list[Sink] = [watch, bar]  # the bar counts a match before its line is printed
            if terminal:
                from .terminal import TerminalSink

                view = TerminalSink(bar.echo, only_matches=settings.only_matches)
                sinks.append(view)
            else:
                annotate = kept_state.review.annotate if kept_state else None
                sinks.append(FindingsSink(make_writer(settings.format, bar.stream(stream)), annotate))
            sinks += [kept_state.sink] if kept_state else []
            report = run(
                prepared, sinks, own_files=frozenset(own), listener=bar.update,
                filter=kept_state.filter if kept_state else None,
                review=kept_state.review if kept_state else None, graceful=True,
            )  # fmt: skip
            if kept_state:
                kept_state.finish(report)
            if watch.reached_none and existed:
                raise _KeepPrevious(report)  # discards the new file: yesterday's findings stay in place
    except _KeepPrevious as keep:
        report, kept = keep.report, True
        say(f"libra: none of the targets could be reached; {printable(target)} was left as it was")
    if report.stopped:  # the cluster was lost mid-run: one sentence; the findings so far are written
        say(f"libra: {report.stopped}")
    elif report.interrupted:  # SIGINT/SIGTERM: the findings so far are written, marked incomplete
        where = printable(target) if target else "the output"
        say(f"libra: interrupted after {count(report.files, 'file')}; the findings so far are in {where} "
            '("complete": false)')  # fmt: skip
    else:
        _tell(settings, report, view, bar)
    if settings.on_match and not kept and (report.new_matched or not settings.new_only):
        hide = [settings.passphrase_env] if settings.passphrase_env else []
        run_on_match(settings.on_match, target, report, hide=hide)
    if report.exit_code != ExitCode.CLEAN:
        raise typer.Exit(int(report.exit_code))


def _note_expired(settings: ScanSettings, lists: Sequence[HashList]) -> None:
    """An expired list is still used (a stale list finds less, never more), which must not go unnoticed: when
    its ``list expired`` log line does not reach stderr (``-q``, ``--log-file``), one sentence per list is said
    there, also with ``-q`` (cron mails it)."""
    if not settings.log_file and logging.getLogger("libra").isEnabledFor(logging.WARNING):
        return  # the log line is on stderr already
    for sentence in expired_lists(lists):
        say(f"libra: warning: {sentence}")


def _state(settings: ScanSettings, config: HashConfig) -> AbstractContextManager[StateSession | None]:
    """The state store for this run (``--state``), locked; ``None`` without one."""
    if settings.state is None:
        return contextlib.nullcontext(None)
    from ..state import session as state_session

    return state_session(
        settings.state, config, settings.targets, mark_gone=settings.files_from is None, resume=settings.resume
    )


def _resumed_targets(settings: ScanSettings) -> ScanSettings:
    """``--resume`` and ``--new-only`` need the state; ``--resume`` without targets takes the interrupted run's."""
    for name, on in (("--resume", settings.resume), ("--new-only", settings.new_only)):
        if on and settings.state is None:
            raise ConfigError(f"{name} needs --state (the earlier runs are recorded there)")
    if not settings.resume or settings.targets or settings.files_from or not os.path.exists(str(settings.state)):
        return settings
    from ..state import StateStore, interrupted_run

    with StateStore.open(str(settings.state), write=False, create=False) as store:
        last = interrupted_run(store)
    if last is None:
        raise ConfigError("--resume without targets: the last scan of this state was not interrupted; name TARGETs")
    return dataclasses.replace(settings, targets=tuple(last[1]))


def _tell(settings: ScanSettings, report: Report, view: TerminalSink | None, bar: ScanBar) -> None:
    """The end of a run for people: totals on a terminal, else one line on stderr (with -q: only if
    coverage was incomplete, since then the exit code alone does not say which files were missed)."""
    if view is not None and not settings.quiet:
        for line in view.totals(report):
            bar.echo(line)
        return
    if settings.quiet:
        if not report.complete:
            where = f" (listed as errors in {settings.output})" if settings.output not in (None, "-") else ""
            say(f"libra: coverage incomplete: {count(report.fatal_errors, 'file or folder', 'files or folders')} "
                f"could not be read{where}")  # fmt: skip
        return
    if view is not None:
        return
    where = f" -> {settings.output}" if settings.output not in (None, "-") else ""
    coverage = "" if report.complete else ", coverage incomplete"
    say(
        f"libra: scanned {count(report.files, 'file')} ({report.media} media, {report.skipped} skipped): "
        f"{report.matched} matched, {report.suspected} suspected, {count(report.fatal_errors, 'error')}, "
        f"{count(report.errors - report.fatal_errors, 'warning')}{coverage}{where}"
    )
