"""Recognise media by its magic bytes, never by its name: a JPEG renamed ``.txt`` is still an image.

Only the first few hundred bytes are looked at. The answer is a media type (``image/jpeg``,
``video/mp4``) or ``None`` for anything that is not an image or a video.

>>> sniff(b"\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF\\x00")
'image/jpeg'
>>> sniff(b"hello") is None
True
"""

from __future__ import annotations

from collections.abc import Callable

#: How many leading bytes ``sniff`` needs at most.
HEAD_SIZE = 512

# Plain prefixes, checked in order.
_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"II+\x00", "image/tiff"),  # BigTIFF
    (b"MM\x00+", "image/tiff"),
    (b"MM*\x00", "image/tiff"),  # a swapped version word: Pillow opens these too, so an uploader could use them
    (b"II\x00*", "image/tiff"),
    (b"8BPS\x00\x01", "image/vnd.adobe.photoshop"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "image/jp2"),
    (b"\xff\x4f\xff\x51", "image/jp2"),  # raw JPEG 2000 codestream
    (b"\xff\x0a", "image/jxl"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image/jxl"),
    (b"qoif", "image/qoi"),
    (b"FLV\x01", "video/x-flv"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "video/x-ms-asf"),  # WMV / ASF
    (b"\x00\x00\x01\xba", "video/mpeg"),  # program stream
    (b"\x00\x00\x01\xb3", "video/mpeg"),  # elementary stream sequence header
)

# ISO base media file format ("ftyp" box) brands.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_QUICKTIME_BRANDS = {b"qt  "}
_3GP_PREFIXES = (b"3gp", b"3g2")
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _riff(head: bytes) -> str | None:
    if len(head) < 12 or head[:4] != b"RIFF":
        return None
    form = head[8:12]
    if form == b"WEBP":
        return "image/webp"
    if form == b"AVI ":
        return "video/x-msvideo"
    return None


def _iso_bmff(head: bytes) -> str | None:
    if len(head) < 12:
        return None
    box_type = head[4:8]
    if box_type != b"ftyp":
        # Old QuickTime files start with a movie atom instead of ``ftyp``. Its size is binary: text whose
        # bytes 4-8 happen to spell ``free`` or ``skip`` ("The free ...") has printable ones.
        size = head[:4]
        if box_type not in _QUICKTIME_ATOMS or size == b"\x00\x00\x00\x00" or _printable(size):
            return None
        return "video/quicktime"
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    end = min(max(box_size, 16), len(head))
    brands = {major} | {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIF_BRANDS:
        # ``mif1``/``msf1`` are generic HEIF: AVIF files say so among their compatible brands.
        return "image/avif" if brands & _AVIF_BRANDS else "image/heic"
    if major in _AUDIO_BRANDS:
        return None
    if major in _QUICKTIME_BRANDS:
        return "video/quicktime"
    if major.startswith(_3GP_PREFIXES):
        return "video/3gpp"
    return "video/mp4"


def _printable(data: bytes) -> bool:
    return all(0x20 <= byte < 0x7F or byte in (0x09, 0x0A, 0x0D) for byte in data)


def _ebml(head: bytes) -> str | None:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return None
    # The DocType element (0x4282) says which flavour of Matroska this is.
    window = head[:64]
    if b"webm" in window:
        return "video/webm"
    return "video/x-matroska"


def _bmp(head: bytes) -> str | None:
    # "BM" alone is too weak (text files start with it); require a known DIB header size.
    if len(head) < 18 or head[:2] != b"BM":
        return None
    dib_size = int.from_bytes(head[14:18], "little")
    return "image/bmp" if dib_size in (12, 16, 40, 52, 56, 64, 108, 124) else None


def _ico(head: bytes) -> str | None:
    # ICONDIR: reserved 0, type 1 (icon) or 2 (cursor), count >= 1; first entry's reserved byte is 0.
    if len(head) < 22 or head[:2] != b"\x00\x00" or head[2:4] not in (b"\x01\x00", b"\x02\x00"):
        return None
    count = int.from_bytes(head[4:6], "little")
    planes_or_hotspot = int.from_bytes(head[10:12], "little")
    if count == 0 or head[9] != 0 or planes_or_hotspot > 256:
        return None
    return "image/x-icon"


def _mpeg_ts(head: bytes) -> str | None:
    # Transport streams have a sync byte every 188 bytes; M2TS/AVCHD (.mts) every 192, after a timecode.
    if len(head) >= 377 and head[0] == head[188] == head[376] == 0x47:
        return "video/mp2t"
    if len(head) >= 389 and head[4] == head[196] == head[388] == 0x47:
        return "video/mp2t"
    return None


Probe = Callable[[bytes], str | None]

_PROBES: tuple[Probe, ...] = (_riff, _iso_bmff, _ebml, _bmp, _ico, _mpeg_ts)
#: The first byte each probe needs (``None``: any first byte, e.g. a box size or a timecode).
_PROBE_FIRST: dict[Probe, bytes | None] = {
    _riff: b"R",
    _iso_bmff: None,
    _ebml: b"\x1a",
    _bmp: b"B",
    _ico: b"\x00",
    _mpeg_ts: None,
}


def _dispatch() -> tuple[list[tuple[tuple[bytes, str], ...]], list[tuple[Probe, ...]]]:
    """Per first byte, the prefixes and probes that can match it, in their order of precedence.

    ``sniff`` runs for every file of a scan, media or not; most files fail every test, so picking the
    candidates by the first byte (one list index) instead of trying all thirty is most of its cost.
    """
    prefixes = [tuple(p for p in _PREFIXES if p[0][0] == first) for first in range(256)]
    probes = [
        tuple(p for p in _PROBES if _PROBE_FIRST[p] is None or _PROBE_FIRST[p] == bytes([first]))
        for first in range(256)
    ]
    return prefixes, probes


_PREFIXES_BY_FIRST, _PROBES_BY_FIRST = _dispatch()


def sniff(data: bytes | memoryview) -> str | None:
    """The media type of ``data`` from its leading bytes, or ``None`` if it is not an image or video."""
    if not len(data):
        return None
    head = bytes(data[:HEAD_SIZE])
    first = head[0]
    for prefix, media_type in _PREFIXES_BY_FIRST[first]:
        if head.startswith(prefix):
            return media_type
    for probe in _PROBES_BY_FIRST[first]:
        found = probe(head)
        if found is not None:
            return found
    return None


def sniff_slow(data: bytes | memoryview) -> str | None:
    """Every prefix and probe in order, no dispatch: the reference ``sniff`` is tested against."""
    head = bytes(data[:HEAD_SIZE])
    for prefix, media_type in _PREFIXES:
        if head.startswith(prefix):
            return media_type
    for probe in _PROBES:
        found = probe(head)
        if found is not None:
            return found
    return None


def is_image(media_type: str | None) -> bool:
    """True for ``image/...`` media types."""
    return media_type is not None and media_type.startswith("image/")


def is_video(media_type: str | None) -> bool:
    """True for ``video/...`` media types."""
    return media_type is not None and media_type.startswith("video/")
