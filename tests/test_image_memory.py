"""High-bit-depth images are converted to grey in bounded memory (a hostile 16-bit PNG is tiny on disk)."""

from __future__ import annotations

import tracemalloc

import numpy as np
from PIL import Image

from libra_cli.media.image import _to_grey


def test_16bit_to_grey_is_exact_and_lean() -> None:
    side = 3000
    arr = (np.arange(side * side, dtype=np.uint32) % 65536).astype(np.uint16).reshape(side, side)
    img = Image.fromarray(arr)
    assert img.mode == "I;16"
    tracemalloc.start()
    grey = _to_grey(img)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    expected = np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8)
    assert grey.mode == "L" and np.array_equal(np.asarray(grey), expected)
    assert peak < 3 * side * side  # output (1 byte/pixel) plus a small block; a float copy would be 8+
