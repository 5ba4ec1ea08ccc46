"""The sizes of the pictures inside an ICO, read from their own headers before Pillow decodes any.

Pillow's ICO plugin decodes the largest entry while *opening* the file, so the size it reports has
already been allocated: an ICO whose directory says 16x16 can hold a PNG of 80 megapixels. libra
reads each entry's embedded PNG or BMP header itself and applies its pixel limit first.

>>> list(embedded_sizes(b"\\x00\\x00\\x01\\x00\\x00\\x00"))
[]
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

_PNG = b"\x89PNG\r\n\x1a\n"


def embedded_sizes(data: bytes) -> Iterator[tuple[int, int]]:
    """(width, height) of every entry whose header can be read (BMP heights halved: XOR + AND mask)."""
    if len(data) < 6:
        return
    count = int.from_bytes(data[4:6], "little")
    for i in range(count):
        entry = 6 + 16 * i
        if entry + 16 > len(data):
            return
        offset = int.from_bytes(data[entry + 12 : entry + 16], "little")
        head = data[offset : offset + 24]
        if head.startswith(_PNG) and len(head) >= 24:
            yield struct.unpack(">II", head[16:24])
        elif len(head) >= 12 and int.from_bytes(head[:4], "little") == 12:
            width, height = struct.unpack("<HH", head[4:8])
            yield width, height // 2
        elif len(head) >= 12:
            width, height = struct.unpack("<ii", head[4:12])
            yield abs(width), abs(height) // 2
