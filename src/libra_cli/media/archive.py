"""Archives opened in memory: ZIP, TAR (plain, gzip, bzip2, xz) and 7z members, read one at a time, never written.

Abuse material travels in archives; hashing only the archive file would miss every listed picture
inside it. ``scan`` walks an archive's members with the standard library's ``zipfile`` and ``tarfile``
over the bytes (or a seekable stream of a large archive) and hands each member's bytes to a callback
that hashes them like a file. Nothing is extracted: no member is written to disk, and member names
(``../../etc/x.jpg``, ``/abs/name``) are only names, never paths.

Archives are also the classic way to exhaust a scanner (42.zip, overlapping-entry bombs, a tar.gz of
a million empty files). ClamAV's kind of limits (``models.ArchiveLimits``) bound the work per archive
file, nested archives included: nesting depth, member count, total inflated bytes, per-member size
and compression ratio. A limit stops the work *before* inflating what it refuses, whenever the
archive declares sizes (ZIP), and while inflating otherwise (compressed TAR): the refusal is recorded
with its reason and costs milliseconds. What was read before a problem (a truncated or corrupt
archive, a limit) is kept.

7z archives are read with py7zr when it is installed (``sevenzip.py``, an optional dependency); RAR
archives, and 7z without py7zr, are recognised and recorded ("RAR archive, members not hashed").

A large archive may be walked by several workers at once, each visiting its own run of members
(``scan``'s ``part``): every part walks the whole archive, so limits and problems stay the whole archive's.

>>> kind_of(b"PK\\x03\\x04" + bytes(26)), kind_of(b"\\x1f\\x8b\\x08"), kind_of(b"plain text")
('zip', 'gzip', None)
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from calendar import timegm
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, BinaryIO

from ..models import ArchiveLimits
from ..textsafe import count, one_line

#: Longest member name kept (a PAX header may hold a megabyte of name): longer ones are cut, marked.
MAX_NAME = 1024
#: Compression ratios are only judged above this many inflated bytes (a small file of zeros is fine). Low
#: enough that a nested bomb's small, highly compressed inner archives are refused too.
RATIO_FLOOR = 64 * 1024
#: A ZIP's central directory may hold at most this many bytes per allowed member (names, extras).
_CD_BYTES_PER_MEMBER = 512
#: Bytes read from a decompressor at a time.
_CHUNK = 1024 * 1024
#: Compressed bytes given to zlib at a time (gzip).
_FEED = 64 * 1024

#: Magic bytes -> archive kind. TAR is recognised at offset 257 (``ustar``).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"PK\x07\x08", "zip"),  # a spanned archive's first part
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
)
#: Kinds recognised but not opened, with the recorded reason.
UNREAD = {
    "7z": "7z archive, members not hashed (reading 7z needs py7zr: pip install 'libra-cli[7z]')",
    "rar": "RAR archive, members not hashed",
}
ENCRYPTED = "encrypted archive, members not hashed"
#: Kinds whose members several workers can share (``scan``'s ``part``): each part walks the archive, so
#: only kinds that inflate cheaply beside hashing are split (bzip2 and xz inflate slower than we hash).
SPLITS = frozenset({"zip", "tar", "gzip"})

#: What ``visit`` receives per member: its names from the outer archive inward, its bytes (``None``
#: when it was not read), its declared size, its time (ns since the epoch) and a problem, if any.
Visit = Callable[[tuple[str, ...], bytes | None, int, int | None, str | None], None]


def first_bytes() -> frozenset[bytes]:
    """The first byte of every archive magic (a caller's quick "cannot be an archive" test; a TAR is told
    by ``ustar`` at offset 257 instead)."""
    return frozenset(magic[:1] for magic, _ in _MAGIC)


def kind_of(head: bytes) -> str | None:
    """``zip``, ``tar``, ``gzip``, ``bzip2``, ``xz``, ``7z``, ``rar`` from the leading bytes, or ``None``."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "bzip2" and (len(head) < 4 or head[3] not in b"123456789"):
                return None
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


class _Stop(Exception):
    """A limit of the whole archive was reached: nothing more is read (the reason is recorded once)."""


@dataclass
class _Budget:
    """What one archive file (nested ones included) has used of its limits."""

    limits: ArchiveLimits
    members: int = 0
    inflated: int = 0
    stopped: str | None = None
    encrypted: int = 0
    #: Read only the members at these paths and the archives leading to them (``None``: every member).
    only: frozenset[tuple[str, ...]] | None = None

    left: set[tuple[str, ...]] = field(default_factory=set)  #: of ``only``'s members, those not read yet
    #: This walk's share of the members, ``(index, parts)``: every part walks the whole archive alike
    #: (the limits count over all of it), but only visits the top-level members it owns (and what is
    #: nested in them), so several workers can hash one archive's members at once.
    part: tuple[int, int] = (0, 1)
    mine: bool = True  #: the current top-level member is this part's

    def claim(self, depth: int, at: int, of: int) -> None:
        """At the top level, whether the member found at ``at`` of ``of`` (an index, or a byte offset) is
        this part's: parts own consecutive runs, so their members put together keep the archive's order."""
        index, parts = self.part
        if depth == 1 and parts > 1:
            self.mine = min(parts - 1, at * parts // max(of, 1)) == index

    def skips(self, path: tuple[str, ...]) -> bool:
        return self.only is not None and path not in self.only

    def member(self) -> None:
        if self.members >= self.limits.max_members:
            self.stop(f"more than {count(self.limits.max_members, 'member')} (--archive-max-members): "
                      "the rest not hashed")  # fmt: skip
        self.members += 1

    def charge(self, nbytes: int) -> None:
        if self.inflated + nbytes > self.limits.max_size:
            self.stop(f"more than {self.limits.max_size} inflated bytes (--archive-max-size): the rest not hashed")
        self.inflated += nbytes

    def stop(self, reason: str) -> None:
        self.stopped = self.stopped or reason
        raise _Stop(reason)


@dataclass
class Scan:
    """The problems of one archive (the file itself, or a nested archive member), in words."""

    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    @property
    def error(self) -> str | None:
        return "; ".join(self.problems) or None


def scan(
    source: bytes | BinaryIO,
    kind: str,
    limits: ArchiveLimits,
    visit: Visit,
    only: set[tuple[str, ...]] | None = None,
    part: tuple[int, int] | None = None,
) -> str | None:
    """Walk an archive's members (nested archives too), calling ``visit`` for each; never raises.

    Returns the archive's own problems as one sentence (``None`` if none): unread kinds, encryption,
    truncation, and the limit that stopped the walk. ``only``: read just the members at these paths
    (a ZIP's others are not even inflated). ``part``: ``(index, parts)``, visit only this part's share of
    the top-level members (``SPLITS``); the walk, its limits and its problems are those of the whole archive.
    """
    leading = None if only is None else frozenset(p[:i] for p in only for i in range(1, len(p) + 1))
    budget = _Budget(limits, only=leading, left=set(only or ()), part=part or (0, 1))

    def mine(path: tuple[str, ...], data: bytes | None, size: int, when: int | None, problem: str | None) -> None:
        if budget.mine:
            visit(path, data, size, when, problem)

    problems = _walk(source, kind, (), 1, budget, mine if part else visit)
    if budget.stopped and budget.stopped not in problems.problems:
        problems.note(budget.stopped)
    return problems.error


def _walk(
    source: bytes | BinaryIO, kind: str, path: tuple[str, ...], depth: int, budget: _Budget, visit: Visit
) -> Scan:
    found = Scan()
    seven = kind == "7z" and _sevenzip() is not None
    if kind in UNREAD and not seven:
        found.note(UNREAD[kind])
        return found
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        if seven:
            from .sevenzip import seven as walk7z

            walk7z(stream, path, depth, budget, visit, found)
        elif kind == "zip":
            _zip(stream, path, depth, budget, visit, found)
        else:
            _tar(stream, kind, path, depth, budget, visit, found)
    except _Stop:
        pass
    except MemoryError:
        found.note("the archive is too large to read in memory: the rest not hashed")
    except Exception as err:  # a parser's bug on a hostile archive costs this archive, never the scan
        found.note(f"the archive cannot be read ({type(err).__name__}: {one_line(err)}): the rest not hashed")
    return found


def _sevenzip() -> str | None:
    """``"py7zr"`` when 7z archives can be read (the optional dependency is installed), else ``None``."""
    from .sevenzip import available

    return "py7zr" if available() else None


def _name(raw: str) -> str:
    return raw if len(raw) <= MAX_NAME else raw[:MAX_NAME] + "[…]"


def _member(
    data: bytes, name: str, size: int, mtime_ns: int | None, path: tuple[str, ...], depth: int,
    budget: _Budget, visit: Visit,
) -> None:  # fmt: skip
    """One member's bytes to ``visit``; an archive inside is walked first (its problems are its own)."""
    inner = kind_of(data[:512])
    problem = None
    if inner is not None:
        if depth >= budget.limits.max_depth:
            problem = (f"nested more than {budget.limits.max_depth} archives deep (--archive-max-depth): "
                       "members not hashed")  # fmt: skip
        else:
            problem = _walk(data, inner, (*path, name), depth + 1, budget, visit).error
    visit((*path, name), data, size, mtime_ns, problem)
    if budget.only is not None:
        budget.left.discard((*path, name))
        if not budget.left:
            budget.stop("every member asked for was read")
    if budget.stopped:
        raise _Stop(budget.stopped)


# -- ZIP ----------------------------------------------------------------------------------------------


def _zip_directory(stream: BinaryIO) -> tuple[int, int] | None:
    """(entries, central directory bytes) from the end-of-central-directory record, before ``zipfile``
    parses (and holds) every entry; ``None`` if there is none (a truncated archive)."""
    end = stream.seek(0, io.SEEK_END)
    start = max(0, end - (65535 + 22))
    stream.seek(start)
    tail = stream.read(end - start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    entries, cd_size = struct.unpack("<xxxxxxxxxxHIxxxxxx", tail[at : at + 22])
    locator = tail.rfind(b"PK\x06\x07", 0, at)
    if (entries == 0xFFFF or cd_size == 0xFFFFFFFF) and locator >= 0 and at - locator == 20:
        (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        if 0 <= offset < end:
            stream.seek(offset)
            record = stream.read(56)
            if len(record) == 56 and record.startswith(b"PK\x06\x06"):
                entries, cd_size = struct.unpack("<QQ", record[32:48])
    return entries, cd_size


def _zip(stream: BinaryIO, path: tuple[str, ...], depth: int, budget: _Budget, visit: Visit, found: Scan) -> None:
    limits = budget.limits
    directory = _zip_directory(stream)
    if directory is None:
        stream.seek(0)
        found.note("the ZIP archive is truncated or corrupt (no central directory): members read from local headers")
        _zip_salvage(stream, path, depth, budget, visit, found)
        return
    entries, cd_size = directory
    room = limits.max_members - budget.members
    if entries > room or cd_size > _CD_BYTES_PER_MEMBER * max(room, 1):
        budget.stop(
            f"declares more than {count(limits.max_members, 'member')} (--archive-max-members): "
            + ("no member hashed" if budget.members == 0 else "its members not hashed")
        )
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        stream.seek(0)
        found.note(f"the ZIP archive is corrupt ({one_line(err)}): members read from local headers")
        _zip_salvage(stream, path, depth, budget, visit, found)
        return
    with archive:
        infos = archive.infolist()
        for index, info in enumerate(infos):
            if info.is_dir():
                continue
            budget.claim(depth, index, len(infos))
            budget.member()
            name = _name(info.filename)
            if budget.skips((*path, name)):
                continue
            if info.flag_bits & 0x1:
                budget.encrypted += 1
                found.note(ENCRYPTED)
                continue
            when = _zip_time(info.date_time)
            refused = _refuse(info.file_size, info.compress_size, limits)
            if refused:
                visit((*path, name), None, info.file_size, when, refused)
                continue
            budget.charge(info.file_size)
            try:
                with archive.open(info) as handle:
                    if not budget.mine:  # another part hashes it: read on only if it is an archive (limits)
                        head = handle.read(512)
                        if kind_of(head) is None:
                            continue
                        data = head + handle.read(info.file_size + 1 - len(head))
                    else:
                        data = handle.read(info.file_size + 1)
            except (zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError, NotImplementedError) as err:
                visit((*path, name), None, info.file_size, when, f"the member cannot be read: {one_line(err)}")
                continue
            _member(data, name, info.file_size, when, path, depth, budget, visit)


def _refuse(size: int, compressed: int, limits: ArchiveLimits) -> str | None:
    """Why a member is not inflated (its declared sizes), or ``None``."""
    if size > limits.max_member_size:
        return f"larger than the {limits.max_member_size}-byte member limit (--archive-max-member-size): not hashed"
    if size > RATIO_FLOOR and size > limits.max_ratio * max(compressed, 1):
        return (f"compressed {size // max(compressed, 1)} to 1, above the {limits.max_ratio} to 1 limit "
                "(--archive-max-ratio): not hashed")  # fmt: skip
    return None


def _zip_time(date_time: tuple[int, int, int, int, int, int]) -> int | None:
    """A ZIP member's time (local time of whoever zipped it, read as UTC) in ns; ``None`` if invalid."""
    try:
        return timegm((*date_time, 0, 0, 0)) * 10**9
    except (ValueError, OverflowError):
        return None


_LOCAL = struct.Struct("<4sHHHHHIIIHH")


def _zip_salvage(
    stream: BinaryIO, path: tuple[str, ...], depth: int, budget: _Budget, visit: Visit, found: Scan
) -> None:
    """Members of a ZIP without its central directory (a truncated upload), from the local headers in order.

    Stored and deflated members are read; a member whose data runs past the end is reported, and
    the walk ends there.
    """
    limits = budget.limits
    data = stream.read(limits.max_size + 1)
    if len(data) > limits.max_size:
        found.note("too large to read without its central directory: members not hashed")
        return
    pos = 0
    while data.startswith(b"PK\x03\x04", pos) and pos + _LOCAL.size <= len(data):
        _, _, flags, method, mtime, mdate, _, csize, usize, nlen, xlen = _LOCAL.unpack_from(data, pos)
        name = _name(data[pos + 30 : pos + 30 + nlen].decode("utf-8" if flags & 0x800 else "cp437", "replace"))
        start = pos + 30 + nlen + xlen
        budget.claim(depth, pos, len(data))
        budget.member()
        when = _zip_time(((mdate >> 9) + 1980, (mdate >> 5) & 0xF, mdate & 0x1F, mtime >> 11, (mtime >> 5) & 0x3F,
                          (mtime & 0x1F) * 2))  # fmt: skip
        if flags & 0x1:
            budget.encrypted += 1
            found.note(ENCRYPTED)
            if flags & 0x8:
                return  # its length is only known from a descriptor after the (encrypted) data
            pos = start + csize
            continue
        if method == 0 and not flags & 0x8:
            body, end = data[start : start + csize], start + csize
            if end > len(data):
                visit((*path, name), None, usize, when, "the member is truncated: not hashed")
                return
        elif method == 8:
            try:
                inflated, end = _inflate(data, start, min(limits.max_member_size, limits.max_size - budget.inflated))
            except zlib.error as err:
                visit((*path, name), None, usize, when, f"the member cannot be read: {one_line(err)}")
                return
            if inflated is None:
                visit((*path, name), None, usize, when, "larger than the archive limits: not hashed")
                return
            if end < 0:
                visit((*path, name), None, usize, when, "the member is truncated: not hashed")
                return
            if flags & 0x8:  # a data descriptor follows: optional signature, CRC, sizes
                end += 16 if data.startswith(b"PK\x07\x08", end) else 12
            body = inflated
        else:
            visit((*path, name), None, usize, when, f"compression method {method} of a truncated archive: not hashed")
            return
        if not name.endswith("/") and not budget.skips((*path, name)):
            budget.charge(len(body))
            _member(body, name, len(body), when, path, depth, budget, visit)
        pos = end


def _inflate(data: bytes, start: int, cap: int) -> tuple[bytes | None, int]:
    """A raw deflate stream from ``data[start:]``: (bytes, where it ends), fed a little at a time so a bomb
    is stopped near ``cap`` (``None``); the end is ``-1`` when the data runs out first."""
    inflater = zlib.decompressobj(-15)
    view = memoryview(data)
    out: list[bytes] = []
    got = 0
    pos = start
    while not inflater.eof and pos < len(data):
        piece = inflater.decompress(view[pos : pos + 16384])
        pos = min(len(data), pos + 16384)
        got += len(piece)
        if got > cap:
            return None, -1
        out.append(piece)
    if not inflater.eof:
        return b"".join(out), -1
    return b"".join(out), pos - len(inflater.unused_data)


# -- TAR ----------------------------------------------------------------------------------------------


class _Inflated(io.RawIOBase):
    """The inflated bytes of a (compressed) tar stream, counted against the archive's limits as they
    are read: header blocks, skipped members and PAX headers included, so nothing inflates unbounded."""

    def __init__(self, inner: BinaryIO | io.BufferedIOBase | io.RawIOBase, compressed: int, budget: _Budget) -> None:
        super().__init__()
        self.inner = inner
        self.compressed = compressed
        self.budget = budget
        self.read_bytes = 0
        self.truncated = ""  #: why the compressed stream ended early (then it reads as ended)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        limits = self.budget.limits
        if len(buffer) > limits.max_member_size + 1024:
            self.budget.stop(f"a TAR entry larger than the {limits.max_member_size}-byte member limit: "
                             "the rest not hashed")  # fmt: skip
        try:  # one step of the decompressor at a time: a truncated stream loses nothing before the cut
            read1 = getattr(self.inner, "read1", self.inner.read)
            data = read1(min(len(buffer), _CHUNK))
        except (EOFError, zlib.error, lzma.LZMAError, OSError) as err:
            self.truncated = one_line(err) or type(err).__name__
            return 0
        self.read_bytes += len(data)
        self.budget.charge(len(data))
        if self.read_bytes > RATIO_FLOOR and self.read_bytes > limits.max_ratio * max(self.compressed, 1):
            self.budget.stop(f"inflates more than {limits.max_ratio} to 1 (--archive-max-ratio): the rest not hashed")
        buffer[: len(data)] = data
        return len(data)


class _Gunzip(io.RawIOBase):
    """gzip members (one after another, as ``gzip`` reads them) inflated by zlib itself, which checks each
    member's CRC and size, fed ``_FEED`` bytes at a time: ``gzip.GzipFile`` feeds 8 KiB a call, and its
    Python layers cost a tar.gz of photos about a tenth of what hashing them does. A stream that ends
    inside a member raises ``EOFError``, as ``gzip`` does."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self.stream = stream
        self.inflater = zlib.decompressobj(31)
        self.tail = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            if self.inflater.eof:  # the next member, if any (NUL padding after a member is allowed)
                rest = (self.inflater.unused_data or self.stream.read(_FEED)).lstrip(b"\x00")
                while not rest:
                    more = self.stream.read(_FEED)
                    if not more:
                        return 0
                    rest = more.lstrip(b"\x00")
                if not rest.startswith(b"\x1f\x8b"):
                    raise zlib.error("not a gzip member after the end of the last one")
                self.inflater, self.tail = zlib.decompressobj(31), rest
            if not self.tail:
                self.tail = self.stream.read(_FEED)
                if not self.tail:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            out = self.inflater.decompress(self.tail, min(len(buffer), _FEED))
            self.tail = self.inflater.unconsumed_tail
            if out:
                buffer[: len(out)] = out
                return len(out)


def _decompressed(stream: BinaryIO, kind: str) -> BinaryIO | io.BufferedIOBase | io.RawIOBase:
    if kind == "gzip":
        return _Gunzip(stream)
    if kind == "bzip2":
        return bz2.BZ2File(stream, mode="rb")
    if kind == "xz":
        return lzma.LZMAFile(stream, mode="rb")
    return stream


def _tar(
    stream: BinaryIO, kind: str, path: tuple[str, ...], depth: int, budget: _Budget, visit: Visit, found: Scan
) -> None:
    """A TAR, plain or compressed, read in one forward pass (``tarfile``'s stream mode: no seeking back).

    A compressed file that holds no TAR (``photo.jpg.gz``) is one member, named after the file.
    """
    start = stream.tell()
    compressed = stream.seek(0, io.SEEK_END) - start
    stream.seek(start)
    inflated = _Inflated(_decompressed(stream, kind), compressed, budget)
    reader = io.BufferedReader(inflated, buffer_size=_CHUNK)
    head = reader.peek(512)[:512]
    if kind != "tar" and not _is_tar_header(head):
        _single(reader, kind, path, depth, budget, visit)
        return
    try:
        archive = tarfile.open(fileobj=reader, mode="r|")  # noqa: SIM115  (closed with its stream)
    except tarfile.ReadError as err:
        found.note(f"the TAR archive is corrupt ({one_line(err)})")
        return
    seen = 0
    try:
        for info in archive:
            seen += 1
            archive.members = []  # type: ignore[attr-defined]  # stream mode keeps every header otherwise
            if not info.isreg():
                continue
            budget.claim(depth, info.offset if kind == "tar" else stream.tell() - start, compressed)
            budget.member()
            name = _name(info.name)
            if budget.skips((*path, name)):
                continue
            when = int(info.mtime) * 10**9 if 0 <= info.mtime < 2**33 else None
            refused = _refuse(info.size, info.size, budget.limits)
            if refused:
                visit((*path, name), None, info.size, when, refused)
                continue
            handle = archive.extractfile(info)
            data = b"" if handle is None else _read(handle, info.size)
            if len(data) < info.size:
                visit((*path, name), None, info.size, when, "the member is truncated: not hashed")
                found.note("the TAR archive is truncated")
                return
            if budget.mine or kind_of(data[:512]) is not None:  # another part's: walked only if an archive
                _member(data, name, info.size, when, path, depth, budget, visit)
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as err:
        found.note(f"the TAR archive is truncated or corrupt after {count(seen, 'entry', 'entries')} "
                   f"({one_line(err) or type(err).__name__})")  # fmt: skip
    if inflated.truncated:
        found.note(f"the {kind} stream is truncated or corrupt ({inflated.truncated}): members before it are kept")


def _read(handle: IO[bytes] | io.BufferedIOBase, size: int) -> bytes:
    """Up to ``size`` bytes, a chunk at a time: a member that declares more than it holds (or a stream
    stopped by a limit) never costs a buffer of the declared size."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = handle.read(min(left, _CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _is_tar_header(block: bytes) -> bool:
    """A TAR header block: ``ustar`` magic, or (old V7 archives) a valid header checksum."""
    if len(block) < 512:
        return False
    if block[257:262] == b"ustar":
        return True
    try:
        stored = int(block[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    return stored == sum(block[:148]) + 256 + sum(block[156:512]) and block[0] != 0


def _single(reader: io.BufferedIOBase, kind: str, path: tuple[str, ...], depth: int, budget: _Budget,
            visit: Visit) -> None:  # fmt: skip
    """A compressed file that is not a TAR: its one inflated member, named ``-`` (``a.jpg.gz!-``)."""
    budget.claim(depth, 0, 1)
    if depth == 1 and not budget.mine:
        return  # the first part reads it (nested deeper, every part walks it for the limits)
    budget.member()
    limit = budget.limits.max_member_size
    try:
        data = _read(reader, limit + 1)
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as err:
        visit((*path, "-"), None, 0, None, f"the {kind} stream is truncated or corrupt: {one_line(err)}")
        return
    if len(data) > limit:
        visit((*path, "-"), None, len(data), None, f"larger than the {limit}-byte member limit: not hashed")
        return
    _member(data, "-", len(data), None, path, depth, budget, visit)
