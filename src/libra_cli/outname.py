"""Output name templates: ``-o /var/lib/libra/findings-{date}.json`` gives each nightly run its own file.

A nightly job that always writes ``findings.json`` keeps only the last run; with a template each run
keeps its own record, and an auditor can still see last Tuesday's. Placeholders are filled once, when
the run starts, in local time (what ``ls`` and cron show):

- ``{date}``: ``2026-11-25``
- ``{time}``: ``023000`` (hours, minutes, seconds; no ``:``, which some tools mishandle in file names)
- ``{host}``: this machine's short host name (``web1`` for ``web1.example.org``)

``{{`` and ``}}`` stand for literal braces. Anything else in braces is an error, so a typo never
writes a file literally named ``findings-{dat}.json``.

>>> from datetime import datetime
>>> expand_output("/var/lib/libra/findings-{date}T{time}.json", now=datetime(2026, 11, 25, 2, 30))
'/var/lib/libra/findings-2026-11-25T023000.json'
"""

from __future__ import annotations

import socket
import string
from datetime import datetime

from .errors import ConfigError

#: The placeholders an output name may hold.
PLACEHOLDERS = ("date", "time", "host")


def short_host() -> str:
    """This machine's host name up to its first dot, safe as part of a file name."""
    name = socket.gethostname().split(".", 1)[0] or "localhost"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def expand_output(path: str | None, now: datetime | None = None) -> str | None:
    """``path`` with its placeholders filled (``None`` and ``-`` stay as they are)."""
    if path is None or path == "-" or ("{" not in path and "}" not in path):
        return path
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(path) if name is not None]
    except ValueError:
        raise ConfigError(
            f"output name {path!r} has an unmatched brace (write {{{{ or }}}} for a literal one)"
        ) from None
    for name, spec, conv in fields:
        if name not in PLACEHOLDERS or spec or conv:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raw = name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "")
            raise ConfigError(f"output name {path!r} has an unknown placeholder {{{raw}}} (use {known})")
    moment = now or datetime.now()
    return path.format(date=moment.strftime("%Y-%m-%d"), time=moment.strftime("%H%M%S"), host=short_host())
