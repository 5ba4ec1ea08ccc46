"""List-side robust PDQ variants (``libra hash --robust``): extra hashes that catch common edits.

Placeholder; the design is measured in bench/bench_recall.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from PIL import Image

from ..models import PerceptualHash
from .pdq import pdq_hex


def variants(img: Image.Image) -> Iterator[tuple[str, Image.Image]]:
    """(variant name, image) pairs, the original excluded."""
    w, h = img.size
    for pct in (5,):
        dx, dy = w * pct // 100, h * pct // 100
        yield f"crop{pct}-center", img.crop((dx, dy, w - dx, h - dy))


def robust_hashes(img: Image.Image) -> list[PerceptualHash]:
    """PDQ of every robust variant of ``img``."""
    out = []
    for name, variant in variants(img):
        value, quality = pdq_hex(variant)
        out.append(PerceptualHash("pdq", value, quality, variant=name))
    return out
