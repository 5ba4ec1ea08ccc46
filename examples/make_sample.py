"""Regenerate the benign demo tree ``examples/sample/`` from the sample photos in ``tests/data/photos/``.

Run from the repository root: ``python examples/make_sample.py``. The photos are public domain / CC0
(see ``examples/sample/LICENSES.md``). The tree mixes files the demo list knows (exact copies and
edited variants of listed photos) with unrelated photos and non-media files, so a demo scan shows
every kind of result. Deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageOps

PHOTOS = Path("tests/data/photos")
OUT = Path("examples/sample")


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    for sub in ("uploads/alice", "uploads/bob/2026", "uploads/carol", "uploads/dave"):
        (OUT / sub).mkdir(parents=True)
    shutil.copy(PHOTOS / "LICENSES.md", OUT / "LICENSES.md")
    # Listed photos, as uploaded: an exact copy, a renamed copy, edited variants.
    shutil.copy(PHOTOS / "chelsea.jpg", OUT / "uploads/alice/IMG_2041.jpg")  # exact copy
    shutil.copy(PHOTOS / "coffee.jpg", OUT / "uploads/bob/notes.txt")  # a JPEG named .txt
    rocket = Image.open(PHOTOS / "rocket.jpg")
    rocket.resize((rocket.width // 2, rocket.height // 2), Image.Resampling.LANCZOS).save(
        OUT / "uploads/bob/2026/launch_small.jpg", quality=70
    )  # resized + re-encoded
    ImageOps.mirror(Image.open(PHOTOS / "chelsea.jpg")).save(OUT / "uploads/carol/cat_flipped.png")  # mirrored PNG
    # Unrelated photos and other files: must not match.
    shutil.copy(PHOTOS / "moon.jpg", OUT / "uploads/carol/moon.jpg")
    coins = Image.open(PHOTOS / "coins.jpg")
    coins.resize((coins.width // 2, coins.height // 2)).save(OUT / "uploads/dave/coins.webp", quality=80)
    shutil.copy(PHOTOS / "brick.jpg", OUT / "uploads/dave/wall.jpeg")
    (OUT / "uploads/dave/readme.txt").write_text("Not an image: exact digests only.\n", encoding="utf-8")
    (OUT / "uploads/alice/broken.jpg").write_bytes((PHOTOS / "grass.jpg").read_bytes()[:2000])  # truncated


if __name__ == "__main__":
    main()
