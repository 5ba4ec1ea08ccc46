"""A decode-cost budget: refuse, before decoding, a file whose structure promises far more work than its pixels.

The pixel limit stops decompression bombs, but not files that are small, within the pixel limit, and
still cost minutes: a progressive JPEG of 8000x8000 pixels with 80,000 empty scans is 7.7 MB and takes
libjpeg ten minutes, because every scan is a pass over every block. Other formats have the same shape
where Pillow parses structure in Python, one item at a time: PNG chunks, GIF blocks, TIFF strips, BMP
run-length codes, QOI operations, PSD rows. This module reads only the structure (markers, chunk and
block headers, directory entries), in time bounded by the budget itself, and raises ``MediaError`` with
a plain reason before any decoder runs. The file's exact digests are computed before it, so a refused
file is still matched by them.

Two currencies, each stated per unit of media (see docs/hardening.md for the measurements):

- native decoding work, in *pixel-scans* (JPEG): each scan costs a pass over the samples of the
  components it covers. Allowed: ``passes`` full passes over the largest picture libra decodes
  (64 x 64 megapixels by default), and never more than ``scans`` scans;
- structure that Pillow (and libra) parse in Python: a flat count per format, with frames, pages and
  chunks counted as they are walked, so refusing a hostile file takes milliseconds.

>>> check_decode_budget(b"GIF89a" + bytes(7) + b";", "image/gif", max_pixels=64_000_000)
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import MediaError
from .jpeg import survey


@dataclass(frozen=True)
class Budget:
    """The limits. Defaults keep any still image under ~10 s of decoding on a 2-core machine."""

    #: JPEG: allowed pixel-scans = ``passes`` x the pixel limit (about 10 for a normal progressive file).
    passes: int = 64
    #: JPEG: an arithmetic-coded scan counts this many times (its refinement passes cost up to ~8x more).
    arithmetic_weight: int = 8
    #: JPEG: scans, whatever the size (normal progressive files have about 10).
    scans: int = 1_000
    #: JPEG: marker segments (APPn, COM, DHT, SOS, ...), which Pillow reads in Python before the first scan.
    segments: int = 10_000
    #: JPEG and GIF: stray bytes before the first scan or picture, which Pillow steps over one at a time.
    junk: int = 1 << 20
    #: PNG: chunks (Pillow and libra parse each in Python); RIFF chunks for WebP.
    chunks: int = 100_000
    #: GIF, APNG, animated WebP: frames. libra decodes the first; anything iterating them pays per frame.
    frames: int = 10_000
    #: GIF: data sub-blocks and extension blocks walked.
    blocks: int = 1_000_000
    #: TIFF: pages (image directories); a directory chain that loops is refused whatever its length.
    pages: int = 10_000
    #: TIFF: strips or tiles of the first page (Pillow decodes uncompressed ones one Python call each).
    strips: int = 100_000
    #: BMP: bytes of run-length data (Pillow decodes BMP runs in Python).
    rle_bytes: int = 8 << 20
    #: QOI: bytes of coded data (Pillow decodes QOI in Python, one operation at a time).
    qoi_bytes: int = 2 << 20
    #: PSD: rows x channels of the merged image (Pillow reads each row's length in Python).
    psd_rows: int = 1_000_000


DEFAULT_BUDGET = Budget()


def check_decode_budget(data: bytes, media_type: str, *, max_pixels: int, budget: Budget = DEFAULT_BUDGET) -> None:
    """Raise ``MediaError`` if decoding ``data`` (sniffed as ``media_type``) would cost more than ``budget``.

    Reads structure only; never decodes, never raises anything else, and returns quickly for any input
    (the walk stops as soon as a limit is passed). Types it does not know are let through.

    >>> check_decode_budget(b"\\xff\\xd8\\xff\\xd9", "image/jpeg", max_pixels=64_000_000)
    """
    check = _CHECKS.get(media_type)
    if check is None:
        return
    try:
        check(data, max_pixels, budget)
    except (IndexError, struct.error, ValueError, OverflowError):
        return  # damaged structure: the decoder will say so, and it is not a cost


def _refuse(reason: str) -> MediaError:
    return MediaError(f"{reason} (decode-cost guard)")


# ---------------------------------------------------------------------------------------------------- JPEG


def _jpeg(data: bytes, max_pixels: int, budget: Budget) -> None:
    allowed = budget.passes * max_pixels
    shape = survey(
        data,
        max_scans=budget.scans,
        max_pixel_scans=allowed,
        max_arithmetic_pixel_scans=allowed // budget.arithmetic_weight,
        max_segments=budget.segments,
        max_junk=budget.junk,
    )
    if not shape.stopped or shape.width * shape.height > max_pixels:
        return  # within budget, or a decompression bomb the pixel guard names better
    if shape.scans > budget.scans:
        raise _refuse(f"the JPEG has more than {budget.scans} scans, where normal progressive files have about 10")
    if shape.arithmetic:
        allowed //= budget.arithmetic_weight
    if shape.pixel_scans > allowed:
        coding = "arithmetic-coded " if shape.arithmetic else ""
        raise _refuse(
            f"the {coding}JPEG's scans would cost more than {allowed // 1_000_000} megapixel-scans to decode"
            f" ({shape.scans} scans of {shape.width}x{shape.height} pixels already reach it)"
        )
    if shape.segments > budget.segments:
        raise _refuse(f"the JPEG has more than {budget.segments} marker segments")
    raise _refuse(f"the JPEG has more than {budget.junk} stray bytes between its markers")


# ----------------------------------------------------------------------------------------------------- PNG

_PNG = b"\x89PNG\r\n\x1a\n"


def _png_walk(data: bytes, start: int, budget: Budget, counted: list[int]) -> None:
    """Walk the chunks of the PNG at ``start``; ``counted`` = [chunks, frames] so far (shared by an ICO)."""
    pos, size = start + len(_PNG), len(data)
    while pos + 8 <= size:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        counted[0] += 1
        if kind == b"fcTL":
            counted[1] += 1
        if counted[0] > budget.chunks:
            raise _refuse(f"the PNG has more than {budget.chunks} chunks")
        if counted[1] > budget.frames:
            raise _refuse(f"the animated PNG has more than {budget.frames} frames")
        if kind == b"IEND":
            return
        pos += 12 + length


def _png(data: bytes, max_pixels: int, budget: Budget) -> None:
    _png_walk(data, 0, budget, [0, 0])


# ----------------------------------------------------------------------------------------------------- GIF

_GIF_BLOCK = re.compile(rb"[\x21\x2c\x3b]")


def _gif(data: bytes, max_pixels: int, budget: Budget) -> None:
    size = len(data)
    pos = 13
    if size >= 13 and data[10] & 0x80:
        pos += 3 << ((data[10] & 0x07) + 1)  # global colour table
    frames = blocks = junk = 0

    def sub_blocks(pos: int) -> int:
        nonlocal blocks
        while pos < size:
            length = data[pos]
            blocks += 1
            if blocks > budget.blocks:
                raise _refuse(f"the GIF has more than {budget.blocks} blocks")
            pos += 1 + length
            if not length:
                break
        return pos

    while pos < size:
        kind = data[pos]
        if kind == 0x3B:  # trailer
            return
        if kind == 0x21:  # extension: label, then sub-blocks
            pos = sub_blocks(pos + 2)
        elif kind == 0x2C:  # image descriptor
            frames += 1
            if frames > budget.frames:
                raise _refuse(f"the GIF has more than {budget.frames} frames")
            packed = data[pos + 9] if pos + 9 < size else 0
            pos += 10
            if packed & 0x80:
                pos += 3 << ((packed & 0x07) + 1)  # local colour table
            pos = sub_blocks(pos + 1)  # after the LZW minimum code size
        else:  # stray bytes up to the next block: Pillow reads on one byte at a time
            found = _GIF_BLOCK.search(data, pos)
            end = found.start() if found else size
            junk += end - pos
            pos = end
            if junk > budget.junk:
                raise _refuse(f"the GIF has more than {budget.junk} stray bytes between its blocks")


# ---------------------------------------------------------------------------------------------------- TIFF


def _tiff(data: bytes, max_pixels: int, budget: Budget) -> None:
    order = "<" if data[:2] == b"II" else ">"
    big = 43 in (data[2], data[3])  # BigTIFF (Pillow also opens files with a swapped version word)
    if big:
        offset = struct.unpack_from(order + "Q", data, 8)[0]
        count_fmt, entry_size, next_fmt, value_at = order + "Q", 20, order + "Q", 12
    else:
        offset = struct.unpack_from(order + "I", data, 4)[0]
        count_fmt, entry_size, next_fmt, value_at = order + "H", 12, order + "I", 8
    count_size = struct.calcsize(count_fmt)
    seen: set[int] = set()
    while offset:
        if offset in seen:
            raise _refuse(f"the TIFF's directory chain loops back to offset {offset}")
        seen.add(offset)
        if len(seen) > budget.pages:
            raise _refuse(f"the TIFF has more than {budget.pages} pages")
        if offset + count_size > len(data):
            return  # damaged: Pillow says so
        entries = struct.unpack_from(count_fmt, data, offset)[0]
        first = offset + count_size
        if len(seen) == 1:
            _tiff_strips(data, order, first, min(entries, 65535), entry_size, value_at, budget)
        offset = struct.unpack_from(next_fmt, data, first + entries * entry_size)[0]


def _tiff_strips(data: bytes, order: str, first: int, entries: int, size: int, value_at: int, budget: Budget) -> None:
    count_fmt = order + ("I" if size == 12 else "Q")
    for i in range(entries):
        at = first + i * size
        tag = struct.unpack_from(order + "H", data, at)[0]
        if tag in (273, 324):  # StripOffsets, TileOffsets
            count = struct.unpack_from(count_fmt, data, at + 4)[0]
            if count > budget.strips:
                what = "strips" if tag == 273 else "tiles"
                raise _refuse(f"the TIFF's first page has {count} {what}, more than {budget.strips}")


# ---------------------------------------------------------------------------------------------------- WebP


def _webp(data: bytes, max_pixels: int, budget: Budget) -> None:
    pos, size = 12, len(data)
    chunks = frames = 0
    while pos + 8 <= size:
        kind = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        chunks += 1
        if kind == b"ANMF":
            frames += 1
            if frames > budget.frames:
                raise _refuse(f"the animated WebP has more than {budget.frames} frames")
        if chunks > budget.chunks:
            raise _refuse(f"the WebP has more than {budget.chunks} chunks")
        pos += 8 + length + (length & 1)


# ------------------------------------------------------------------------------------------ BMP, ICO, PSD, QOI


def _dib_rle(data: bytes, dib: int, rle_bytes: int, budget: Budget) -> None:
    """A DIB header at ``dib`` whose pixels are ``rle_bytes`` long: refuse long run-length data."""
    compression = int.from_bytes(data[dib + 16 : dib + 20], "little") if dib + 20 <= len(data) else 0
    header = int.from_bytes(data[dib : dib + 4], "little")
    if header >= 40 and compression in (1, 2) and rle_bytes > budget.rle_bytes:
        raise _refuse(f"the bitmap has {rle_bytes} bytes of run-length data, more than {budget.rle_bytes}")


def _bmp(data: bytes, max_pixels: int, budget: Budget) -> None:
    offset = int.from_bytes(data[10:14], "little")
    _dib_rle(data, 14, len(data) - offset, budget)


def _ico(data: bytes, max_pixels: int, budget: Budget) -> None:
    count = int.from_bytes(data[4:6], "little")
    counted = [0, 0]
    seen: set[int] = set()
    for i in range(count):
        entry = 6 + 16 * i
        if entry + 16 > len(data):
            return
        size = int.from_bytes(data[entry + 8 : entry + 12], "little")
        offset = int.from_bytes(data[entry + 12 : entry + 16], "little")
        if offset in seen:
            continue
        seen.add(offset)
        if data[offset : offset + 8] == _PNG:
            _png_walk(data, offset, budget, counted)  # one chunk count for the whole file
        else:
            _dib_rle(data, offset, min(size, len(data) - offset), budget)


def _psd(data: bytes, max_pixels: int, budget: Budget) -> None:
    channels, height = struct.unpack_from(">HI", data, 12)
    rows = height * min(max(channels, 1), 4)
    if rows > budget.psd_rows:
        raise _refuse(f"the PSD has {rows} rows of channel data, more than {budget.psd_rows}")


def _qoi(data: bytes, max_pixels: int, budget: Budget) -> None:
    coded = len(data) - 14
    if coded > budget.qoi_bytes:
        raise _refuse(f"the QOI image has {coded} bytes of coded data, more than {budget.qoi_bytes}")


_CHECKS: dict[str, Callable[[bytes, int, Budget], None]] = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "image/gif": _gif,
    "image/tiff": _tiff,
    "image/webp": _webp,
    "image/bmp": _bmp,
    "image/x-icon": _ico,
    "image/vnd.adobe.photoshop": _psd,
    "image/qoi": _qoi,
}

#: The media types whose structure is checked (any other type passes unchecked).
CHECKED_TYPES = frozenset(_CHECKS)
