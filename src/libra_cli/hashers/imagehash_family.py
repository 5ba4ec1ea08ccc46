"""pHash and dHash (64 bits each) via ``imagehash``: cheap, and common in older lists and tools.

Both shrink the image to a few dozen pixels a side, so they get the grey image from
``media.image.decode`` and agree with ``imagehash`` run on the full-size file to within a bit or two.

>>> from libra_cli.hashers.samples import shapes
>>> len(PHASH.hash_image(shapes())[0].value)
16
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import imagehash
from PIL import Image

from ..models import PerceptualHash
from .base import Example, PerceptualHasher, register
from .samples import SAMPLES

#: Short side images are box-reduced to first: four times phash's 32 pixels, so imagehash's Lanczos
#: resize has little left to do (it dominated the cost) and the hash barely moves.
SHRINK_SIDE = 128


def _shrink(img: Image.Image) -> Image.Image:
    factor = min(img.size) // SHRINK_SIDE
    return img.reduce(factor) if factor >= 2 else img


class _ImageHash(PerceptualHasher):
    def __init__(self, name: str, function: Callable[[Image.Image], Any], vectors: dict[str, str]) -> None:
        self.name = name  # type: ignore[misc]  # one class serves both functions
        self._function = function
        self._vectors = vectors

    def hash_image(self, img: Image.Image) -> list[PerceptualHash]:
        return [PerceptualHash(self.name, str(self._function(_shrink(img))))]

    def examples(self) -> Sequence[Example]:
        return [Example(label, SAMPLES[label], value) for label, value in self._vectors.items()]


PHASH = register(_ImageHash("phash", imagehash.phash, {"mandelbrot": "8500920062004c00", "shapes": "b707953f48684f68"}))
DHASH = register(_ImageHash("dhash", imagehash.dhash, {"mandelbrot": "ecd8f2c3c3f2d8ec", "shapes": "ecececb0183818b0"}))
