"""The storage contract: a backend walks targets into ``MediaRef``s and opens one reference as a stream.

Backends are registered by URL scheme (``file`` for local paths, ``s3`` for buckets), so a new one is
one module plus one registry line. A backend is built from picklable ``StorageOptions`` (where an
endpoint or credentials profile goes) once per process and cached, so a worker holds one client for
thousands of files. Storage never decodes and never writes. Every failure is a ``StorageError`` with
one sentence: the worker wraps anything else a backend raises, so no backend bug ends a scan.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from ..errors import FileTooLarge, StorageError
from ..models import MediaRef, Skip
from ..models import StorageOptions as StorageOptions  # re-exported: part of the storage contract
from ..signals import note_plugin


@dataclass(frozen=True)
class WalkOptions:
    """How to walk a target: exclusions, size cap, filesystem and symlink rules, time filter."""

    exclude: tuple[str, ...] = ()
    max_file_size: int | None = None
    one_file_system: bool = False
    follow_symlinks: bool = False
    #: (device, inode) of libra's own files (findings, logs, state): recognised by identity, never hashed.
    own_files: frozenset[tuple[int, int]] = frozenset()
    since: float | None = None  #: only files/objects modified at or after this epoch time


@dataclass(frozen=True)
class WalkError:
    """A place the walk could not enter or list: reported (exit code 2), never fatal to the scan."""

    location: str
    reason: str


WalkItem = MediaRef | WalkError | Skip


class Gone(StorageError):
    """The file or object vanished between the walk and the read: reported, not a coverage failure."""


class Changed(StorageError):
    """What is at the location now is not what the walk saw (replaced by another file, a link, a FIFO)."""


class Storage(ABC):
    """One storage backend, built from options once per process (see ``storage_for``)."""

    scheme: ClassVar[str] = ""

    def __init__(self, options: StorageOptions) -> None:
        self.options = options

    @abstractmethod
    def walk(self, target: str, options: WalkOptions) -> Iterator[WalkItem]:
        """Yield a ``MediaRef`` per file under ``target``, and errors/skips as they come. Lazily."""

    def stat(self, uri: str, options: WalkOptions) -> WalkItem:
        """One named file or object (``--files-from``): its reference, a skip or an error."""
        for item in self.walk(uri, options):
            return item
        return WalkError(uri, "nothing is there")

    @abstractmethod
    def open(self, ref: MediaRef) -> BinaryIO:
        """A seekable binary stream of ``ref``'s bytes, checked to be what the walk saw.

        Raises ``Gone`` if it vanished, ``Changed`` if something else is there now, ``StorageError``
        for anything else.
        """

    def read(self, ref: MediaRef, limit: int) -> tuple[bytes, MediaRef]:
        """All bytes of ``ref`` in memory, and the reference as found (a file may have changed in place).

        More than ``limit`` bytes raises ``FileTooLarge``.
        """
        with self.open(ref) as handle:
            try:
                data = read_at_most(handle, limit, ref.size)
            except OSError as err:
                raise StorageError(f"the file cannot be read: {err.strerror or err}") from None
        return data, ref if len(data) == ref.size else resized(ref, len(data))


def resized(ref: MediaRef, size: int) -> MediaRef:
    """``ref`` as read: the same object at another size (it changed in place since the walk)."""
    return MediaRef(ref.uri, size, ref.mtime_ns, ref.inode, ref.ctime_ns, ref.etag, ref.version_id)


def read_at_most(handle: BinaryIO, limit: int, expected: int) -> bytes:
    """Read to EOF, at most ``limit`` bytes (``FileTooLarge`` beyond). Sized to ``expected`` so a small
    file never reserves a buffer the size of the limit."""
    want = min(limit, max(expected, 0)) + 1
    data = handle.read(want)
    if len(data) == want:  # it grew since the walk: read on, up to the limit
        data += handle.read(limit + 1 - len(data))
    if len(data) > limit:
        raise FileTooLarge(f"larger than the {limit}-byte in-memory limit")
    return data


_REGISTRY: dict[str, type[Storage]] = {}
_CACHE: dict[tuple[str, StorageOptions], Storage] = {}
_LOCK = threading.Lock()
#: The backend found last, keyed by the options object itself: a scan asks with one object per file.
_LAST: tuple[str, StorageOptions, Storage] | None = None


def register(scheme: str, backend: type[Storage]) -> None:
    """Add a backend class for URIs ``scheme://...`` (``file`` is used for plain paths)."""
    if scheme in _REGISTRY:
        raise ValueError(f"storage scheme {scheme!r} is registered twice")
    _REGISTRY[scheme] = backend
    note_plugin(backend.__module__)


def scheme_of(uri: str) -> str:
    head, sep, _ = uri.partition("://")
    return head.lower() if sep and head.isalnum() and len(head) > 1 else "file"


def storage_for(uri: str, options: StorageOptions | None = None) -> Storage:
    """The backend for ``uri`` (``s3://b/k`` -> S3, ``/srv/x`` -> local), built once per process and options."""
    global _LAST
    scheme = scheme_of(uri)
    options = options or StorageOptions()
    last = _LAST
    if last is not None and last[0] == scheme and last[1] is options:  # the same options object, per file
        return last[2]
    key = (scheme, options)
    with _LOCK:
        backend = _CACHE.get(key)
        if backend is None:
            try:
                factory = _REGISTRY[scheme]
            except KeyError:
                raise StorageError(f"{uri!r}: no storage backend for scheme {scheme!r}") from None
            backend = _CACHE[key] = factory(options)
        _LAST = (scheme, options, backend)
    return backend


def schemes() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))
