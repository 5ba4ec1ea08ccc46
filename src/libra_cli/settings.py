"""Scan settings: command-line flags beat the config file beat built-in defaults, validated once.

The library resolves settings, so a Python caller gets the same defaults and the same one-sentence
errors as the CLI. Every option has one config-file key (its long flag name with ``_``), one parser
and one default, in the table below: a new option is one line here.

>>> settings = ScanSettings.resolve({"targets": ["/srv/uploads"], "lists": ["ncmec.libra"]})
>>> settings.workers >= 1, settings.engine, settings.max_file_size
(True, 'local', 17179869184)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .engine.base import DEFAULT_TIMEOUT
from .errors import ConfigError
from .models import ArchiveLimits, StorageOptions

if TYPE_CHECKING:
    from .pace import Rate

#: Larger files are skipped (and listed): streaming their digests would outlast any reasonable run.
DEFAULT_MAX_FILE_SIZE = "16G"
#: A week: longer than any one file can take without progress, short enough for the wait primitives.
MAX_TIMEOUT = 7 * 24 * 3600.0

_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1024**2, "MB": 1024**2, "MIB": 1024**2,
          "G": 1024**3, "GB": 1024**3, "GIB": 1024**3, "T": 1024**4, "TB": 1024**4, "TIB": 1024**4}  # fmt: skip
#: Sizes above this (1 PiB) are a typo, not a limit.
MAX_SIZE = 1024**5


def parse_size(text: str) -> int:
    """``"512M"`` -> 536870912. Units are binary (K = 1024); a bare number is bytes.

    >>> parse_size("2G")
    2147483648
    """
    raw = str(text).strip().upper().replace(" ", "")
    number = raw.rstrip("KMGTIB")
    unit = raw[len(number) :]
    try:
        value = float(number)
    except ValueError:
        raise ConfigError(f"{text!r} is not a size (try 512M or 2G)") from None
    if unit not in _UNITS or not math.isfinite(value) or value < 0 or value * _UNITS[unit] > MAX_SIZE:
        raise ConfigError(f"{text!r} is not a size (try 512M or 2G, at most 1P)")
    return int(value * _UNITS[unit])


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _strings(name: str) -> Callable[[Any], tuple[str, ...]]:
    def parse(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{name} must be a list of strings, not {value!r}")

    return parse


def _bool(name: str) -> Callable[[Any], bool]:
    def parse(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be true or false, not {value!r}")

    return parse


def _text(name: str) -> Callable[[Any], str | None]:
    def parse(value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise ConfigError(f"{name} must be a string, not {value!r}")

    return parse


def _int(name: str, low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigError(f"{name} must be a whole number, not {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
        if not low <= number <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, not {number}")
        return number

    return parse


def _workers(value: Any) -> int:
    number = _int("--workers", 0, 1024)(value)
    return number or default_workers()


def _timeout(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--file-timeout must be a number of seconds, not {value!r}") from None
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ConfigError(f"--file-timeout must be greater than 0 and at most {MAX_TIMEOUT:g} seconds, not {value!r}")
    return seconds


def _size(value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"--max-file-size must be a size (512M, 2G), not {value!r}")
    return parse_size(str(value))


def _sized(name: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be a size (512M, 2G), not {value!r}")
        return parse_size(str(value))

    return parse


def _thresholds(value: Any) -> dict[str, int]:
    """``["phash=6"]`` from the command line or ``{"phash": 6}`` from the config -> ``{"phash": 6}``."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        for item in value:
            name, sep, number = str(item).partition("=")
            if not sep:
                raise ConfigError(f"--threshold {item!r} must look like TYPE=N, e.g. pdq=28")
            pairs.append((name, number))
    else:
        raise ConfigError(f"thresholds must be TYPE=N pairs, not {value!r}")
    out: dict[str, int] = {}
    for name, number in pairs:
        try:
            out[name.strip().lower()] = int(number)
        except (TypeError, ValueError):
            raise ConfigError(f"threshold {name}={number!r} is not a whole number") from None
    return out


def _format(value: Any) -> str | None:
    if value is None:
        return None
    from .findings import formats  # the registry of writers

    name = str(value).lower()
    if name not in formats():
        raise ConfigError(f"{value!r} is not a findings format (choose from {', '.join(formats())})")
    return name


def _hash_set(value: Any) -> str:
    text = ",".join(value) if isinstance(value, list | tuple) else str(value)
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--hash-set needs 'lists', 'all' or hash type names")
    if len(names) > 1 and ({"lists", "all"} & set(names)):
        raise ConfigError("--hash-set takes 'lists', 'all', or a list of hash type names, not a mix")
    from . import signals

    for name in names:
        if name not in ("lists", "all") and not signals.computable(name):
            known = ", ".join(n for n in signals.names() if signals.computable(n))
            raise ConfigError(f"--hash-set: {name!r} is not a hash type libra computes ({known})")
    return ",".join(names)


def _positive(name: str, low: float, high: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, not {value!r}") from None
        if isinstance(value, bool) or not low <= number <= high:
            raise ConfigError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
        return number

    return parse


def _since(value: Any) -> float | None:
    """``--since 24h`` / ``7d`` / an ISO 8601 time / ``@EPOCH`` -> epoch seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"--since must be a duration (24h, 7d) or a time (2026-12-01T00:00Z), not {value!r}")
    from .storage.sources import parse_since

    return parse_since(f"@{value}" if isinstance(value, int | float) else value)


def _rate(value: Any) -> Rate:
    from .pace import Rate  # pace builds on the engine contract; imported when a rate is parsed

    return Rate() if value in (None, (), []) else Rate.parse(value)


def _on_match(value: Any) -> str | None:
    command = _text("on_match")(value)
    if command is not None:
        from .hook import hook_argv

        hook_argv(command)  # a command that cannot be split is refused before the scan, not after it
    return command


def _group_by(value: Any) -> tuple[str, ...]:
    from .context import GROUP_KINDS

    text = ",".join(value) if isinstance(value, list | tuple) else str(value)
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    for name in names:
        if name not in GROUP_KINDS:
            raise ConfigError(f"--group-by: {name!r} is not a grouping ({', '.join(GROUP_KINDS)})")
    return names


def _account_patterns(value: Any) -> tuple[Any, ...]:
    from .context import AccountPattern

    return tuple(AccountPattern.parse(text) for text in _strings("account_pattern")(value))
def _state(value: Any) -> str | None:
    """``--state PATH``; ``default`` is ``$XDG_STATE_HOME/libra/state.db`` (``docs/state.md``)."""
    path = _text("state")(value)
    if path == "default":
        from .state.store import default_state_path

        return default_state_path()
    return path


def _near_band(value: Any) -> Any:
    from .match.nearband import Band

    return Band.parse(value)


def _check_together(values: dict[str, Any], named: set[str]) -> None:
    """Settings that only mean something with another: refused rather than silently ignored."""
    if values["engine"] != "dask":
        for key in ("scheduler", "tls_ca_file", "tls_cert", "tls_key"):
            if key in named and values[key]:
                flag = "--" + key.replace("_", "-")
                raise ConfigError(f"{flag} is for the Dask cluster: it needs --engine dask")
    if not values["suspected"]:
        for key in ("group_by", "account_pattern", "batch_window", "fail_on_suspected", "suspected_min_score",
                    "context_max_files"):  # fmt: skip
            if key in named and values[key] not in (False, (), None):
                flag = "--" + key.replace("_", "-")
                raise ConfigError(f"{flag} needs --suspected: it only shapes suspected findings")
    band = values["near_band"]
    if "near_band" not in named or band is None:
        return
    if not values["suspected"]:
        raise ConfigError("--near-band needs --suspected: a near-band hit is only ever a suspected reason")
    threshold = values["pdq_threshold"]
    threshold = dict(values["thresholds"]).get("pdq", threshold)
    if threshold is None:
        from . import signals

        threshold = signals.get("pdq").default_threshold
    if band.low <= threshold:
        high = band.high if band.high > threshold else threshold + 17  # the default band's width past it
        raise ConfigError(
            f"--near-band {band.low}..{band.high} starts at or below the PDQ match threshold ({threshold}), "
            f"where pictures match: start it above, e.g. {threshold + 1}..{high}"
        )


@dataclass(frozen=True)
class _Option:
    """One setting: its default (a value, or text run through the parser) and parser."""

    default: Any
    parse: Callable[[Any], Any]


#: Every scan setting: key (flag name with ``_``; also the config-file key) -> default and parser.
OPTIONS: dict[str, _Option] = {
    "targets": _Option((), _strings("targets")),
    "lists": _Option((), _strings("lists")),
    "identity": _Option((), _strings("identity")),
    "passphrase_env": _Option(None, _text("passphrase_env")),
    "publisher_keys": _Option((), _strings("publisher_keys")),
    "output": _Option(None, _text("output")),
    "format": _Option(None, _format),
    "workers": _Option(0, _workers),
    "engine": _Option("local", _text("engine")),
    "scheduler": _Option(None, _text("scheduler")),
    "exclude": _Option((), _strings("exclude")),
    "max_file_size": _Option(DEFAULT_MAX_FILE_SIZE, _size),
    "one_file_system": _Option(False, _bool("one_file_system")),
    "follow_symlinks": _Option(False, _bool("follow_symlinks")),
    "file_timeout": _Option(DEFAULT_TIMEOUT, _timeout),
    "pdq_threshold": _Option(None, lambda v: None if v is None else _int("--pdq-threshold", 0, 127)(v)),
    "thresholds": _Option({}, _thresholds),
    "min_quality": _Option(None, lambda v: None if v is None else _int("--min-quality", 0, 100)(v)),
    "dihedral": _Option(True, _bool("dihedral")),
    "deep": _Option(False, _bool("deep")),
    "hash_set": _Option("lists", _hash_set),
    "endpoint_url": _Option(None, _text("endpoint_url")),
    "region": _Option(None, _text("region")),
    "profile": _Option(None, _text("profile")),
    "path_style": _Option(False, _bool("path_style")),
    "all_versions": _Option(False, _bool("all_versions")),
    "since": _Option(None, _since),
    "video_fps": _Option(1.0, _positive("--video-fps", 0.01, 60.0)),
    "match_threads": _Option(None, lambda v: None if v is None else _int("--match-threads", 1, 256)(v)),
    "max_frames": _Option(7200, _int("--max-frames", 1, 1_000_000)),
    "files_from": _Option(None, _text("files_from")),
    "quiet": _Option(False, _bool("quiet")),
    "log_level": _Option(None, _text("log_level")),
    "log_file": _Option(None, _text("log_file")),
    "only_matches": _Option(False, _bool("only_matches")),
    "nice": _Option(False, _bool("nice")),
    "max_rate": _Option(None, _rate),
    "on_match": _Option(None, _on_match),
    "suspected": _Option(False, _bool("suspected")),
    "group_by": _Option("folder,account", _group_by),
    "account_pattern": _Option((), _account_patterns),
    "batch_window": _Option(600.0, _positive("--batch-window", 1.0, 30 * 86400.0)),
    "fail_on_suspected": _Option(False, _bool("fail_on_suspected")),
    "suspected_min_score": _Option(0.0, _positive("--suspected-min-score", 0.0, 1.0)),
    "context_max_files": _Option(1_000_000, _int("--context-max-files", 0, 1_000_000_000)),
    "state": _Option(None, _state),
    "tls_ca_file": _Option(None, _text("tls_ca_file")),
    "tls_cert": _Option(None, _text("tls_cert")),
    "tls_key": _Option(None, _text("tls_key")),
    "near_band": _Option("32..48", _near_band),
    "keywords": _Option((), _strings("keywords")),
    "archives": _Option(True, _bool("archives")),
    "archive_max_depth": _Option(5, _int("--archive-max-depth", 1, 64)),
    "archive_max_members": _Option(10_000, _int("--archive-max-members", 1, 1_000_000)),
    "archive_max_size": _Option("1G", _sized("--archive-max-size")),
    "archive_max_member_size": _Option("256M", _sized("--archive-max-member-size")),
    "archive_max_ratio": _Option(100, _int("--archive-max-ratio", 1, 1_000_000)),
    "resume": _Option(False, _bool("resume")),
    "new_only": _Option(False, _bool("new_only")),
}


@dataclass(frozen=True)
class ScanSettings:
    """A scan's resolved, validated settings (see ``OPTIONS`` and ``docs/config.md``)."""

    targets: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    identity: tuple[str, ...] = ()
    passphrase_env: str | None = None
    publisher_keys: tuple[str, ...] = ()
    output: str | None = None
    format: str = "json"
    workers: int = 1
    engine: str = "local"
    scheduler: str | None = None
    exclude: tuple[str, ...] = ()
    max_file_size: int = 16 * 1024**3
    one_file_system: bool = False
    follow_symlinks: bool = False
    file_timeout: float = DEFAULT_TIMEOUT
    thresholds: dict[str, int] = field(default_factory=dict)
    min_quality: int | None = None
    dihedral: bool = True
    deep: bool = False  #: region hashes of every image too (``--deep``): slower, catches more local edits
    hash_set: str = "lists"
    storage: StorageOptions = field(default_factory=StorageOptions)
    since: float | None = None  #: only files and objects modified at or after this epoch time
    video_fps: float = 1.0  #: sampled video frames per second, plus the first
    match_threads: int | None = None  #: threads of the perceptual index (default: one per six cores)
    max_frames: int = 7200  #: at most this many kept frames per video
    files_from: str | None = None  #: a file (or ``-``) naming what to scan, one location or event a line
    quiet: bool = False
    log_level: str | None = None
    log_file: str | None = None
    only_matches: bool = False  #: the terminal summary shows matches only (findings files stay complete)
    nice: bool = False  #: lower CPU and I/O priority (``priority.lower_priority``)
    max_rate: Rate | None = None  #: a cap on files or bytes per second (``pace.Rate``)
    on_match: str | None = None  #: a command run after a run that matched (``hook.run_on_match``)
    suspected: bool = False  #: the context stage: unmatched media beside a match are suspected (``context/``)
    group_by: tuple[str, ...] = ("folder", "account")  #: ``folder``, ``account``, ``batch``
    account_pattern: tuple[Any, ...] = ()  #: ``context.AccountPattern`` per ``--account-pattern``
    batch_window: float = 600.0  #: seconds either side of a match's mtime (``batch`` grouping)
    fail_on_suspected: bool = False  #: suspected files alone make exit code 1
    suspected_min_score: float = 0.0  #: suspected files scoring below this are not reported
    context_max_files: int = 1_000_000  #: unmatched media the context stage keeps at most (memory)
    state: str | None = None  #: the state file (``--state``): unchanged files are not read again
    tls_ca_file: str | None = None  #: TLS to a Dask cluster (``--engine dask``): the CA's certificate
    tls_cert: str | None = None  #: this client's certificate (PEM), for TLS to a Dask cluster
    tls_key: str | None = None  #: its private key (PEM; may be in ``tls_cert``'s file)
    near_band: Any = field(default_factory=lambda: _near_band("32..48"))  #: ``match.nearband.Band`` or ``None`` (off)
    keywords: tuple[str, ...] = ()  #: keyword lists (``.libra``) matched against names, with ``suspected``
    archives: bool = True  #: open ZIP and TAR archives in memory and hash their members (``--no-archives``)
    archive_max_depth: int = 5  #: archives nested at most this deep are opened
    archive_max_members: int = 10_000  #: members per archive file, nested ones included
    archive_max_size: int = 1024**3  #: inflated bytes per archive file, nested ones included
    archive_max_member_size: int = 256 * 1024**2  #: larger members are listed, not inflated
    archive_max_ratio: int = 100  #: members compressed more than this to one are listed, not inflated
    resume: bool = False  #: continue the state's interrupted scan (``--resume``, needs ``state``)
    new_only: bool = False  #: exit 1 and the hook only for matches no earlier run of the state reported

    @classmethod
    def resolve(cls, flags: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> ScanSettings:
        """Flags (``None`` or empty means "not given") over ``config`` (the config file) over defaults."""
        config = config or {}
        unknown = (set(flags) | set(config)) - set(OPTIONS)
        if unknown:
            raise ConfigError(f"unknown setting {sorted(unknown)[0]!r}")
        values: dict[str, Any] = {}
        named: set[str] = set()  #: settings given by a flag or the config file (not defaults)
        for key, option in OPTIONS.items():
            given = flags.get(key)
            from_file = False
            if given is None or (isinstance(given, list | tuple) and not given):
                given = config.get(key)
                from_file = given is not None
            if given is not None:
                named.add(key)
            try:
                values[key] = option.parse(option.default if given is None else given)
            except ConfigError as err:
                if not from_file:
                    raise
                raise ConfigError(f"config file key {key!r}: {err}") from None  # where to look, not only what
        _check_together(values, named)
        return cls._build(values)

    @classmethod
    def _build(cls, values: dict[str, Any]) -> ScanSettings:
        thresholds = dict(values.pop("thresholds"))
        pdq = values.pop("pdq_threshold")
        if pdq is not None:
            thresholds.setdefault("pdq", pdq)
        if "pdq" in thresholds:
            thresholds.setdefault("vpdq", thresholds["pdq"])
        from .outname import expand_output

        output = values["output"] = expand_output(values["output"])  # {date}, {time}, {host}
        if values["format"] is None:
            suffix = os.path.splitext(output or "")[1].lower()
            values["format"] = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}.get(suffix, "json")
        storage = StorageOptions(
            endpoint_url=values.pop("endpoint_url"),
            region=values.pop("region"),
            profile=values.pop("profile"),
            path_style=values.pop("path_style"),
            all_versions=values.pop("all_versions"),
        )
        known = {f.name for f in fields(cls)}
        return cls(thresholds=thresholds, storage=storage, **{k: v for k, v in values.items() if k in known})

    def archive_limits(self) -> ArchiveLimits | None:
        """The bomb guards of archives, or ``None`` when archives are plain files (``--no-archives``)."""
        if not self.archives:
            return None
        return ArchiveLimits(
            max_depth=self.archive_max_depth,
            max_members=self.archive_max_members,
            max_size=self.archive_max_size,
            max_member_size=self.archive_max_member_size,
            max_ratio=self.archive_max_ratio,
        )

    def with_targets(self, targets: Sequence[str]) -> ScanSettings:
        from dataclasses import replace

        return replace(self, targets=tuple(targets))
