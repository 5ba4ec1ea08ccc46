"""Errors the library raises, and the exit codes the CLI turns them into.

The core never prints or exits: it raises a ``LibraError`` whose message is one plain sentence
naming the offending value. The CLI alone turns it into stderr text and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """clamscan's convention, so cron and CI can act on the result."""

    CLEAN = 0  #: nothing found, everything covered
    FOUND = 1  #: at least one match
    ERROR = 2  #: the run could not do what it was asked (bad list, bad key, unreadable input)


class LibraError(Exception):
    """Base of every error meant for a user: ``str(err)`` is one plain sentence."""

    exit_code: ExitCode = ExitCode.ERROR


class ConfigError(LibraError):
    """A bad option value or config file."""


class HashListError(LibraError):
    """A hash list or list source that cannot be read, parsed or trusted."""


class NotAHashList(HashListError):
    """A keyword list (``hashlist/keywords.py``) where a hash list was expected."""


class SignatureError(HashListError):
    """A list whose publisher signature is missing, wrong or does not verify."""


class KeyFileError(LibraError):
    """An identity, recipient or signing key that cannot be read or used."""


class StorageError(LibraError):
    """A target that cannot be walked or a reference that cannot be opened."""


class FileTooLarge(StorageError):
    """A file grew past the in-memory limit between the walk and the read: it is streamed instead."""


class MediaError(LibraError):
    """One file that cannot be decoded or hashed: recorded, never fatal to a scan."""


class StateError(LibraError):
    """A state file (``--state``) that cannot be used: not libra's, damaged, too new, or in use."""
