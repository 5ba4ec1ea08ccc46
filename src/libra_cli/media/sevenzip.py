"""7z archives read in memory with py7zr, an optional dependency (``pip install 'libra-cli[7z]'``).

py7zr's ``extract`` writes files, and refuses a whole archive when one member's name would leave the
output folder. libra uses neither: it hands py7zr's extraction worker an in-memory writer per member
(``py7zr.io.MemIO`` over a ``Py7zIO`` that keeps the bytes in a list), so names are only the keys libra
gave, nothing is written, and a member is hashed when py7zr closes its writer, which it does only after
the member's CRC matched. One member's bytes are held at a time; extraction runs in this thread.

The limits are applied before inflating, from what the header declares: the header itself (its
decoded size, at most ``_CD_BYTES_PER_MEMBER`` per allowed member, checked before py7zr parses it),
the member count, sizes and each solid block's compression ratio; py7zr never inflates more than a
member declares, and the writer refuses a byte more. In a solid block, members are inflated in order,
so a refused member also refuses the members after it in that block (reaching them means inflating it).
"""

from __future__ import annotations

import io
import struct
from typing import Any, BinaryIO

from ..textsafe import count, one_line
from .archive import (
    _CD_BYTES_PER_MEMBER,
    ENCRYPTED,
    RATIO_FLOOR,
    Scan,
    Visit,
    _Budget,
    _member,
    _name,
    _refuse,
    _Stop,
)

#: Signature and fixed start header of a 7z archive (signature, version, CRC, next header offset, size, CRC).
_START = struct.Struct("<6sBBIQQI")
#: Why a member is not read because of an earlier member of its solid block.
_AFTER_REFUSED = "after a refused member of the same solid block (reading it means inflating that one): not hashed"
#: Version with the in-memory writer's ``close`` called only for a member read whole (CRC checked).
REQUIRES = "py7zr>=1.1.4"


def available() -> bool:
    """Whether py7zr is installed (an optional dependency)."""
    try:
        import py7zr  # noqa: F401
    except ImportError:
        return False
    return True


class _TooLarge(Exception):
    """A member inflated past what it declared (py7zr stops at the declared size; this is the backstop)."""


def seven(stream: BinaryIO, path: tuple[str, ...], depth: int, budget: _Budget, visit: Visit, found: Scan) -> None:
    """Walk a 7z archive's members (``archive.scan`` calls it for kind ``7z``)."""
    import py7zr
    from py7zr.exceptions import Bad7zFile, PasswordRequired

    limits = budget.limits
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    head = stream.read(_START.size)
    if len(head) < _START.size:
        found.note("the 7z archive is truncated (no start header): members not hashed")
        return
    _, _, _, _, offset, header_size, _ = _START.unpack(head)
    if _START.size + offset + header_size > size:
        found.note("the 7z archive is truncated or corrupt (its header is past the end): members not hashed")
        return
    room = limits.max_members - budget.members
    declared = _decoded_header_size(stream, _START.size + offset, header_size)
    if declared > _CD_BYTES_PER_MEMBER * max(room, 1):
        budget.stop(
            f"declares more than {count(limits.max_members, 'member')} (--archive-max-members): "
            + ("no member hashed" if budget.members == 0 else "its members not hashed")
        )
    stream.seek(0)
    try:
        archive = py7zr.SevenZipFile(stream, mode="r")
    except PasswordRequired:
        budget.encrypted += 1
        found.note(ENCRYPTED)
        return
    except (Bad7zFile, EOFError, OSError, ValueError, TypeError, KeyError, IndexError) as err:
        found.note(f"the 7z archive is corrupt ({one_line(err) or type(err).__name__}): members not hashed")
        return
    with archive:
        _read(archive, path, depth, budget, visit, found)


def _decoded_header_size(stream: BinaryIO, at: int, size: int) -> int:
    """What the header will take once decoded: its size, or for an encoded (compressed) header the size
    it declares it inflates to (py7zr parses every entry of it into objects before libra can count them)."""
    stream.seek(at)
    raw = stream.read(min(size, 1 << 20))
    if not raw.startswith(b"\x17"):  # a plain header
        return size
    from py7zr.archiveinfo import HeaderStreamsInfo

    try:
        streams = HeaderStreamsInfo.retrieve(io.BytesIO(raw[1:]))
        return sum(int(folder.unpacksizes[-1]) for folder in streams.unpackinfo.folders)
    except Exception:  # py7zr will say what is wrong with it
        return size


def _read(archive: Any, path: tuple[str, ...], depth: int, budget: _Budget, visit: Visit, found: Scan) -> None:
    from py7zr.compressor import SupportedMethods

    limits = budget.limits
    files = list(archive.files)
    wanted: dict[int, tuple[str, int, int | None]] = {}  #: file id -> name, size, time
    streams = archive.header.main_streams
    folders = list(streams.unpackinfo.folders) if streams is not None else []
    packed = list(streams.packinfo.packsizes) if streams is not None else []
    numbers = {id(folder): i for i, folder in enumerate(folders)}
    refused_in: set[int] = set()  #: solid blocks (folder indexes) cut by a refused member
    stopped: _Stop | None = None
    reason: str | None = None
    try:
        for index, entry in enumerate(files):
            if entry.is_directory or entry.is_symlink or entry.is_socket:
                continue
            budget.claim(depth, index, len(files))
            budget.member()
            name = _name(str(entry.filename))
            folder = numbers.get(id(entry.folder), -1)
            if folder >= 0 and SupportedMethods.needs_password(entry.folder.coders):
                budget.encrypted += 1
                found.note(ENCRYPTED)
                continue
            size = int(entry.uncompressed or 0) if not entry.emptystream else 0
            when = _time(entry)
            if folder in refused_in:
                visit((*path, name), None, size, when, _AFTER_REFUSED)
                continue
            refused = _refused(size, folder, folders, packed, limits) if folder >= 0 else None
            if refused:
                refused_in.add(folder)
                visit((*path, name), None, size, when, refused)
                continue
            budget.charge(size)  # also when skipped: inflating the members after it reads through it
            if budget.skips((*path, name)):
                continue
            wanted[entry.id] = (name, size, when)
    except _Stop as err:  # a limit: read what was registered before it, then stop
        stopped, reason, budget.stopped = err, budget.stopped, None
    try:
        if wanted:
            _extract(archive, wanted, path, depth, budget, visit, found)
    finally:
        if stopped is not None:
            budget.stopped = budget.stopped or reason
    if stopped is not None:
        raise stopped


def _extract(
    archive: Any, wanted: dict[int, tuple[str, int, int | None]], path: tuple[str, ...], depth: int,
    budget: _Budget, visit: Visit, found: Scan,
) -> None:  # fmt: skip
    """Inflate the ``wanted`` members in one pass of py7zr's extraction worker, each into memory."""
    from py7zr.io import MemIO, Py7zIO, WriterFactory

    limits = budget.limits

    class Member(Py7zIO):
        """One member's bytes in memory; hashed when py7zr closes it (it did, so its CRC matched)."""

        def __init__(self, key: int) -> None:
            self.key = key
            self.parts: list[bytes] = []
            self.got = 0

        def write(self, s: bytes | bytearray) -> int:
            self.got += len(s)
            if self.got > wanted[self.key][1]:
                raise _TooLarge(f"the member inflates past its declared {wanted[self.key][1]} bytes")
            self.parts.append(bytes(s))
            return len(s)

        def read(self, size: int | None = None) -> bytes:
            return b""  # never read back: the bytes go to ``visit``

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            pass

        def size(self) -> int:
            return self.got

        def close(self) -> None:
            name, size, when = wanted.pop(self.key)
            data, self.parts = b"".join(self.parts), []
            if len(data) < size:
                visit((*path, name), None, size, when, "the member is truncated: not hashed")
                return
            _member(data, name, size, when, path, depth, budget, visit)

    class Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            return Member(int(filename))

    worker = archive.worker
    factory = Factory()
    for key in wanted:
        worker.register_filelike(key, MemIO(str(key), factory))
    worker.max_extract_size = limits.max_size  # a backstop: py7zr counts everything it inflates
    try:
        worker.extract(archive.fp, None, parallel=False)
    except _Stop:
        raise
    except Exception as err:  # CRC, a corrupt or truncated block, py7zr's own bomb guard, a decoder's bug
        reason = "its CRC does not match" if type(err).__name__ == "CrcError" else one_line(err) or type(err).__name__
        first = next(iter(wanted.values()), None)
        if first is not None:  # the member being read when it failed, and those not reached
            name, size, when = first
            visit((*path, name), None, size, when, f"the member cannot be read: {reason}")
        found.note(f"the 7z archive is corrupt ({reason}): the rest not hashed")


def _refused(size: int, folder: int, folders: list[Any], packed: list[int], limits: Any) -> str | None:
    """A member's refusal from its declared size and its solid block's compression ratio."""
    unpacked = int(folders[folder].unpacksizes[-1]) if folders[folder].unpacksizes else 0
    block = packed[folder] if folder < len(packed) else 0
    if size > limits.max_member_size:
        return _refuse(size, size, limits)
    if unpacked > RATIO_FLOOR and unpacked > limits.max_ratio * max(block, 1):
        return (f"its solid block is compressed {unpacked // max(block, 1)} to 1, above the {limits.max_ratio} "
                "to 1 limit (--archive-max-ratio): not hashed")  # fmt: skip
    return None


def _time(entry: Any) -> int | None:
    """A member's time in ns since the epoch, if it has a valid one."""
    try:
        stamp = entry.lastwritetime
        if stamp is None:
            return None
        from py7zr.helpers import ArchiveTimestamp

        seconds = float(ArchiveTimestamp(stamp).totimestamp())
        return int(seconds * 10**9) if 0 <= seconds < 2**33 else None
    except (ValueError, OverflowError, OSError, TypeError, AttributeError):
        return None
