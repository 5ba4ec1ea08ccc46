"""``libra allow add|list|remove``: reviewed false positives, kept in the state file (``docs/commands/allow.md``).

Changing commands take the state's writer lock like a scan (run them between scans); ``list`` only reads.
"""

from __future__ import annotations

import json
import sys

import typer

from ..errors import ConfigError
from ..state import StateStore
from ..state import allow as records
from ..textsafe import printable
from .common import guarded, say
from .statecmd import CONFIG_HELP, STATE_HELP, _format, state_path

allow_app = typer.Typer(help="Reviewed false positives: matches suppressed in later runs (kept in the state).")


@allow_app.command("add")
@guarded
def allow_add(
    what: str = typer.Argument(
        ..., metavar="LOCATION|HASH", help="A scanned location, or a hash of the file: sha256:HEX, md5:HEX, pdq:HEX."
    ),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why the match was judged a false positive."),
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """Suppress a reviewed match in later runs: shown as allowed, not counted as a match.

    A location covers the version that was scanned (a replaced file is matched again); a hash covers
    every copy of the file (a PDQ hash: the same picture, compared exactly).

        libra allow add /srv/uploads/u/42/logo.png --reason "ticket 1234"

        libra allow add sha256:9f86d0...0f00a08 --reason "ticket 1235: logo"
    """
    with StateStore.open(state_path(state, config_file), create=False) as store:
        record = records.add(store, what, reason)
    say(f"libra: allow record {record} added for {printable(what)}")


@allow_app.command("list")
@guarded
def allow_list(
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    fmt: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text or json."),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """The allow records: id, what they cover, why, when, and how many findings they suppressed."""
    fmt = _format(fmt)
    with StateStore.open(state_path(state, config_file), write=False, create=False) as store:
        found = records.records(store)
    if fmt == "json":
        sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
        return
    if not found:
        say("libra: no allow records")
        return
    for r in found:
        print(f"{r['id']:>5}  {r['added']}  {printable(r['value'])}  suppressed={r['suppressed']}  "
              f"reason={printable(r['reason'])}")  # fmt: skip


@allow_app.command("remove")
@guarded
def allow_remove(
    record: int = typer.Argument(..., metavar="ID", help="The record's id (see 'libra allow list')."),
    state: str | None = typer.Option(None, "--state", metavar="PATH", help=STATE_HELP),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help=CONFIG_HELP),
) -> None:
    """Withdraw an allow record: later runs report the match again (past runs keep what they recorded)."""
    with StateStore.open(state_path(state, config_file), create=False) as store:
        if not records.remove(store, record):
            raise ConfigError(f"state {printable(store.path)} has no allow record {record} (see 'libra allow list')")
    say(f"libra: allow record {record} removed")
