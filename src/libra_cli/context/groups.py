"""Which groups a file belongs to: its folder, its account (an operator's path pattern), its archive.

Abusers store material in batches; a file beside a confirmed match (same folder, same account) is far
more likely to be new material than a random file. A group is a ``(kind, key)`` pair, e.g.
``("account", "alice")`` or ``("folder", "/srv/uploads/alice/2024-05")``. Batches (an mtime window
around a match) are not a key: they are found at the end of the run (``stage.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

#: What groups files by default; ``batch`` (an mtime window around each match) is opt-in.
DEFAULT_GROUP_BY = ("folder", "account")
GROUP_KINDS = ("folder", "account", "batch")

Group = tuple[str, str]


@dataclass(frozen=True)
class AccountPattern:
    """``/srv/uploads/{account}/`` or ``s3://bucket/{account}/``: the path segment that names an account.

    ``{account}`` stands for exactly one path segment; ``*`` for any one segment; everything else is
    literal. A location that does not start with the pattern belongs to no account.
    """

    text: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> AccountPattern:
        if text.count("{account}") != 1:
            raise ConfigError(
                f"account pattern {text!r} must hold {{account}} exactly once, e.g. /srv/uploads/{{account}}/"
            )
        parts = re.split(r"(\{account\}|\*)", text)
        body = "".join(
            "(?P<account>[^/]+)" if p == "{account}" else "[^/]+" if p == "*" else re.escape(p) for p in parts
        )
        # The account segment must be whole: followed by '/' (or the pattern's own literal tail).
        if not text.endswith("/") and text.endswith("{account}"):
            body += "(?=/)"
        return cls(text, re.compile(body))

    def account(self, location: str) -> str | None:
        found = self.regex.match(location)
        return None if found is None else found.group("account")


def folder_of(location: str) -> str:
    """The folder (or S3 prefix) holding ``location``."""
    head, sep, _ = location.rpartition("/")
    return head if sep else ""


def groups_of(
    location: str, by: frozenset[str], accounts: tuple[AccountPattern, ...], archive: str | None = None
) -> tuple[Group, ...]:
    """Every group of ``location`` the run groups by (``folder``, ``account``), and its archive if it is a
    member of one (members are told apart by the worker, never by a ``!`` in a name)."""
    out: list[Group] = []
    if archive is not None:
        out.append(("archive", archive))
    if "folder" in by:
        out.append(("folder", folder_of(archive or location)))
    if "account" in by:
        for pattern in accounts:
            name = pattern.account(location)
            if name is not None:
                out.append(("account", name))
                break
    return tuple(out)
