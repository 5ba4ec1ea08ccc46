"""Counts a scan's outcomes and owns its exit code (black's ``report.py``; clamscan's codes).

The rule when several things happen in one run: a match wins (exit 1: something must be acted on),
and the summary says whether coverage was complete. A run that could not cover everything it was
asked to (an unreadable file or folder, a hung or crashed decoder) and found nothing exits 2.
Listed skips (over ``--max-file-size``, not a regular file, a symlink not followed) do not change
the exit code: they follow the operator's own limits and rules, and each is named in the findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ExitCode


@dataclass
class Report:
    """Mutable tally kept by the pipeline. ``exit_code`` and ``complete`` are derived, never stored."""

    files: int = 0  #: files hashed (media or not), or matched from stored hashes
    media: int = 0  #: files recognised as images or videos
    matched: int = 0  #: files with at least one match
    suspected: int = 0  #: files flagged as likely-new material (context signals)
    skipped: int = 0  #: files seen but not looked at, each listed in the findings
    filtered: dict[str, int] = field(default_factory=dict)  #: files left out by a user's rule, per rule
    errors: int = 0  #: files or places with an error (fatal or not)
    fatal_errors: int = 0  #: errors that left a file or folder uncovered (unreadable, unreachable, hung)
    bytes: int = 0  #: bytes of the files hashed
    interrupted: bool = False  #: the run was stopped before it finished
    #: Groups (account, folder, archive, batch) holding confirmed matches and suspected files (``context/``).
    clusters: list[dict[str, object]] = field(default_factory=list)
    fail_on_suspected: bool = False  #: suspected files alone make exit code 1 (``--fail-on-suspected``)
    stopped: str | None = None  #: why the run ended early with its findings written (a lost cluster)
    #: Archive members hashed or listed (``media/archive.py``); not counted in ``files``, ``media`` or ``bytes``.
    members: int = 0
    allowed: int = 0  #: matched files an allow record suppressed (reviewed false positives; not in ``matched``)
    new_matched: int = 0  #: matched files with a match no earlier run of the state reported
    new_only: bool = False  #: only new matches make exit code 1 (``--new-only``)

    @property
    def complete(self) -> bool:
        """Everything asked for was covered (listed skips aside, see the module docstring)."""
        return not self.interrupted and self.fatal_errors == 0

    @property
    def exit_code(self) -> ExitCode:
        """2 if the run ended early (``stopped``: its cluster was lost; ``interrupted``: SIGINT/SIGTERM),
        even with matches: it did not do what it was asked, and the findings written so far say what it
        found; else 1 if anything matched (or was suspected, with ``fail_on_suspected``); else 2 if
        something could not be covered; else 0."""
        if self.stopped or self.interrupted:
            return ExitCode.ERROR
        if (self.new_matched if self.new_only else self.matched) or (self.fail_on_suspected and self.suspected):
            return ExitCode.FOUND
        if not self.complete:
            return ExitCode.ERROR
        return ExitCode.CLEAN

    def filter(self, rule: str) -> None:
        self.filtered[rule] = self.filtered.get(rule, 0) + 1

    def summary(self) -> dict[str, object]:
        """The ``summary`` object of the findings file."""
        return {
            "files": self.files,
            "media": self.media,
            "matched": self.matched,
            "suspected": self.suspected,
            "skipped": self.skipped,
            "filtered": dict(sorted(self.filtered.items())),
            "errors": self.errors,
            "not_covered": self.fatal_errors,
            "bytes": self.bytes,
            **({"clusters": list(self.clusters)} if self.clusters else {}),
            **({"archive_members": self.members} if self.members else {}),
            **({"interrupted": True} if self.interrupted else {}),
            **({"allowed": self.allowed} if self.allowed else {}),
            **({"new": self.new_matched} if self.new_only else {}),
        }
