"""Coverage-guided fuzzing (atheris) of what a scan does with a stranger's bytes before any hash.

Each input goes through the sniffer (``media/sniff.py``), the decode-cost check (``media/budget.py``,
with every media type it knows, not only the sniffed one) and, when the sniffer calls it an image, the
decoder (``media/image.py``). The contract under test: ``sniff`` never raises, and the other two raise
nothing but ``MediaError``. Anything else is a crash, which libFuzzer saves as ``crash-<sha1>``.

    PYTHONPATH=src python fuzz/fuzz_decode.py -atheris_runs=200000 fuzz/corpus   # see fuzz/README.md

atheris instruments Python code only (libra and Pillow's Python plugins): the native decoders Pillow
calls (libjpeg-turbo, libpng/zlib, libwebp, libtiff, OpenJPEG) are reached but not instrumented, so
coverage guidance stops at their door.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

#: Small limits keep each run fast; the checks under test are the same at any limit.
MAX_PIXELS = 1_000_000

#: Pillow's plugins for the formats libra decodes: their header parsing is Python, so it is instrumented
#: too. The other plugins are left alone: libra never lets them open a file, and instrumenting them all
#: triples the start-up time.
PILLOW_PARSERS = {
    f"PIL.{name}ImagePlugin"
    for name in ("Jpeg", "Mpo", "Png", "Gif", "WebP", "Bmp", "Tiff", "Ico", "Cur", "Psd", "Jpeg2K", "Qoi", "Avif")
}

_media: dict[str, Any] = {}


def load() -> None:
    """Import what is fuzzed (inside ``atheris.instrument_imports`` when fuzzing, plainly when replaying)."""
    from PIL import Image

    from libra_cli.errors import MediaError
    from libra_cli.media import budget, image, sniff

    Image.init()  # Pillow's plugins are imported here, so they are instrumented too
    _media.update(MediaError=MediaError, budget=budget, image=image, sniff=sniff)


def one_input(data: bytes) -> None:
    """The fuzz target: raises only for a real bug."""
    if not _media:
        load()
    error: type[Exception] = _media["MediaError"]
    check: Callable[..., None] = _media["budget"].check_decode_budget
    media_type = _media["sniff"].sniff(data)
    for claimed in _media["budget"].CHECKED_TYPES:
        with contextlib.suppress(error):
            check(data, claimed, max_pixels=MAX_PIXELS)
    if media_type is None or not media_type.startswith("image/"):
        return
    try:
        check(data, media_type, max_pixels=MAX_PIXELS)
        _media["image"].decode(data, max_pixels=MAX_PIXELS)
    except error:
        pass


def main() -> None:
    import atheris
    import PIL

    if os.environ.get("LIBRA_FUZZ_PILLOW", "1") == "0":  # the test suite's short run: libra only, fast start
        packages, others = ["libra_cli"], []
    else:
        packages = ["libra_cli", "PIL"]
        others = [f"PIL.{name}" for name in PIL._plugins if f"PIL.{name}" not in PILLOW_PARSERS]
    with atheris.instrument_imports(include=packages, exclude=others):
        load()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
