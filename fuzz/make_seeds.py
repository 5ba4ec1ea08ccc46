"""Write a seed corpus for ``fuzz_decode.py``: small valid files of every format libra decodes.

The seeds are generated (synthetic noise and flat grey, tests/hostile.py's crafted structures at tiny
sizes), never downloaded, and are not committed: make them when you fuzz.

    PYTHONPATH=src python fuzz/make_seeds.py fuzz/corpus
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import hostile  # a test helper: the crafted structures


def seeds() -> list[bytes]:
    """Each format Pillow writes, plus the crafted structures the decode-cost check walks."""
    found = [hostile.encoded(fmt, size=16) for fmt in hostile.TRUNCATABLE]
    found += [
        hostile.encoded("JPEG", size=16, progressive=True),
        hostile.encoded("PNG", size=16, optimize=True),
        hostile.encoded("TIFF", size=16, compression="tiff_lzw"),
        hostile.progressive_jpeg(16, 16, 3),
        hostile.progressive_jpeg(16, 16, 3, arithmetic=True, refine=True),
        hostile.baseline_jpeg(16, 16),
        hostile.apng(3),
        hostile.gif(3, extensions=1),
        hostile.tiff(pages=2),
        hostile.tiff(32, 32, tile=16),
        hostile.webp(3),
        hostile.bmp_rle(4, 4),
        hostile.psd_rows(4),
        hostile.qoi(4, 4),
        hostile.png_mp4_polyglot(),
    ]
    return found


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for data in seeds():
        (out / hashlib.sha1(data).hexdigest()).write_bytes(data)
    print(f"{len(seeds())} seeds in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus")
