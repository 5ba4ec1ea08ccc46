"""A hostile corpus, built at test time: crafted files and trees that try to crash, stall or mislead a scan.

Nothing here is committed as a binary: every function returns the bytes it crafts (or builds a tree in a
folder the caller names), with size parameters so a test can scale it down. The pictures are synthetic
(flat grey, noise); the one real photo a scan should find is passed in by the caller.

>>> len(progressive_jpeg(64, 64, scans=3)) > 100
True
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------------------------------- JPEG


class _Bits:
    """A JPEG entropy-coded segment writer: bits MSB first, 0xFF stuffed with 0x00, padded with 1s."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, length: int) -> None:
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)
        self.acc &= (1 << self.n) - 1

    def done(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)
        return bytes(self.out)


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(body) + 2) + body


#: Huffman AC table of the crafted scans: the 15 end-of-band-run symbols (r << 4), all 4-bit codes.
_EOB_SYMBOLS = bytes(r << 4 for r in range(15))


def _eob_runs(blocks: int) -> bytes:
    """Entropy data that says 'nothing in this band' for ``blocks`` blocks: end-of-band runs of up to 32767."""
    bits = _Bits()
    left = blocks
    while left:
        run = min(left, 32767)
        r = run.bit_length() - 1
        bits.put(r, 4)  # the code of symbol r << 4 is r itself (canonical codes of equal length)
        if r:
            bits.put(run - (1 << r), r)
        left -= run
    return bits.done()


def _sos(ss: int, se: int, ah: int, al: int) -> bytes:
    return _segment(0xDA, bytes([1, 1, 0x00, ss, se, (ah << 4) | al]))


def progressive_jpeg(
    width: int, height: int, scans: int, refine: bool = False, arithmetic: bool = False, *, dc: bool = True
) -> bytes:
    """A grey progressive JPEG whose ``scans`` AC scans each cover the whole image but carry no data.

    Each scan costs the decoder a pass over every block while costing the file ~70 bytes (Huffman: runs
    of 32767 empty blocks) or ~10 bytes (``arithmetic``: an arithmetic-coded scan may be empty, the
    decoder supplies zeros). ``refine`` makes them successive-approximation refinement scans, which
    visit every coefficient of every block. The 8000x8000, 80,000-scan file of issue 6 is
    ``progressive_jpeg(8000, 8000, 80_000)``.
    """
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    head = b"\xff\xd8" + _segment(0xDB, b"\x00" + b"\x01" * 64)
    head += _segment(0xCA if arithmetic else 0xC2, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    if not arithmetic:
        dc_table = b"\x00" + bytes([1] + [0] * 15) + b"\x00"  # one symbol (difference 0), code "0"
        ac_table = b"\x10" + bytes([0, 0, 0, 15] + [0] * 12) + _EOB_SYMBOLS
        head += _segment(0xC4, dc_table + ac_table)
    body = [head]
    if dc:
        dc_bits = b"" if arithmetic else _dc_zero(blocks)
        body.append(_sos(0, 0, 0, 0) + dc_bits)
    data = b"" if arithmetic else _eob_runs(blocks)
    if refine:
        body.append(_sos(1, 63, 0, 1) + data)
        scan = _sos(1, 63, 1, 0) + data
    else:
        scan = _sos(1, 63, 0, 0) + data
    body.append(scan * scans)
    body.append(b"\xff\xd9")
    return b"".join(body)


def baseline_jpeg(width: int, height: int, scans: int = 1) -> bytes:
    """A grey baseline JPEG (flat mid-grey) whose one scan is repeated ``scans`` times."""
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    head = b"\xff\xd8" + _segment(0xDB, b"\x00" + b"\x01" * 64)
    head += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    dc_table = b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    ac_table = b"\x10" + bytes([0, 0, 0, 15] + [0] * 12) + _EOB_SYMBOLS
    head += _segment(0xC4, dc_table + ac_table)
    bits = _Bits()
    for _ in range(blocks):
        bits.put(0, 5)  # DC difference 0 ("0"), then end of block (symbol 0x00, code "0000")
    scan = _sos(0, 63, 0, 0) + bits.done()
    return head + scan * scans + b"\xff\xd9"


def _dc_zero(blocks: int) -> bytes:
    """A DC scan where every block's difference is 0: one '0' bit per block."""
    full, rest = divmod(blocks, 8)
    return b"\x00" * full + (bytes([(1 << (8 - rest)) - 1]) if rest else b"")


def jpeg_with_junk(junk: int) -> bytes:
    """A tiny valid JPEG with ``junk`` stray bytes before its first scan (Pillow steps over them one by one)."""
    good = progressive_jpeg(16, 16, scans=1)
    cut = good.index(b"\xff\xda")
    return good[:cut] + b"\x00" * junk + good[cut:]


def jpeg_with_segments(count: int) -> bytes:
    """A tiny valid JPEG with ``count`` empty comment segments before its first scan."""
    good = progressive_jpeg(16, 16, scans=1)
    cut = good.index(b"\xff\xda")
    return good[:cut] + _segment(0xFE, b"") * count + good[cut:]


# ---------------------------------------------------------------------------------------------------- PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, body: bytes = b"") -> bytes:
    """One PNG chunk with a correct CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def _ihdr(width: int, height: int, depth: int = 8, colour: int = 0) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))


def png(
    width: int = 8, height: int = 8, *, before: bytes = b"", after: bytes = b"", idat: bytes | None = None
) -> bytes:
    """A grey PNG with ``before`` / ``after`` raw chunk bytes around its image data (flat grey by default)."""
    if idat is None:
        idat = png_chunk(b"IDAT", zlib.compress((b"\x00" + b"\x80" * width) * height, 9))
    return _PNG_SIGNATURE + _ihdr(width, height) + before + idat + after + png_chunk(b"IEND")


def png_chunk_flood(count: int, *, kind: bytes = b"ABCD", after: bool = True) -> bytes:
    """A PNG with ``count`` empty chunks (an unknown critical type by default: kept for Pillow to parse)."""
    flood = png_chunk(kind) * count
    return png(before=b"" if after else flood, after=flood if after else b"")


def png_empty_idats(count: int) -> bytes:
    """A PNG whose image data is split over ``count`` chunks, all but one empty."""
    data = zlib.compress(b"\x00\x80" * 1, 9)
    return png(1, 1, idat=png_chunk(b"IDAT") * count + png_chunk(b"IDAT", data))


def apng(frames: int, width: int = 4, height: int = 4) -> bytes:
    """An animated PNG with ``frames`` frames (the default image is the first)."""
    data = zlib.compress((b"\x00" + b"\x80" * width) * height, 9)
    parts = [png_chunk(b"acTL", struct.pack(">II", frames, 0))]
    seq = 0
    for i in range(frames):
        parts.append(png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", seq, width, height, 0, 0, 1, 10, 0, 0)))
        seq += 1
        if i == 0:
            parts.append(png_chunk(b"IDAT", data))
        else:
            parts.append(png_chunk(b"fdAT", struct.pack(">I", seq) + data))
            seq += 1
    return _PNG_SIGNATURE + _ihdr(width, height) + b"".join(parts) + png_chunk(b"IEND")


def png_text_bomb(inflated: int = 64 * 1024 * 1024) -> bytes:
    """A PNG with a zTXt chunk and an iCCP profile that each inflate to ``inflated`` bytes."""
    bomb = zlib.compress(b"\x00" * inflated, 9)
    return png(before=png_chunk(b"zTXt", b"Comment\x00\x00" + bomb) + png_chunk(b"iCCP", b"icc\x00\x00" + bomb))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels over a few bytes of image data."""
    return png(width, height, idat=png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024)))


# ---------------------------------------------------------------------------------------------------- GIF


def _gif_head(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"


def _gif_frame() -> bytes:
    """One frame of one pixel: graphic control (delay 2), image descriptor, LZW codes clear, 0, end."""
    control = b"\x21\xf9\x04\x00\x02\x00\x00\x00"
    return control + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"


def gif(frames: int = 1, width: int = 4, height: int = 4, *, extensions: int = 0) -> bytes:
    """A ``width`` x ``height`` GIF of ``frames`` one-pixel frames, after ``extensions`` comment extensions
    of 16 one-byte sub-blocks each."""
    comment = b"\x21\xfe" + b"\x01x" * 16 + b"\x00"
    return _gif_head(width, height) + comment * extensions + _gif_frame() * frames + b"\x3b"


def gif_bomb(width: int = 65535, height: int = 65535) -> bytes:
    return _gif_head(width, height) + _gif_frame() + b"\x3b"


# --------------------------------------------------------------------------------------------------- TIFF


def _ifd(entries: list[tuple[int, int, int, int]], next_offset: int) -> bytes:
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in sorted(entries):
        body += struct.pack("<HHII", tag, kind, count, value)
    return body + struct.pack("<I", next_offset)


def tiff(
    width: int = 8,
    height: int = 8,
    *,
    pages: int = 1,
    loop: bool = False,
    tile: int | None = None,
) -> bytes:
    """An uncompressed grey TIFF of ``pages`` pages (``loop``: the last page points back at the first),
    stored in ``tile`` x ``tile`` tiles when given (all tiles share one block of pixel data)."""
    pixels_at = 8
    pixels = b"\x80" * (tile * tile if tile else width * height)
    ifd_at = pixels_at + len(pixels)
    if tile:
        tiles = (-(-width // tile)) * (-(-height // tile))
        arrays_at = ifd_at
        offsets = struct.pack(f"<{tiles}I", *([pixels_at] * tiles))
        counts = struct.pack(f"<{tiles}I", *([tile * tile] * tiles))
        layout = [
            (322, 3, 1, tile),
            (323, 3, 1, tile),
            (324, 4, tiles, arrays_at),
            (325, 4, tiles, arrays_at + len(offsets)),
        ]
        extra = offsets + counts
        ifd_at = arrays_at + len(extra)
    else:
        layout = [(273, 4, 1, pixels_at), (278, 4, 1, height), (279, 4, 1, width * height)]
        extra = b""
    base = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), *layout]
    ifd_size = 2 + 12 * len(base) + 4
    ifds = []
    for page in range(pages):
        last = page == pages - 1
        next_offset = (ifd_at if loop else 0) if last else ifd_at + ifd_size * (page + 1)
        ifds.append(_ifd(base, next_offset))
    return b"II*\x00" + struct.pack("<I", ifd_at) + pixels + extra + b"".join(ifds)


def tiff_bomb(width: int = 1_000_000, height: int = 1_000_000) -> bytes:
    """A TIFF that declares ``width`` x ``height`` pixels over one byte of pixel data."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1)]
    entries += [(273, 4, 1, 8), (278, 4, 1, height), (279, 4, 1, 1)]
    return b"II*\x00" + struct.pack("<I", 9) + b"\x80" + _ifd(entries, 0)


# --------------------------------------------------------------------------------------------------- WebP


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def _webp_still(width: int, height: int) -> bytes:
    """The VP8L chunk of a flat grey lossless WebP (encoded by Pillow, once)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "WEBP", lossless=True)
    data = out.getvalue()
    start = data.index(b"VP8L")
    return data[start:]


def _u24(value: int) -> bytes:
    return value.to_bytes(3, "little")


def webp(frames: int = 1, width: int = 4, height: int = 4) -> bytes:
    """A WebP: a still image, or an animation of ``frames`` frames."""
    still = _webp_still(width, height)
    if frames <= 1:
        return b"RIFF" + struct.pack("<I", 4 + len(still)) + b"WEBP" + still
    head = _riff_chunk(b"VP8X", bytes([0x02, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1))
    head += _riff_chunk(b"ANIM", b"\x00\x00\x00\x00\x00\x00")
    frame = _riff_chunk(b"ANMF", _u24(0) + _u24(0) + _u24(width - 1) + _u24(height - 1) + _u24(10) + b"\x00" + still)
    body = b"WEBP" + head + frame * frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_bomb(width: int = 16384, height: int = 16384) -> bytes:
    """An animated WebP whose canvas declares ``width`` x ``height`` over one tiny frame."""
    still = _webp_still(1, 1)
    head = _riff_chunk(b"VP8X", bytes([0x02, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1))
    head += _riff_chunk(b"ANIM", b"\x00" * 6)
    frame = _riff_chunk(b"ANMF", _u24(0) * 4 + _u24(10) + b"\x00" + still)
    body = b"WEBP" + head + frame
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ------------------------------------------------------------------------------------------------ BMP, PSD


def bmp_rle(width: int, height: int) -> bytes:
    """An 8-bit run-length BMP coded one pixel per run (two bytes a pixel, decoded in Python by Pillow)."""
    rows = (b"\x01\x80" * width + b"\x00\x00") * height + b"\x00\x01"
    palette = bytes(b for i in range(256) for b in (i, i, i, 0))
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rows), 2835, 2835, 256, 0)
    offset = 14 + len(header) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + header + palette + rows


def psd_rows(height: int, width: int = 1) -> bytes:
    """A grey PSD whose run-length image data is ``height`` rows (Pillow makes one tile per row)."""
    row = b"\x00\x80" if width == 1 else bytes([0x100 - (width - 1), 0x80])
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, 1, height, width, 8, 1)
    return head + b"\x00" * 12 + struct.pack(">H", 1) + struct.pack(">H", len(row)) * height + row * height


def qoi(width: int = 8, height: int = 8, *, ops: int | None = None) -> bytes:
    """A QOI image; with ``ops``, coded as that many one-byte operations (Pillow decodes each in Python)."""
    head = b"qoif" + struct.pack(">IIBB", width, height, 3, 0)
    count = ops if ops is not None else width * height
    body = b"\x6a" * count  # QOI_OP_DIFF with no change: one pixel a byte
    return head + body + b"\x00" * 7 + b"\x01"


# ----------------------------------------------------------------------------------- ordinary pictures, cut


def _noise(size: int = 64, seed: int = 1) -> object:
    import random

    from PIL import Image

    rnd = random.Random(seed)
    return Image.frombytes("RGB", (size, size), bytes(rnd.randrange(256) for _ in range(size * size * 3)))


def encoded(fmt: str, *, seed: int = 1, size: int = 64, **options: object) -> bytes:
    """A small synthetic picture (noise: every byte matters) encoded by Pillow as ``fmt``."""
    from PIL import Image

    img = _noise(size, seed)
    assert isinstance(img, Image.Image)
    if fmt == "ICO":
        options.setdefault("sizes", [(size, size)])
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _writable() -> tuple[str, ...]:
    from PIL import features

    return ("AVIF",) if features.check("avif") else ()


#: The formats ``truncated`` cuts: every image format Pillow can write here that libra decodes.
TRUNCATABLE = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "ICO", "QOI", "JPEG2000", *_writable())


def truncated(fmt: str, keep: float = 0.6) -> bytes:
    """A picture of format ``fmt`` cut after ``keep`` of its bytes."""
    whole = encoded(fmt)
    return whole[: max(1, int(len(whole) * keep))]


def jpeg_zip_polyglot() -> bytes:
    """A JPEG that is also a ZIP archive (the archive's directory is found from the end)."""
    import zipfile

    out = io.BytesIO()
    out.write(encoded("JPEG", seed=7))
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr("readme.txt", "a zip archive behind a JPEG\n")
    return out.getvalue()


def png_mp4_polyglot() -> bytes:
    """A PNG followed by an MP4 file's boxes."""
    ftyp = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
    mdat = struct.pack(">I", 16) + b"mdat" + b"\x00" * 8
    return encoded("PNG", seed=8) + ftyp + mdat


# ------------------------------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Sizes:
    """How big the crafted files are. ``Sizes()`` fits a test; ``Sizes.issue()`` is issue 6's corpus.

    Each cost bomb is just over its limit in ``docs/hardening.md``. ``heavy`` adds the ones that cost
    seconds each where the guard is not wired in (BMP runs, QOI, PSD rows, TIFF tiles).
    """

    jpeg_side: int = 500
    jpeg_scans: int = 1_500  #: over the 1,000-scan limit
    png_chunks: int = 100_001
    gif_frames: int = 10_001
    webp_frames: int = 10_001
    tiff_pages: int = 10_001
    text_bomb: int = 4 << 20
    heavy: bool = False

    @classmethod
    def issue(cls) -> Sizes:
        """Issue 6's corpus: the 8000x8000 JPEG of 80,000 scans, a GIF of 100,000 frames, every bomb."""
        return cls(jpeg_side=8000, jpeg_scans=80_000, gif_frames=100_000, text_bomb=256 << 20, heavy=True)


@dataclass(frozen=True)
class Planted:
    """One entry of the corpus and what a scan must make of it.

    ``expect``: ``finding`` (the listed photo), ``error`` (undecodable: reported, digests still matched),
    ``refused`` (an error from the decode-cost guard), ``skip`` (not a regular file: never read),
    ``clean`` (hashed, nothing to report) or ``unreadable`` (a fatal error, unless run as root).
    """

    path: bytes
    kind: str
    expect: str


_CLEAN_NAMES: tuple[bytes, ...] = (
    b"new\nline.jpg",
    b"esc\x1b[2Jape.jpg",
    b"bad\xffname.jpg",  # not UTF-8 ...
    b"bad\\xffname.jpg",  # ... and the text an escaping writer would make of it
    b"back\\slash.jpg",
    b"tab\there.jpg",
    b"\xe2\x80\xaeevil-gpj.exe",  # right-to-left override
    b"-rf",
    b" leading space.jpg",
    b"carriage\rreturn.jpg",
)


def build_corpus(root: Path, photo: bytes, outside: Path, sizes: Sizes | None = None) -> list[Planted]:
    """Fill ``root`` (created) with the hostile corpus, ``photo`` hidden inside; return what was planted.

    ``outside`` is a folder beside the tree: a copy of ``photo`` goes there, and a symlink in the tree
    points at it (symlinks are not followed, so it must not be reported). No deep tree here: see
    ``build_deep_tree``.
    """
    sizes = sizes or Sizes()
    planted: list[Planted] = []
    base = os.fsencode(root)
    os.makedirs(base, exist_ok=True)

    def put(name: bytes, data: bytes, kind: str, expect: str) -> bytes:
        path = os.path.join(base, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        planted.append(Planted(path, kind, expect))
        return path

    put(b"nested/deeper/IMG_0001.jpg", photo, "the listed photo", "finding")

    # Decode-cost bombs: within the pixel limit, but their structure promises minutes of work.
    side, scans = sizes.jpeg_side, sizes.jpeg_scans
    put(b"cost/scans.jpg", progressive_jpeg(side, side, scans), f"JPEG, {scans} empty scans", "refused")
    put(b"cost/arith.jpg", progressive_jpeg(side, side, scans, arithmetic=True), "arithmetic JPEG scans", "refused")
    put(b"cost/segments.jpg", jpeg_with_segments(10_001), "JPEG, 10,001 segments", "refused")
    put(b"cost/chunks.png", png_chunk_flood(sizes.png_chunks), "PNG chunk flood", "refused")
    put(b"cost/frames.gif", gif(sizes.gif_frames), f"GIF, {sizes.gif_frames} frames", "refused")
    put(b"cost/frames.webp", webp(sizes.webp_frames), "animated WebP", "refused")
    put(b"cost/pages.tif", tiff(pages=sizes.tiff_pages), "TIFF pages", "refused")
    put(b"cost/loop.tif", tiff(pages=3, loop=True), "TIFF directory loop", "refused")
    if sizes.heavy:
        put(b"cost/tiles.tif", tiff(5072, 5072, tile=16), "TIFF, 100,489 tiles", "refused")
        put(b"cost/runs.bmp", bmp_rle(2100, 2100), "BMP, 8.4 MB of one-pixel runs", "refused")
        put(b"cost/ops.qoi", qoi(2048, 1024, ops=2048 * 1024), "QOI of 2 MiB", "refused")
        put(b"cost/rows.psd", psd_rows(1_000_001), "PSD, a million rows", "refused")

    # Decompression bombs: the pixel guard refuses them from the header.
    put(b"bombs/huge.png", png_bomb(), "PNG 100,000 x 100,000", "error")
    put(b"bombs/huge.gif", gif_bomb(), "GIF 65,535 x 65,535", "error")
    put(b"bombs/huge.tif", tiff_bomb(), "TIFF 1,000,000 x 1,000,000", "error")
    put(b"bombs/huge.webp", webp_bomb(), "WebP canvas 16,384 x 16,384", "error")
    put(b"bombs/huge.jpg", progressive_jpeg(65_000, 65_000, 1), "JPEG 65,000 x 65,000", "error")
    put(b"bombs/text.png", png_text_bomb(sizes.text_bomb), "PNG zTXt and iCCP bombs", "clean")

    # Polyglots, truncations, tiny files.
    put(b"poly/photo.jpg.zip", jpeg_zip_polyglot(), "JPEG + ZIP", "clean")
    put(b"poly/clip.png", png_mp4_polyglot(), "PNG + MP4", "clean")
    for fmt in TRUNCATABLE:
        put(b"cut/" + fmt.lower().encode() + b".img", truncated(fmt), f"truncated {fmt}", "error")
    # Two names an escaping writer could confuse: the raw byte 0xFF, and the text backslash-x-f-f.
    put(b"cut/odd\xffname.jpg", truncated("JPEG", 0.5), "truncated JPEG, raw 0xFF in its name", "error")
    put(b"cut/odd\\xffname.jpg", truncated("JPEG", 0.4), "truncated JPEG, a backslash in its name", "error")
    put(b"tiny/empty.jpg", b"", "zero bytes", "clean")
    put(b"tiny/one.jpg", b"\xff", "one byte", "clean")
    put(b"tiny/soi.jpg", b"\xff\xd8\xff", "a JPEG signature only", "error")

    # Hostile names, each holding a different small picture.
    for i, name in enumerate(_CLEAN_NAMES):
        put(b"names/" + name, encoded("JPEG", seed=100 + i, size=32), f"name {name!r}", "clean")

    # Special files: never opened.
    names = os.path.join(base, b"special")
    os.makedirs(names, exist_ok=True)
    fifo = os.path.join(names, b"fifo")
    os.mkfifo(fifo)
    planted.append(Planted(fifo, "FIFO", "skip"))
    planted.append(Planted(_unix_socket(names, b"socket"), "socket", "skip"))
    for link, target, kind in (
        (b"loop_a", b"loop_b", "symlink loop"),
        (b"loop_b", b"loop_a", "symlink loop"),
        (b"here", b".", "symlink to its own folder"),
        (b"outside.jpg", os.fsencode(outside / "listed.jpg"), "symlink to a listed photo outside the tree"),
    ):
        path = os.path.join(names, link)
        os.symlink(target, path)
        planted.append(Planted(path, kind, "skip"))
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "listed.jpg").write_bytes(photo)

    secret = put(b"locked/secret.jpg", encoded("JPEG", seed=3), "no read permission", "unreadable")
    os.chmod(secret, 0)
    return planted


def _unix_socket(folder: bytes, name: bytes) -> bytes:
    """Bind a Unix socket at ``folder/name`` (from inside ``folder``: socket paths are short) and close it."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.bind(name)
    finally:
        os.chdir(here)
    return os.path.join(folder, name)


def build_deep_tree(root: Path, photo: bytes, depth: int = 1_000) -> list[Planted]:
    """The listed ``photo`` at the top of ``root`` and a picture at the bottom of ``depth`` nested folders."""
    base = os.fsencode(root)
    os.makedirs(base, exist_ok=True)
    top = os.path.join(base, b"top.jpg")
    with open(top, "wb") as handle:
        handle.write(photo)
    # One folder at a time, relative to the last: the full path passes no single system call's limit.
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(b"d", dir_fd=fd)
            inner = os.open(b"d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open(b"bottom.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, encoded("JPEG", seed=5, size=16))
        os.close(leaf)
    finally:
        os.close(fd)
    bottom = os.path.join(base, *([b"d"] * depth), b"bottom.jpg")
    return [Planted(top, "the listed photo", "finding"), Planted(bottom, f"{depth} folders down", "clean")]


# -------------------------------------------------------------------------------------- before and after


def snapshot(root: Path) -> dict[bytes, tuple[object, ...]]:
    """Every entry under ``root`` (never following links): its type, size, mode, mtime and content hash
    (regular files that can be read), link target (symlinks). Equal snapshots: nothing changed."""
    import hashlib
    import stat

    out: dict[bytes, tuple[object, ...]] = {}
    stack = [os.fsencode(root)]
    while stack:  # iterative: the deep tree is deeper than Python's recursion limit
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                record: tuple[object, ...] = (stat.S_IFMT(st.st_mode), st.st_mode, st.st_size, st.st_mtime_ns)
                if entry.is_symlink():
                    record += (os.readlink(entry.path),)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False) and os.access(entry.path, os.R_OK):
                    with open(entry.path, "rb") as handle:
                        record += (hashlib.sha256(handle.read()).hexdigest(),)
                out[entry.path] = record
    return out


def remove_tree(root: Path) -> None:
    """Remove ``root`` and everything under it without recursion (``shutil.rmtree`` recurses once per
    folder and fails on the deep tree), making unreadable folders readable on the way."""

    top = os.fsencode(root)
    if not os.path.lexists(top):
        return
    stack = [top]
    while stack:
        folder = stack[-1]
        os.chmod(folder, 0o700)
        subfolders = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(entry.path)
                else:
                    os.unlink(entry.path)
        if subfolders:
            stack.extend(subfolders)
            continue
        os.rmdir(stack.pop())


# ----------------------------------------------------------------------------------------- measurements

#: (name, builder, whether decoding it unguarded is quick enough to time here)
MEASURED: list[tuple[str, Callable[[], bytes], bool]] = [
    ("JPEG 8000x8000, 80,000 scans (issue 6)", lambda: progressive_jpeg(8000, 8000, 80_000), False),
    ("JPEG 8000x8000, 20,000 scans (issue 6)", lambda: progressive_jpeg(8000, 8000, 20_000), False),
    ("JPEG 8000x8000, 2,000 scans", lambda: progressive_jpeg(8000, 8000, 2_000), True),
    ("JPEG 8000x8000, 300 refinement scans", lambda: progressive_jpeg(8000, 8000, 300, refine=True), True),
    ("JPEG 8000x8000, 770,000 arithmetic scans", lambda: progressive_jpeg(8000, 8000, 770_000, arithmetic=True), False),
    ("JPEG 2000x2000, 2,000 arithmetic scans", lambda: progressive_jpeg(2000, 2000, 2_000, arithmetic=True), True),
    ("JPEG, 1,000,000 comment segments", lambda: jpeg_with_segments(1_000_000), True),
    ("JPEG, 10 MB of stray bytes", lambda: jpeg_with_junk(10_000_000), True),
    ("PNG, 1,000,000 unknown chunks", lambda: png_chunk_flood(1_000_000), True),
    ("GIF, 100,000 frames", lambda: gif(100_000), True),
    ("GIF, 1,000,000 comment extensions", lambda: gif(1, extensions=1_000_000), True),
    ("TIFF, 100,000 pages", lambda: tiff(pages=100_000), True),
    ("TIFF, directory loop", lambda: tiff(pages=3, loop=True), True),
    ("TIFF 8000x8000, 250,000 tiles", lambda: tiff(8000, 8000, tile=16), True),
    ("WebP, 100,000 frames", lambda: webp(100_000), True),
    ("BMP 3000x3000, one-pixel runs", lambda: bmp_rle(3000, 3000), True),
    ("QOI 2000x2000, one byte a pixel", lambda: qoi(2000, 2000), True),
    ("PSD, 4,000,000 rows", lambda: psd_rows(4_000_000), True),
    # Just under each limit: the most a file that passes can cost.
    ("JPEG 8000x8000, 64 passes, refinement scans", lambda: progressive_jpeg(8000, 8000, 62, refine=True), True),
    ("JPEG 8000x8000, 64 passes, empty AC scans", lambda: progressive_jpeg(8000, 8000, 63), True),
    ("JPEG 8000x8000, 8 arithmetic passes", lambda: progressive_jpeg(8000, 8000, 6, True, True), True),
    ("PNG, 99,997 unknown chunks", lambda: png_chunk_flood(99_997), True),
    ("TIFF 5056x5056, 99,856 tiles", lambda: tiff(5056, 5056, tile=16), True),
    ("BMP 2040x2040, one-pixel runs (8.3 MB)", lambda: bmp_rle(2040, 2040), True),
    ("QOI 1448x1448, one byte a pixel (2.1 MB)", lambda: qoi(1448, 1448), True),
    ("PSD, 1,000,000 rows", lambda: psd_rows(1_000_000), True),
    ("GIF, 10,000 frames", lambda: gif(10_000), True),
]


def measure(decode_too: bool = True) -> None:
    """Print, for each crafted file, how long the decode-cost check takes to refuse it and (where that is
    quick enough) how long decoding it takes without the check. ``python tests/hostile.py``."""
    import time

    from libra_cli.errors import MediaError
    from libra_cli.media.budget import check_decode_budget
    from libra_cli.media.image import decode
    from libra_cli.media.sniff import sniff

    print(f"{'file':46} {'bytes':>11} {'refused in':>11}  {'decoding unguarded':>18}  reason")
    for name, build, quick in MEASURED:
        data = build()
        media_type = sniff(data) or ""
        best, reason = float("inf"), "passed"
        for _ in range(3):
            started = time.perf_counter()
            try:
                check_decode_budget(data, media_type, max_pixels=64_000_000)
            except MediaError as err:
                reason = str(err)
            best = min(best, time.perf_counter() - started)
        unguarded = "-"
        if decode_too and quick:
            started = time.perf_counter()
            with contextlib.suppress(MediaError):
                decode(data, max_pixels=64_000_000)
            unguarded = f"{time.perf_counter() - started:.2f} s"
        print(f"{name:46} {len(data):>11,} {best * 1000:>8.2f} ms  {unguarded:>18}  {reason[:60]}")


if __name__ == "__main__":
    import sys

    measure(decode_too="--no-decode" not in sys.argv)
