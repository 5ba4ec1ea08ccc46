"""Counts a scan's outcomes and owns its exit code (black's ``report.py``; clamscan's codes)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ExitCode


@dataclass
class Report:
    """Mutable tally kept by the orchestrator. ``exit_code`` is derived, never stored."""

    files: int = 0  #: files hashed (media or not)
    media: int = 0  #: files recognised as images or videos
    matched: int = 0  #: files with at least one match
    suspected: int = 0  #: files flagged as likely-new material (context signals)
    skipped: int = 0  #: files seen but not hashed (excluded, too large, not regular)
    errors: int = 0  #: files with an error (fatal or not)
    fatal_errors: int = 0  #: errors that left a file uncovered (unreadable, unreachable)
    bytes: int = 0  #: bytes read

    @property
    def exit_code(self) -> ExitCode:
        """1 if anything matched; else 2 if something could not be covered; else 0."""
        if self.matched:
            return ExitCode.FOUND
        if self.fatal_errors:
            return ExitCode.ERROR
        return ExitCode.CLEAN

    def summary(self) -> dict[str, int]:
        """The ``summary`` object of the findings file."""
        return {
            "files": self.files,
            "media": self.media,
            "matched": self.matched,
            "suspected": self.suspected,
            "skipped": self.skipped,
            "errors": self.errors,
        }
