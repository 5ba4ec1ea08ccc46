"""The storage contract: a backend walks targets into ``MediaRef``s and reads one ref's bytes.

Backends are registered by URL scheme (``file`` for local paths, ``s3`` later), so a new one is one
module plus one registry line. Storage never decodes and never writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import FileTooLarge, StorageError
from ..models import MediaRef


@dataclass(frozen=True)
class WalkOptions:
    """How to walk a target: exclusions, size cap, filesystem and symlink rules."""

    exclude: tuple[str, ...] = ()
    max_file_size: int | None = None
    one_file_system: bool = False
    follow_symlinks: bool = False
    #: (device, inode) of libra's own files (findings, logs): recognised by identity, never hashed.
    own_files: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class WalkError:
    """A place the walk could not enter or stat: reported, never fatal."""

    location: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    """A file the walk saw but will not hash (excluded, too large, not a regular file)."""

    location: str
    reason: str
    notable: bool = True  #: worth a warning (too large, special file); ``False`` for what --exclude asked


WalkItem = MediaRef | WalkError | Skipped


class Storage(ABC):
    """One storage backend. Instances are cheap; workers build their own from the ref's scheme."""

    scheme: str = ""

    @abstractmethod
    def walk(self, target: str, options: WalkOptions) -> Iterator[WalkItem]:
        """Yield a ``MediaRef`` per file under ``target``, and errors/skips as they come."""

    @abstractmethod
    def open(self, ref: MediaRef) -> BinaryIO:
        """A binary stream of ``ref``'s bytes (for files too large to hold in memory)."""

    def read(self, ref: MediaRef, limit: int) -> bytes:
        """All bytes of ``ref`` in memory; more than ``limit`` raises ``FileTooLarge``."""
        with self.open(ref) as handle:
            try:
                data = handle.read(limit + 1)
            except OSError as err:
                raise StorageError(f"{ref.uri}: {err.strerror or err}") from None
        if len(data) > limit:
            raise FileTooLarge(f"{ref.uri}: larger than the {limit}-byte limit")
        return data


_REGISTRY: dict[str, Callable[[], Storage]] = {}


def register(scheme: str, factory: Callable[[], Storage]) -> None:
    """Add a backend for URIs ``scheme://...`` (``file`` is used for plain paths)."""
    if scheme in _REGISTRY:
        raise ValueError(f"storage scheme {scheme!r} is registered twice")
    _REGISTRY[scheme] = factory


def scheme_of(uri: str) -> str:
    head, sep, _ = uri.partition("://")
    return head.lower() if sep and head.isalnum() and len(head) > 1 else "file"


def storage_for(uri: str) -> Storage:
    """The backend for ``uri``: ``s3://b/k`` -> S3, ``/srv/x`` -> local."""
    scheme = scheme_of(uri)
    try:
        return _REGISTRY[scheme]()
    except KeyError:
        raise StorageError(f"{uri!r}: no storage backend for scheme {scheme!r}") from None


def read_ref(ref: MediaRef, limit: int) -> bytes:
    """Read one reference's bytes into memory through its backend (what workers call)."""
    return storage_for(ref.uri).read(ref, limit)


def open_ref(ref: MediaRef) -> BinaryIO:
    """Open one reference as a stream through its backend (for files above the in-memory limit)."""
    return storage_for(ref.uri).open(ref)
