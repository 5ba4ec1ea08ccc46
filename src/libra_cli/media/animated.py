"""Hash every distinct frame of an animated GIF, WebP or PNG (APNG), with its time, in memory.

A still's hash covers its first frame only, so a benign first frame could hide listed frames after it.
Animations are small and Pillow decodes every frame anyway (GIF and APNG frames are drawn over the
previous ones), so every frame is hashed rather than one per second: a listed frame shown for a few
milliseconds is still seen. Consecutive frames within ``SampleOptions.dedup_distance`` of the last kept
one are dropped, as for videos; ``max_frames`` and the time budget bound hostile files of thousands of
frames. Times are each frame's start, from the frame durations the file declares.

>>> frames = animated_frames(gif_bytes)  # doctest: +SKIP
>>> frames.times, frames.pdq.shape  # doctest: +SKIP
(array([0. , 0.5, 1. ]), (3, 32))
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import BinaryIO

from PIL import Image

from ..errors import MediaError
from ..textsafe import printable
from .budget import check_decode_budget
from .video import Collector, FrameHashes, SampleOptions, no_frames

#: Pillow plugins that read animations, by the media type ``media.sniff`` gives.
PLUGINS: dict[str, tuple[str, ...]] = {"image/gif": ("GIF",), "image/webp": ("WEBP",), "image/png": ("PNG",)}


def _grey(frame: Image.Image) -> Image.Image:
    if frame.mode in ("P", "PA") and "transparency" in frame.info:
        frame = frame.convert("RGBA")
    return frame.convert("L")


def animated_frames(
    source: bytes | BinaryIO,
    media_type: str | None = None,
    options: SampleOptions | None = None,
    *,
    max_pixels: int = 64_000_000,
    clock: Callable[[], float] = time.monotonic,
) -> FrameHashes | None:
    """Every distinct frame of an animation, or ``None`` when ``source`` holds a single frame (then the
    still path's hash is the whole story). Never raises for a bad file: problems are ``error``."""
    options = options or SampleOptions()
    if isinstance(source, bytes | bytearray) and media_type in PLUGINS:
        try:  # the still path's structure budget (frame and block counts), before any frame is decoded
            check_decode_budget(bytes(source), media_type, max_pixels=max_pixels)
        except MediaError as err:
            return _failed(str(err))
    stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    formats = PLUGINS.get(media_type or "", ("GIF", "WEBP", "PNG"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            img = Image.open(stream, formats=formats)
        except Exception as err:  # Pillow fails in many ways on hostile bytes
            return _failed(f"the animation cannot be opened ({_plain(err)})")
        with img:
            width, height = img.size
            if width * height > max_pixels:
                return _failed(
                    f"the animation has {width}x{height} frames, more than the {max_pixels}-pixel limit"
                    " (decompression bomb guard)",
                    width,
                    height,
                )
            try:
                if not getattr(img, "is_animated", False):
                    return None
            except Exception as err:
                return _failed(f"the animation cannot be read ({_plain(err)})", width, height)
            return _hash_frames(img, options, clock, width, height)


def _hash_frames(
    img: Image.Image,
    options: SampleOptions,
    clock: Callable[[], float],
    width: int,
    height: int,
) -> FrameHashes:
    durations: list[float] = []
    collector = Collector(replace(options, fps=0.0), None, clock)
    error: str | None = None
    start = 0.0
    index = 0
    while not collector.expired():
        try:
            img.seek(index)
            grey = _grey(img)
        except EOFError:
            break  # the last frame was the end
        except Exception as err:  # counting frames reads them all, so damage shows up here, frame by frame
            error = f"the animation cannot be decoded past frame {index} ({_plain(err)})"
            break
        index += 1
        collector.add(start, grey)
        if collector.stopped is not None:
            break
        declared = img.info.get("duration")
        seconds = float(declared) / 1000 if isinstance(declared, int | float) and declared > 0 else 0.0
        durations.append(seconds)
        start += seconds  # frames declared with no duration share the next frame's time
    collector.duration = start if durations else None
    return collector.result(width=width, height=height, error=error, decoded=len(durations))


def _failed(error: str, width: int | None = None, height: int | None = None) -> FrameHashes:
    return no_frames(error, width=width, height=height)


def _plain(err: BaseException) -> str:
    text = printable(" ".join(str(err).split()))[:160].rstrip(".")
    return text or type(err).__name__
