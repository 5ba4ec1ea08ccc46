"""``libra history``, ``libra state``: reading and keeping the state file (``docs/state.md``).

Every command takes ``--state PATH``; without it, the config file's ``state:`` key, else the default
``$XDG_STATE_HOME/libra/state.db``. Readers take no lock (a nightly scan may be writing); commands that
change the state take the writer's lock like a scan.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer

from ..config import load_config
from ..errors import ConfigError
from ..settings import ScanSettings
from ..state import StateStore, default_state_path
from ..state import history as hist
from ..state.housekeeping import forget, info, vacuum
from ..state.store import writer_active
from ..textsafe import printable, unicode_safe
from .common import guarded, say

STATE_HELP = "State file (default: the config's 'state', else $XDG_STATE_HOME/libra/state.db)."
CONFIG_HELP = "Config file (default: $LIBRA_CONFIG, ~/.config/libra/config.yaml, /etc/libra/config.yaml)."

history_app = typer.Typer(help="Runs recorded in a state file, and how findings moved between them.")
state_app = typer.Typer(help="Look after a state file: what it holds, give space back, purge records.")


def state_path(state: str | None, config_file: str | None) -> str:
    """``--state``, else the config file's ``state``, else the default path."""
    if state is not None:
        return ScanSettings.resolve({"state": state}).state or default_state_path()
    config = load_config(config_file)
    chosen = ScanSettings.resolve({}, {"state": config["state"]}).state if "state" in config else None
    return chosen or default_state_path()


def _format(fmt: str) -> str:
    if fmt not in ("text", "json"):
        raise ConfigError(f"{fmt!r} is not an output format here (text or json)")
    return fmt


def _json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")


@history_app.callback(invoke_without_command=True)
@guarded
def history(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    limit: int = typer.Option(20, "--limit", "-n", metavar="N", help="Show the last N runs (0: all)."),
    fmt: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text or json."),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """List the runs recorded in the state: when, what, how many files, matches, exit code.

        libra history --state /var/lib/libra/state.db

        libra history diff previous last
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = (state, config_file)
        return
    fmt = _format(fmt)
    path = state_path(state, config_file)
    with StateStore.open(path, write=False, create=False) as store:
        recorded = hist.runs(store, limit or None)
    #: The newest unfinished run is still going when a writer holds the state's lock (else it was killed).
    running = next((r.id for r in reversed(recorded) if r.exit_code is None), None) if writer_active(path) else None
    if fmt == "json":
        _json([{**r.as_dict(), **({"running": True} if r.id == running else {})} for r in recorded])
        return
    if not recorded:
        say("libra: no runs recorded yet")
        return
    print(
        f"{'run':>5}  {'started':20}  {'command':8} {'seconds':>8} {'files':>8} {'matched':>7} {'errors':>6}  "
        "exit  targets"
    )
    marked = False
    for r in recorded:
        d = r.as_dict()
        c = r.counts
        mark = "" if hist.partial(r) is None or r.id == running else "*"
        marked = marked or bool(mark)
        exit_code = "run" if r.id == running else ("-" if r.exit_code is None else str(r.exit_code)) + mark
        seconds = "-" if d["duration"] is None else f"{d['duration']:.1f}"
        print(
            f"{r.id:>5}  {d['started']:20}  {r.command:8} {seconds:>8} {c.get('files', '-')!s:>8} "
            f"{c.get('matched', '-')!s:>7} {c.get('errors', '-')!s:>6}  {exit_code:4}  "
            f"{printable(' '.join(r.targets))}"
        )
    if marked:
        print("(* incomplete: interrupted, killed, some files not covered, or only new list entries matched; "
              "'libra history diff' skips such runs by default)")  # fmt: skip


@history_app.command("diff")
@guarded
def history_diff(
    ctx: typer.Context,
    run_a: str = typer.Argument("previous", metavar="RUN_A", help="A run number, or previous (default)."),
    run_b: str = typer.Argument("last", metavar="RUN_B", help="A later run number, or last (default)."),
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    fmt: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text or json."),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """Findings that appeared, disappeared (taken down) and reappeared between two runs.

        libra history diff 41 42 --state /var/lib/libra/state.db
    """
    parent_state, parent_config = ctx.obj if isinstance(ctx.obj, tuple) else (None, None)
    fmt = _format(fmt)
    path = state_path(state or parent_state, config_file or parent_config)
    with StateStore.open(path, write=False, create=False) as store:
        a, b = hist.resolve_run(store, run_a), hist.resolve_run(store, run_b)
        moved = hist.diff(store, a, b)
    if fmt == "json":
        _json({"from": a, "to": b, **moved})
        return
    print(f"from run {a} to run {b}")
    for note in moved["notes"]:
        print(f"note: {note}")
    for kind in ("appeared", "reappeared", "disappeared", "unchecked", "allowed"):
        if kind in ("unchecked", "allowed") and not moved[kind]:
            continue
        rows = moved[kind]
        print(f"{kind}: {len(rows)}")
        for r in rows:
            extra = f" ({r['state']})" if "state" in r else ""
            print(
                f"  {unicode_safe(r['location'])}  list={r['list']} entry={r['entry']} "
                f"first_seen={r['first_seen']} last_seen={r['last_seen']}{extra}"
            )


@state_app.command("info")
@guarded
def state_info(
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    fmt: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text or json."),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """What the state holds: files, runs, findings, size on disk and per file."""
    fmt = _format(fmt)
    with StateStore.open(state_path(state, config_file), write=False, create=False) as store:  # no lock: a reader
        doc = info(store)
    if fmt == "json":
        _json(doc)
        return
    for name, value in doc.items():
        print(f"{name}: {printable(str(value))}")


@state_app.command("vacuum")
@guarded
def state_vacuum(
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """Rewrite the state without free space (takes the writer's lock; run it between scans)."""
    with StateStore.open(state_path(state, config_file), create=False) as store:
        before, after = vacuum(store)
    say(f"libra: state vacuumed: {before} -> {after} bytes")


@state_app.command("forget")
@guarded
def state_forget(
    prefix: str = typer.Argument(..., metavar="PATH-PREFIX", help="A folder, file or s3://bucket/prefix."),
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """Delete every record under PATH-PREFIX (files, findings, location allow records), e.g. a deleted account.

        libra state forget /srv/uploads/users/4711 --state /var/lib/libra/state.db
    """
    with StateStore.open(state_path(state, config_file), create=False) as store:
        counts = forget(store, prefix)
    say(
        f"libra: forgot {counts['files']} file records, {counts['findings']} findings and "
        f"{counts['allow_records']} allow records under {printable(prefix)}"
    )


@guarded
def rematch(
    lists: list[str] = typer.Option(
        [], "--list", "-l", metavar="LIST", help="A hash list (*.libra, or a folder of them). Repeatable."
    ),
    only_new_entries: str | None = typer.Option(
        None,
        "--only-new-entries",
        metavar="OLD_LIST",
        help="Match only the entries the --list adds to this older version of it.",
    ),
    identity: list[str] = typer.Option(
        [], "--identity", "-i", metavar="FILE", help="age identity file to decrypt lists (default: $LIBRA_IDENTITY)."
    ),
    passphrase_env: str | None = typer.Option(
        None, "--passphrase-env", metavar="VAR", help="Name of an environment variable holding a list passphrase."
    ),
    publisher_keys: list[str] = typer.Option(
        [], "--publisher-key", metavar="PUB", help="Require lists to be signed by this publisher key. Repeatable."
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Findings file; may hold {date}, {time}, {host} (default: stdout)."
    ),
    fmt: str | None = typer.Option(None, "--format", "-f", metavar="FORMAT", help="json, csv or ndjson."),
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line on stderr."),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """Match the stored hashes of every file in the state against lists, without opening any media.

    Findings are written like a scan's, each with last_seen: when a scan last saw the file there.

        libra rematch --state /var/lib/libra/state.db -l v42.libra -o new.json

        libra rematch --state state.db -l v42.libra --only-new-entries v41.libra

    Exit codes: 0 nothing matched, 1 something matched, 2 some files' stored hashes lack a type the lists use.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..findings import make_writer, open_output
    from ..lists import load_lists
    from ..match.matcher import Matcher
    from ..state.rematch import only_new_entries as narrow
    from ..state.rematch import rematch as run_rematch

    config = load_config(config_file)
    flags: dict[str, Any] = {
        "lists": lists, "identity": identity, "passphrase_env": passphrase_env, "publisher_keys": publisher_keys,
        "output": output, "format": fmt, "quiet": True if quiet else None, "state": state,
    }  # fmt: skip
    keep = {"lists", "identity", "passphrase_env", "publisher_keys", "output", "format", "quiet", "state",
            "thresholds", "pdq_threshold", "min_quality", "match_threads"}  # fmt: skip
    settings = ScanSettings.resolve(flags, {k: v for k, v in config.items() if k in keep})
    if not settings.lists:
        raise ConfigError("no hash list given: pass --list LIST (or set 'lists' in the config file)")
    path = settings.state or default_state_path()
    with StateStore.open(path, create=False) as store, ThreadPoolExecutor(1) as beside:
        # The older version is decrypted beside the new one (both are large; decryption and the checksum of
        # the file leave the interpreter lock for part of the time): its errors are raised when it is used.
        older = None if only_new_entries is None else beside.submit(
            load_lists,
            [only_new_entries],
            identities=settings.identity,
            passphrase_env=settings.passphrase_env,
            publisher_keys=settings.publisher_keys,
        )  # fmt: skip
        loaded = load_lists(
            settings.lists,
            identities=settings.identity,
            passphrase_env=settings.passphrase_env,
            publisher_keys=settings.publisher_keys,
        )
        if older is not None:
            olds = older.result()
            if len(olds) != 1:
                raise ConfigError(f"--only-new-entries names one list file, not {len(olds)} ({only_new_entries})")
            loaded = [narrow(hl, olds[0]) for hl in loaded]
            if not settings.quiet:
                for hl in loaded:
                    if not len(hl):
                        say(
                            f"libra: warning: {hl.info.name} adds no entries over {only_new_entries} "
                            "(the same list, or the two versions swapped?): nothing to match"
                        )
        # No workers compete with a rematch: the index searches on every core unless --match-threads says less.
        threads = settings.match_threads or _cores()
        matcher = Matcher.build(
            loaded, thresholds=settings.thresholds, min_quality=settings.min_quality, threads=threads
        )
        with open_output(settings.output) as stream:
            partial = "matched only the entries new since an older list version" if only_new_entries else None
            report = run_rematch(store, matcher, make_writer(settings.format, stream), loaded, partial=partial)
    if not settings.quiet:
        where = f" -> {settings.output}" if settings.output not in (None, "-") else ""
        missing = f", {report.fatal_errors} not covered by the stored hashes" if report.fatal_errors else ""
        allowed = f", {report.allowed} allowed" if report.allowed else ""
        say(f"libra: rematched {report.files} stored files: {report.matched} matched{allowed}{missing}{where}")
    if int(report.exit_code):
        raise typer.Exit(int(report.exit_code))


def _cores() -> int:
    """Cores this process may use (its affinity mask where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
