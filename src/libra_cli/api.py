"""The public library API: what the CLI calls, and what a Python program can call the same way.

>>> from libra_cli import ScanSettings, scan
>>> settings = ScanSettings.resolve({"targets": ["/srv/uploads"], "lists": ["ncmec.libra"],
...                                  "identity": ["/etc/libra/host.key"], "output": "findings.json"})
>>> report = scan(settings)  # doctest: +SKIP
>>> report.exit_code, report.matched  # doctest: +SKIP
(<ExitCode.FOUND: 1>, 3)

``scan`` loads (decrypts, verifies) the lists in this process, builds the matcher, walks the targets,
hashes in worker processes and writes findings. For more control, ``prepare`` then ``run`` with your
own sinks (see ``libra_cli.sinks.Sink``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import __version__, signals
from .engine import EngineOptions, engines, make_engine
from .errors import ConfigError
from .findings import ScanHeader, make_writer, open_output, output_identity
from .hashing import check_config
from .hashlist.table import HashList
from .hook import check_hook
from .lists import load_keyword_lists, load_lists, looks_like_list, warn_unverified
from .match.matcher import Matcher
from .models import HashConfig, Skip
from .pace import Rate, paced
from .pipeline import REPORTED_DIGESTS, Filter, Listener, MatchStage, Pipeline, Review, now_iso
from .priority import lower_priority
from .report import Report
from .settings import ScanSettings
from .sinks import FindingsSink, Sink
from .storage import Source, WalkOptions, scheme_of
from .storage.s3 import parse_s3_uri
from .storage.sources import Named, check_files_from, read_files_from
from .textsafe import unicode_safe

if TYPE_CHECKING:  # the context stage is imported only by runs that ask for it (``--suspected``)
    from .context import ContextStage
    from .context.keywords import KeywordList

__all__ = [
    "Prepared",
    "check_settings",
    "engine_for",
    "hash_config",
    "hash_paths",
    "load_lists",
    "prepare",
    "run",
    "scan",
]

log = logging.getLogger("libra.scan")


@dataclass(frozen=True)
class Prepared:
    """Lists loaded and compiled, and the hash set decided: everything a run needs but the sinks."""

    settings: ScanSettings
    lists: tuple[HashList, ...]
    matcher: Matcher
    config: HashConfig
    keywords: tuple[KeywordList, ...] = ()  #: keyword lists for the suspected signals (``--keywords``)


def hash_config(settings: ScanSettings, matcher: Matcher | None) -> HashConfig:
    """The hash set: what the lists can match (``lists``), everything (``all``), or named types.

    The digests findings report (MD5, SHA-1, SHA-256) are added for matched files only, later.
    """
    digests: set[str] = set()
    perceptual: set[str] = set()
    if matcher is not None:
        digests |= matcher.needed_digests()
        perceptual |= matcher.needed_perceptual()
    if settings.hash_set == "all":
        digests |= {n for n in signals.names("digest") if signals.computable(n)}
        perceptual |= {n for n in signals.names("perceptual") if signals.computable(n)}
    elif settings.hash_set != "lists":
        for name in settings.hash_set.split(","):
            (digests if signals.get(name).kind == "digest" else perceptual).add(name)
    if settings.suspected and "pdq" in perceptual:
        perceptual.add("scene")  # the context stage ranks suspected stills by scene windows (hashers/scene.py)
    order = {name: i for i, name in enumerate(signals.names())}
    config = HashConfig(
        digests=tuple(sorted(digests, key=order.__getitem__)),
        perceptual=tuple(sorted(perceptual, key=order.__getitem__)),
        dihedral=settings.dihedral and "pdq" in perceptual,
        deep=settings.deep and "pdq" in perceptual,
        storage=settings.storage,
        video_fps=settings.video_fps,
        max_frames=settings.max_frames,
        plugins=signals.plugin_modules(),
        archives=settings.archive_limits(),
    )
    check_config(config)
    return config


def check_settings(settings: ScanSettings) -> None:
    """What can fail before anything is decrypted or written: the engine's name, the dask engine's own
    settings (Dask installed, TLS files, a scheduler that accepts connections), the ``--on-match`` program
    (found and executable now, not after the scan), a ``--files-from`` list that can be read. ``ConfigError``."""
    if settings.on_match:
        check_hook(settings.on_match)
    if settings.files_from is not None:
        check_files_from(settings.files_from)
    if settings.engine not in engines():
        raise ConfigError(f"{settings.engine!r} is not an engine (choose from {', '.join(engines())})")
    if settings.engine == "dask":
        from .engine.dask import check_options

        check_options(engine_options(settings))


def engine_options(settings: ScanSettings) -> EngineOptions:
    """The engine's options from the settings (``extra``: the dask engine's TLS files)."""
    s = settings
    tls = (("tls_ca_file", s.tls_ca_file), ("tls_cert", s.tls_cert), ("tls_key", s.tls_key))
    extra = tuple((k, v) for k, v in tls if v)  # the dask engine's TLS settings (engine/dask.py)
    return EngineOptions(workers=s.workers, timeout=s.file_timeout, scheduler=s.scheduler, extra=extra)


def prepare(settings: ScanSettings, lists: Sequence[HashList] | None = None) -> Prepared:
    """Load the lists (unless given) and build the matcher and hash set; the first problem raises
    (settings first: ``check_settings``)."""
    check_settings(settings)
    for target in settings.targets:
        if looks_like_list(target):  # `-l a.libra b.libra /srv`: the shell glob put a list among the targets
            raise ConfigError(f"{target!r} is a libra hash list, not something to scan; did you mean --list {target}?")
    if lists is None:
        lists = load_lists(
            settings.lists,
            identities=settings.identity,
            passphrase_env=settings.passphrase_env,
            publisher_keys=settings.publisher_keys,
        )
    if settings.engine == "local" and settings.workers > 1 and settings.state is None and _decodes(settings, lists):
        # (with a state, unchanged files need no worker: the pool starts at the first file to hash)
        from .engine.pool import warm_up

        warm_up()  # worker processes start while the matcher is built
    matcher = Matcher.build(
        lists, thresholds=settings.thresholds, min_quality=settings.min_quality, threads=settings.match_threads
    )
    config = hash_config(settings, matcher)
    keywords: tuple[KeywordList, ...] = ()
    if settings.keywords:
        if not settings.suspected:
            raise ConfigError("--keywords needs --suspected: a keyword hit is only ever a suspected reason")
        keywords = tuple(
            load_keyword_lists(
                settings.keywords,
                identities=settings.identity,
                passphrase_env=settings.passphrase_env,
                publisher_keys=settings.publisher_keys,
            )
        )
    idle = sorted(matcher.corroborating_types() - set(config.perceptual))
    if idle:  # pHash/dHash entries only confirm PDQ matches, so they are not worth a hash of every file
        log.info("not computed types=%s reason=corroborate-only (name them in --hash-set to compute)", ",".join(idle))
    warn_unverified(lists)  # after every check above: a bad option stays one sentence alone
    return Prepared(settings, tuple(lists), matcher, config, keywords)


def _named(settings: ScanSettings) -> Iterator[str | Skip]:
    """What ``--files-from`` names, lazily: locations to stat, and lines that name nothing (counted)."""
    if settings.files_from is None:
        return
    buckets = {parse_s3_uri(t).bucket for t in settings.targets if scheme_of(t) == "s3"}
    default = next(iter(buckets)) if len(buckets) == 1 else None
    for item in read_files_from(settings.files_from, default_bucket=default):
        if isinstance(item, Named):
            yield item.locator
        else:
            yield Skip(item.location, item.reason, item.rule, listed=False)


def _decodes(settings: ScanSettings, lists: Sequence[HashList]) -> bool:
    """Whether the run will decode media (then it needs worker processes, not only digest threads)."""
    named = [] if settings.hash_set in ("lists", "all") else settings.hash_set.split(",")
    return (
        settings.hash_set == "all"
        or any(signals.get(n).kind == "perceptual" for n in named)
        or any(signals.get(t).kind == "perceptual" for hl in lists for t in hl.columns)
    )


def _list_header(lists: Sequence[HashList]) -> list[dict[str, object]]:
    return [{"name": hl.info.name, "entries": len(hl), "sha256": hl.info.sha256} for hl in lists]


def run(
    prepared: Prepared,
    sinks: Sequence[Sink],
    *,
    own_files: frozenset[tuple[int, int]] = frozenset(),
    listener: Listener | None = None,
    filter: Filter | None = None,
    review: Review | None = None,
    graceful: bool = False,
) -> Report:
    """Run the pipeline for ``prepared`` with ``sinks``; ``own_files`` are never scanned (libra's outputs).
    ``filter`` and ``review`` come from the state (unchanged files; allow records and earlier findings).
    ``graceful``: a first SIGINT/SIGTERM ends the run with its outputs written (the CLI's choice; a
    library caller keeps its own signal handlers unless it asks for this, from its main thread).

    ``settings.nice`` lowers this process's priority first (workers inherit it); ``settings.max_rate``
    paces what is handed to the engine.
    """
    s = prepared.settings
    if s.nice:
        lower_priority()
    walk = WalkOptions(
        exclude=s.exclude,
        max_file_size=s.max_file_size,
        one_file_system=s.one_file_system,
        follow_symlinks=s.follow_symlinks,
        own_files=own_files,
        since=s.since,
    )
    source = Source(s.targets, walk, s.storage, named=_named(s))
    options = engine_options(s)
    engine_name = engine_for(s, prepared.config)
    header = ScanHeader(
        __version__,
        now_iso(),
        [unicode_safe(t) for t in s.targets],
        _list_header(prepared.lists),
        (*prepared.config.digests, *prepared.config.perceptual),
    )
    pipeline = Pipeline(
        source,
        paced(lambda: make_engine(engine_name, prepared.config, options), s.max_rate or Rate()),
        MatchStage(prepared.matcher, prepared.config, REPORTED_DIGESTS, near_band=s.near_band if s.suspected else None),
        sinks,
        header=header,
        filter=filter,
        listener=listener,
        context=context_stage(s, prepared.matcher, prepared.keywords),
        graceful=graceful,
        review=review,
    )
    pipeline.report.fail_on_suspected = s.fail_on_suspected
    pipeline.report.new_only = s.new_only
    return pipeline.run()


def context_stage(
    settings: ScanSettings, matcher: Matcher, keywords: Sequence[KeywordList] = ()
) -> ContextStage | None:
    """The context stage a run's settings ask for (``None`` with ``suspected: false``)."""
    if not settings.suspected:
        return None
    from .context import ContextOptions, ContextStage

    options = ContextOptions(
        group_by=settings.group_by,
        account_patterns=settings.account_pattern,
        batch_window=settings.batch_window,
        pdq_threshold=matcher.thresholds.get("pdq", signals.get("pdq").default_threshold),
        min_quality=matcher.quality_floor("pdq") or 0,
        max_files=settings.context_max_files,
        min_score=settings.suspected_min_score,
        keywords=tuple(keywords),
    )
    return ContextStage(options)


def engine_for(settings: ScanSettings, config: HashConfig) -> str:
    """The engine a run uses: ``--engine``, except that the default ``local`` pool becomes ``threads`` when
    nothing will be decoded (digests only: no parser, nothing to contain; with one worker too: a digest
    thread overlaps reading with the main loop, 1.5x faster than hashing in it), else ``inprocess`` for
    one worker."""
    if settings.engine != "local":
        return settings.engine
    if not config.perceptual and not config.robust:
        return "threads"
    return "inprocess" if settings.workers <= 1 else "local"


def scan(settings: ScanSettings, *, listener: Listener | None = None) -> Report:
    """Scan ``settings.targets`` against ``settings.lists`` and write findings to ``settings.output``.

    Returns the report, which owns the exit code (0 clean, 1 found, 2 not everything covered).
    Raises a ``LibraError`` (one plain sentence) for a bad list, key or setting.
    """
    prepared = prepare(settings)
    with open_output(settings.output) as stream:
        writer = make_writer(settings.format, stream)
        own = output_identity(stream)
        return run(prepared, [FindingsSink(writer)], own_files=frozenset([own] if own else []), listener=listener)


def hash_paths(
    paths: Sequence[str],
    sink: Sink,
    *,
    config: HashConfig | None = None,
    workers: int = 1,
    max_file_size: int | None = None,
    listener: Listener | None = None,
) -> Report:
    """Hash every file under ``paths`` (no lists, no matching) and hand each result to ``sink``.

    >>> class Print(Sink):
    ...     def result(self, result, matches): print(result.ref.uri, result.hex_digests())
    >>> hash_paths(["photos/"], Print(), config=HashConfig(digests=("md5",)))  # doctest: +SKIP
    """
    config = config or HashConfig()
    check_config(config)
    source = Source(paths, WalkOptions(max_file_size=max_file_size), config.storage)
    options = EngineOptions(workers=workers)
    engine_name = "inprocess" if workers <= 1 else "local"
    pipeline = Pipeline(
        source,
        lambda: make_engine(engine_name, config, options),
        MatchStage(None, config),
        [sink],
        listener=listener,
    )
    return pipeline.run()
