"""Magic-byte recognition: by content, never by name; non-media is None."""

from __future__ import annotations

import pytest
from PIL import features

from imagegen import encode, jpeg, photo
from libra_cli.media.sniff import is_image, is_video, sniff

HEADERS = [
    (b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"GIF87a\x01\x00\x01\x00", "image/gif"),
    (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"BM\x36\x00\x0c\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00", "image/bmp"),
    (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
    (b"\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00\x20\x00\x68\x04\x00\x00\x16\x00\x00\x00", "image/x-icon"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
    (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", "image/avif"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image/avif"),
    (b"8BPS\x00\x01\x00\x00", "image/vnd.adobe.photoshop"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", "video/mp4"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "video/quicktime"),
    (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video/quicktime"),
    (b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x003gp4", "video/3gpp"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm", "video/webm"),
    (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
    (b"RIFF\x00\x10\x00\x00AVI LIST", "video/x-msvideo"),
    (b"FLV\x01\x05\x00\x00\x00\x09", "video/x-flv"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa", "video/x-ms-asf"),
    (b"\x00\x00\x01\xba\x44\x00\x04\x00", "video/mpeg"),
    (b"\x47\x40\x00\x10" + b"\xff" * 184 + b"\x47\x40\x00\x11" + b"\xff" * 184 + b"\x47" + b"\xff" * 10, "video/mp2t"),
    # M2TS / AVCHD (.mts from camcorders): 192-byte packets, a 4-byte timecode before each sync byte.
    ((b"\x00\x00\x00\x00\x47\x40\x00\x10" + b"\xff" * 184) * 3, "video/mp2t"),
    # Byte orders Pillow's TIFF plugin also opens (a swapped version word).
    (b"MM*\x00\x00\x00\x00\x08", "image/tiff"),
    (b"II\x00*\x08\x00\x00\x00", "image/tiff"),
    (b"\x00\x00\x00\x1cftypM4V \x00\x00\x00\x01M4V M4A mp42isom", "video/mp4"),
    (b"\x00\x00\x00\x1cftypmp41\x00\x00\x00\x00mp41isom", "video/mp4"),
    (b"\x00\x00\x00\x14ftyp3g2a\x00\x00\x00\x003g2a", "video/3gpp"),
    (b"\xff\xd8\xff\xdb\x00\x43\x00", "image/jpeg"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8L", "image/webp"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8X", "image/webp"),
]

NOT_MEDIA = [
    b"",
    b"\xff",
    b"hello world\n",
    b"BMW owners club minutes, 2024\n",  # starts with "BM" but is text
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
    b"PK\x03\x04\x14\x00\x00\x00",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",  # audio
    b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom",  # audio in an MP4 box
    b"\x00\x00\x00\x00" * 64,
    # Text whose bytes 4-8 spell a QuickTime atom name.
    b"The free software movement began in 1983.\n",
    b"Now skip to the next section.\n",
    b"How wide is the river?\n",
    b"Set mdat=1 in the config.\n",
]


@pytest.mark.parametrize(("head", "expected"), HEADERS, ids=[e for _, e in HEADERS])
def test_known_headers(head: bytes, expected: str) -> None:
    assert sniff(head + b"\x00" * 64) == expected


@pytest.mark.parametrize("data", NOT_MEDIA)
def test_not_media(data: bytes) -> None:
    assert sniff(data) is None


FORMATS = [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("BMP", "image/bmp"),
           ("TIFF", "image/tiff"), ("ICO", "image/x-icon"), ("WEBP", "image/webp")]
if features.check("avif"):
    FORMATS.append(("AVIF", "image/avif"))


@pytest.mark.parametrize(("fmt", "expected"), FORMATS)
def test_files_written_by_pillow(fmt: str, expected: str) -> None:
    assert sniff(encode(photo().resize((64, 48)), fmt)) == expected


def test_content_not_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    disguised = tmp_path / "notes.txt"
    disguised.write_bytes(jpeg())
    assert sniff(disguised.read_bytes()) == "image/jpeg"


def test_kind_helpers() -> None:
    assert is_image("image/png") and not is_image("video/mp4") and not is_image(None)
    assert is_video("video/webm") and not is_video("image/gif") and not is_video(None)


def test_dispatch_by_first_byte_answers_as_every_test_in_order() -> None:
    """``sniff`` only tries the prefixes and probes that the first byte allows; it must answer exactly as
    trying all of them in order does, for every known header, for every first byte, and for headers cut
    short (random tails after each prefix and probe-shaped start)."""
    import random

    from libra_cli.media.sniff import _PREFIXES, sniff_slow

    rng = random.Random(7)
    starts = [h for h, _ in HEADERS] + [p for p, _ in _PREFIXES]
    starts += [b"RIFF", b"BM", b"\x1a\x45\xdf\xa3", b"\x00\x00\x01\x00", b"G", b"\x00\x00\x00\x00G"]
    cases = [b""]
    for start in starts:
        for cut in range(len(start) + 1):
            cases.append(start[:cut])
            cases.append(start[:cut] + rng.randbytes(rng.randrange(0, 600)))
    for first in range(256):
        for _ in range(20):
            cases.append(bytes([first]) + rng.randbytes(rng.randrange(0, 600)))
    ts = bytearray(rng.randbytes(600))
    ts[0] = ts[188] = ts[376] = 0x47
    cases.append(bytes(ts))
    recognised = 0
    for case in cases:
        assert sniff(case) == sniff_slow(case), case[:24]
        recognised += sniff_slow(case) is not None
    assert recognised > len(HEADERS)  # the comparison covered real answers, not only None
