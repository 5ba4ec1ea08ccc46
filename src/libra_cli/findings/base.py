"""Findings writers: a registry by format name, streaming, atomic on disk.

A writer gets the scan header, then findings and errors as they come, then the summary. Files are
written under a temporary name beside the target and renamed at the end, so a crashed or interrupted
scan never leaves a half-written findings file where a reader expects a whole one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO

from ..errors import ConfigError
from ..models import Finding, ScanError, Skip
from ..outfile import atomic_output
from .schema import ScanHeader, error_record, finding_record, skip_record


class FindingsWriter(ABC):
    """Streams one scan's records to a text stream, as they come. Must not hold records in memory."""

    format: str = ""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    @abstractmethod
    def begin(self, header: ScanHeader) -> None: ...

    @abstractmethod
    def record(self, record: Mapping[str, Any]) -> None:
        """One record of ``findings.schema`` (a finding, an error or a skip)."""

    @abstractmethod
    def end(self, summary: Mapping[str, object], complete: bool, finished: str) -> None: ...

    def finding(self, finding: Finding) -> None:
        self.record(finding_record(finding))

    def error(self, error: ScanError) -> None:
        self.record(error_record(error))

    def skip(self, skip: Skip) -> None:
        self.record(skip_record(skip))


_REGISTRY: dict[str, Callable[[TextIO], FindingsWriter]] = {}


def register(name: str, factory: Callable[[TextIO], FindingsWriter]) -> None:
    """Add an output format (one module plus this one line per format)."""
    if name in _REGISTRY:
        raise ValueError(f"findings format {name!r} is registered twice")
    _REGISTRY[name] = factory


def formats() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def make_writer(name: str, stream: TextIO) -> FindingsWriter:
    try:
        return _REGISTRY[name](stream)
    except KeyError:
        raise ConfigError(f"{name!r} is not a findings format (choose from {', '.join(formats())})") from None


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[TextIO]:
    """stdout for ``None``/``-``; else an anonymous file beside ``path``, named ``path`` on success.

    On failure the target is left as it was. An existing target that is not a libra findings file is
    refused before anything is written (it could be a file of the scanned tree). A target that exists
    but is not a regular file (``/dev/null``, a named pipe) is written directly: renaming onto it would
    replace the device.
    """
    if path in (None, "-"):
        if sys.stdout is None:  # started with stdout closed (``>&-``): say so before anything is scanned
            raise ConfigError("cannot write findings to standard output: it is closed (use -o FILE)")
        yield sys.stdout
        sys.stdout.flush()
        return
    assert path is not None
    target = os.path.abspath(path)
    if os.path.exists(target) and not os.path.isfile(target):
        # /dev/null, a FIFO, /dev/stdout: not a file to replace, so write straight to it.
        try:
            with open(target, "w", encoding="utf-8", errors="backslashreplace", newline="") as special:
                yield special
        except OSError as err:
            raise ConfigError(f"cannot write findings to {path!r}: {err.strerror or err}") from None
        return
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise ConfigError(f"cannot write findings to {path!r}: folder {directory!r} does not exist")
    if os.path.isfile(target) and not is_findings_file(target):
        # It may be a file in the scanned tree (evidence): never replace it, refuse before any work.
        raise ConfigError(f"refusing to replace {path!r}: it exists and is not a libra findings file")
    stack = contextlib.ExitStack()
    try:
        opened = stack.enter_context(atomic_output(target))
    except OSError as err:
        raise ConfigError(f"cannot write findings to {path!r}: {err.strerror or err}") from None
    with stack:
        yield opened.handle


#: How a libra findings file starts, per format: what ``-o`` may replace without asking.
_FINDINGS_HEADS = (b'{\n  "libra_version"', b'{\n  "schema"', b'{"type": "scan"', b"status,location,")


def is_findings_file(path: str) -> bool:
    """True for an empty file or one libra wrote as findings (json, ndjson or csv), judged by its first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    return not head or head.startswith(_FINDINGS_HEADS)


def output_identity(stream: TextIO) -> tuple[int, int] | None:
    """(device, inode) of a findings stream that is a file, so the walk can recognise libra's own output."""
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None
