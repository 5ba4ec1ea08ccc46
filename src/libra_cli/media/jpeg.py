"""Walk a JPEG's marker segments without decoding it: the frame, and what every scan will cost the decoder.

A progressive JPEG is decoded in scans, and each scan is a pass over every block of the components it
names, however little data it carries: a scan of 70 bytes (Huffman runs of empty blocks) or of none at
all (arithmetic coding may stop early; the decoder supplies zeros) still costs a full pass. So the cost
of a JPEG is not its size but the sum, over its scans, of the samples each scan covers. This module
counts that from the markers alone, in C-speed skips over the entropy-coded data, so a file that would
take minutes to decode is measured in milliseconds. It stops at the first EOI, as the decoder does
(an MPO's later pictures are never decoded), and after the first scan of a baseline JPEG that has
every component in it (libjpeg refuses a second scan there), so most photos cost a few microseconds.

>>> from libra_cli.media.jpeg import survey
>>> jpeg = bytes.fromhex("ffd8ffc0000b080010001001011100ffda0008010100003f00" + "00" * 8 + "ffd9")
>>> shape = survey(jpeg)
>>> (shape.width, shape.height, shape.scans, shape.pixel_scans)
(16, 16, 1, 256)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Start-of-frame markers (C4 DHT, C8 JPG and CC DAC are not frames).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_ARITHMETIC = frozenset({0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
#: Markers without a length: SOI, EOI, the restart markers and TEM.
_STANDALONE = frozenset({0xD8, 0xD9, 0x01, *range(0xD0, 0xD8)})
_SOS, _EOI = 0xDA, 0xD9
#: The byte after an 0xFF that ends entropy-coded data: not a stuffed zero, a restart marker or more fill.
_DATA_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


@dataclass
class JpegShape:
    """What the markers of one JPEG promise: its frame, its scans and their cost, and its oddities."""

    width: int = 0
    height: int = 0
    components: int = 0
    arithmetic: bool = False
    progressive: bool = False
    scans: int = 0
    #: Sum over scans of the samples of every component a scan covers (a grey scan of W x H is W*H).
    pixel_scans: int = 0
    #: Marker segments read (every APPn, COM, DHT, DQT, SOS, ...), standalone markers excluded.
    segments: int = 0
    #: Stray bytes between segments, which Pillow steps over one Python iteration at a time.
    junk: int = 0
    #: Whether the walk was stopped early by one of the limits given to ``survey``.
    stopped: bool = False
    complete: bool = False  #: an EOI was reached
    #: A sequential frame whose first scan has every component: the decoder reads no other scan.
    single_scan: bool = False


def survey(
    data: bytes | memoryview,
    *,
    max_scans: int | None = None,
    max_pixel_scans: int | None = None,
    max_arithmetic_pixel_scans: int | None = None,
    max_segments: int | None = None,
    max_junk: int | None = None,
) -> JpegShape:
    """The ``JpegShape`` of ``data`` (a JPEG from its SOI). Never raises, never decodes.

    The walk stops early (``stopped``) as soon as a count passes its limit, so a hostile file is
    measured in time proportional to the limit, not to the file. ``max_arithmetic_pixel_scans``
    replaces ``max_pixel_scans`` for an arithmetic-coded frame.
    """
    view = bytes(data) if isinstance(data, memoryview) else data
    shape = JpegShape()
    samples: dict[int, int] = {}  # component id -> samples per scan
    scan_limit = max_scans if max_scans is not None else -1
    work_limit = max_pixel_scans if max_pixel_scans is not None else -1
    segment_limit = max_segments if max_segments is not None else -1
    junk_limit = max_junk if max_junk is not None else -1
    size = len(view)
    pos = 2 if view[:2] == b"\xff\xd8" else 0
    find = view.find
    while pos < size:
        # Between segments: stray bytes, then one or more 0xFF fill bytes, then the marker code.
        ff = find(b"\xff", pos)
        stray = (size if ff < 0 else ff) - pos
        if stray and not shape.scans:  # only before the first scan: that part Pillow parses in Python
            shape.junk += stray
            if shape.junk > junk_limit >= 0:
                shape.stopped = True
                break
        if ff < 0:
            break
        pos = ff + 1
        while pos < size and view[pos] == 0xFF:
            pos += 1
        if pos >= size:
            break
        code = view[pos]
        pos += 1
        if code in _STANDALONE:
            if code == _EOI:
                shape.complete = True
                break
            continue
        if code == 0x00:  # an escaped 0xFF outside any scan: junk too
            if not shape.scans:
                shape.junk += 2
            continue
        length = int.from_bytes(view[pos : pos + 2], "big")
        shape.segments += 1
        if shape.segments > segment_limit >= 0:
            shape.stopped = True
            break
        start, pos = pos + 2, pos + max(length, 2)
        if code == _SOS:
            count = view[start] if start < size else 0
            shape.scans += 1
            full = shape.width * shape.height
            shape.pixel_scans += sum(
                samples.get(view[start + 1 + 2 * i], full) for i in range(count) if start + 1 + 2 * i < pos
            )
            if shape.scans > scan_limit >= 0 or shape.pixel_scans > work_limit >= 0:
                shape.stopped = True
                break
            if shape.scans == 1 and shape.width and not shape.progressive and count >= shape.components:
                # One interleaved sequential scan: libjpeg refuses any further scan ("EOI expected"), so
                # nothing after it can cost a pass. Most photos end their walk here, before their data.
                shape.single_scan = True
                break
            found = _DATA_END.search(view, pos)
            pos = found.start() if found else size
        elif code in _SOF and not shape.width:
            samples = _frame(shape, code, view[start:pos])
            if shape.arithmetic and max_arithmetic_pixel_scans is not None:
                work_limit = max_arithmetic_pixel_scans
    return shape


def _frame(shape: JpegShape, code: int, body: bytes) -> dict[int, int]:
    """Fill in the frame; return each component's samples (its share of the pixels, by sampling factor)."""
    if len(body) < 6:
        return {}
    shape.height = int.from_bytes(body[1:3], "big")
    shape.width = int.from_bytes(body[3:5], "big")
    shape.components = body[5]
    shape.arithmetic = code in _ARITHMETIC
    shape.progressive = code in _PROGRESSIVE
    factors = {}
    for i in range(shape.components):
        spec = body[6 + 3 * i : 9 + 3 * i]
        if len(spec) == 3:
            factors[spec[0]] = (max(1, spec[1] >> 4), max(1, spec[1] & 0x0F))
    if not factors:
        return {}
    hmax = max(h for h, _ in factors.values())
    vmax = max(v for _, v in factors.values())
    return {cid: -(-shape.width * h // hmax) * -(-shape.height * v // vmax) for cid, (h, v) in factors.items()}
