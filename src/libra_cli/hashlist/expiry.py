"""List expiry: a publisher may say until when a list is current, so a host notices a list it stopped updating.

The date travels in the list's signed public header (``expires``), so it cannot be moved without breaking
the signature, and ``libra hashlist info`` shows it without a key. An expired list still loads and still
matches (dropping it would only lose detection); the scan warns.

>>> parse_expiry("2025-02-01")
'2025-02-01T00:00:00+00:00'
>>> expired_lists([hashlist], now=datetime(2025, 3, 1, tzinfo=timezone.utc))          # doctest: +SKIP
['list ncmec (ncmec.libra) expired on 2025-02-01T00:00:00+00:00; install a newer version (libra hashlist update)']
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime, timezone

from ..errors import ConfigError
from ..textsafe import printable
from .container import parse_time
from .table import HashList, ListInfo


def parse_expiry(text: str) -> str:
    """``--expires`` as the header stores it: ISO 8601 UTC to the second. A bare date means its midnight UTC.

    >>> parse_expiry("2025-02-01T12:00:00+02:00")
    '2025-02-01T10:00:00+00:00'
    """
    moment = parse_time(text.strip())
    if moment is None:
        raise ConfigError(f"--expires {text!r} is not a date (use YYYY-MM-DD or an ISO 8601 time)")
    return moment.replace(microsecond=0).isoformat()


def expires_at(info: ListInfo) -> datetime | None:
    """When ``info``'s list expires, or ``None`` if it carries no expiry."""
    return parse_time(info.expires) if info.expires else None


def is_expired(info: ListInfo, now: datetime | None = None) -> bool:
    """Whether the list's expiry time has passed at ``now`` (default: the current time)."""
    moment = expires_at(info)
    return moment is not None and moment <= (now or datetime.now(timezone.utc))


def expiry_text(info: ListInfo, now: datetime | None = None) -> str:
    """How ``hashlist info`` shows the expiry: the time and whether it has passed.

    >>> expiry_text(ListInfo("x", expires="2025-02-01T00:00:00+00:00"), datetime(2025, 2, 11, tzinfo=timezone.utc))
    '2025-02-01T00:00:00+00:00 (EXPIRED 10 days ago: get a newer version)'
    """
    moment = expires_at(info)
    if moment is None:
        return "never (the publisher set no expiry)"
    current = now or datetime.now(timezone.utc)
    days = abs((current - moment).days)
    if moment <= current:
        ago = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
        return f"{info.expires} (EXPIRED {ago}: get a newer version)"
    left = (moment - current).days
    return f"{info.expires} (in {left} day{'s' if left != 1 else ''})" if left else f"{info.expires} (today)"


def expired_lists(lists: Iterable[HashList], now: datetime | None = None) -> list[str]:
    """One warning sentence per expired list (none when every list is current), for the scan to show.

    An expired list is still used: a stale list finds less, never more.
    """
    warnings = []
    for hashlist in lists:
        info = hashlist.info
        if is_expired(info, now):
            file = os.path.basename(info.path)
            where = f" ({printable(file)})" if file and file != info.name else ""
            warnings.append(
                f"list {printable(info.name)}{where} expired on {info.expires}; "
                "install a newer version (libra hashlist update)"
            )
    return warnings
