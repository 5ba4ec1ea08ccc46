"""Drop the PNG chunks that cannot change the picture, before Pillow parses any of them.

Pillow refuses a whole PNG whose text or ICC profile inflates past its limits (``MAX_TEXT_CHUNK``,
``MAX_TEXT_MEMORY``) or whose ancillary chunk has a bad checksum, while browsers (libpng) skip such a
chunk and show the picture. Each would let an uploader dodge perceptual matching with one added
chunk, so libra hands Pillow only what the pixels need: the critical chunks, transparency, the EXIF
orientation and APNG frame control (each ancillary one only with a good checksum, as libpng keeps it).
The result is a new ``bytes`` in memory; nothing is written.

>>> picture_chunks(b"not a png") == b"not a png"
True
"""

from __future__ import annotations

import zlib

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Ancillary chunks that change what is shown (``fdAT`` frames are kept unchecked: they can be large).
_KEEP = frozenset({b"tRNS", b"eXIf", b"acTL", b"fcTL", b"fdAT"})
_UNCHECKED = frozenset({b"fdAT"})


def _wanted(kind: bytes, chunk: memoryview) -> bool:
    if not kind[0] & 0x20:  # an upper-case first letter: critical, always kept
        return True
    if kind not in _KEEP:
        return False
    if kind in _UNCHECKED:
        return True
    body = chunk[8:-4]
    return zlib.crc32(body, zlib.crc32(kind)) == int.from_bytes(chunk[-4:], "big")


def picture_chunks(data: bytes) -> bytes:
    """``data`` without the chunks the picture does not need; ``data`` itself if there are none."""
    if not data.startswith(_SIGNATURE):
        return data
    view = memoryview(data)
    kept = [view[: len(_SIGNATURE)]]
    pos, dropped = len(_SIGNATURE), False
    while pos + 12 <= len(view):
        length = int.from_bytes(view[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(view):
            break  # truncated: Pillow says so
        kind = bytes(view[pos + 4 : pos + 8])
        if _wanted(kind, view[pos:end]):
            kept.append(view[pos:end])
        else:
            dropped = True
        pos = end
        if kind == b"IEND":
            break
    if not dropped:
        return data
    kept.append(view[pos:])
    return b"".join(kept)
