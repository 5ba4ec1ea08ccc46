"""Length-prefixed frames over a pipe, read in bulk: the transport of the local engine's messages.

``multiprocessing.Connection.recv_bytes`` costs two system calls per message, and on a busy machine
each one that wakes the other side costs a context switch. Small files make small messages by the
thousand, so messages travel in frames that are written in batches and read with one large ``read``
that may hold many frames. Only bytes cross; what they mean is ``wire.py``'s business.
"""

from __future__ import annotations

import os
import struct

_HEADER = struct.Struct("!I")
#: Bytes asked for per ``read``: many small frames at once, one large result in a few reads.
READ_SIZE = 1 << 20


class FrameError(Exception):
    """A frame header that announces more than the reader accepts (a confused or hostile writer)."""


def frame(payload: bytes) -> bytes:
    """``payload`` with its 4-byte big-endian length in front."""
    return _HEADER.pack(len(payload)) + payload


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (a pipe may take less per call)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    """Parses frames out of what ``feed`` reads from ``fd``; a frame over ``limit`` bytes is an error."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self._buffer = bytearray()

    def feed(self) -> None:
        """One ``read`` (blocking if nothing is there); ``EOFError`` when the other side has gone."""
        data = os.read(self.fd, READ_SIZE)
        if not data:
            raise EOFError
        self._buffer += data

    def frames(self) -> list[bytes]:
        """Every complete frame read so far, in order (an incomplete one stays for the next ``feed``)."""
        out: list[bytes] = []
        buffer = self._buffer
        start = 0
        while len(buffer) - start >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, start)
            if size > self.limit:
                raise FrameError(f"a frame of {size} bytes is over the {self.limit}-byte limit")
            end = start + _HEADER.size + size
            if end > len(buffer):
                break
            out.append(bytes(buffer[start + _HEADER.size : end]))
            start = end
        del buffer[:start]
        return out

    def pending(self) -> bool:
        """A complete frame is already buffered (no ``read`` needed to get it)."""
        if len(self._buffer) < _HEADER.size:
            return False
        size: int = _HEADER.unpack_from(self._buffer, 0)[0]
        return len(self._buffer) >= _HEADER.size + size
