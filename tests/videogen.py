"""Real, small test videos made at run time from the benign sample photos, entirely in memory.

Every clip is a slow pan (with a gentle zoom) across one photo, defined as a function of time, so a clip
can be re-made at any frame rate, size, speed or length and stay the same picture at the same moment:
that is what lets a test say "the 15 fps copy" or "the copy trimmed to 2-8 s" and mean it. Encoding
uses PyAV (FFmpeg) encoders into ``io.BytesIO``; nothing is written to disk and nothing is downloaded.

>>> data = clip("coffee", seconds=2, container="mp4")  # doctest: +SKIP
>>> data[4:8]  # doctest: +SKIP
b'ftyp'
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

PHOTOS = Path(__file__).resolve().parent / "data" / "photos"
PHOTO_NAMES = tuple(sorted(p.stem for p in PHOTOS.glob("*.jpg")))

RGB = npt.NDArray[np.uint8]
#: A frame source: time in seconds -> RGB frame (height x width x 3).
Painter = Callable[[float], RGB]


@cache
def _photo(name: str) -> Image.Image:
    img = Image.open(PHOTOS / f"{name}.jpg").convert("RGB")
    img.load()
    return img


def pan(name: str, size: tuple[int, int], *, speed: float = 0.025, zoom: float = 0.004) -> Painter:
    """A slow pan across photo ``name``: the view moves ``speed`` of the photo's width per second
    (bouncing at the edges) and zooms in by ``zoom`` per second, rendered at ``size`` (width, height)."""
    img = _photo(name)
    width, height = img.size
    aspect = size[0] / size[1]

    def paint(t: float) -> RGB:
        scale = 0.62 / (1.0 + zoom * t)
        view_h = min(height, width / aspect) * scale
        view_w = view_h * aspect
        travel_x, travel_y = width - view_w, height - view_h
        phase = (speed * width * t) / max(travel_x, 1.0)
        fx = 1.0 - abs((phase % 2.0) - 1.0)  # 0 -> 1 -> 0: ping-pong along x
        fy = 0.5 + 0.4 * math.sin(0.11 * t)
        x0, y0 = fx * travel_x, fy * travel_y
        frame = img.resize(size, Image.Resampling.BILINEAR, box=(x0, y0, x0 + view_w, y0 + view_h))
        return np.asarray(frame)

    return paint


def still(name: str, size: tuple[int, int]) -> Painter:
    """Photo ``name`` shown whole and unmoving, scaled to fill ``size`` (as an editor drops a still into a clip)."""
    frame = np.asarray(_photo(name).resize(size, Image.Resampling.BILINEAR))
    return lambda t: frame


def spliced(parts: list[tuple[float, Painter]]) -> Painter:
    """Painters one after another: ``parts`` are (duration, painter); each painter sees its own local time."""

    def paint(t: float) -> RGB:
        start = 0.0
        for duration, painter in parts:
            if t < start + duration:
                return painter(t - start)
            start += duration
        return parts[-1][1](t - start + parts[-1][0])

    return paint


def watermarked(painter: Painter, *, corner: str = "br", box: tuple[float, float] = (0.33, 0.25)) -> Painter:
    """``painter`` with an opaque watermark box (white, with dark lettering-like bars) in one corner,
    ``box`` = (width, height) as fractions of the frame."""

    def paint(t: float) -> RGB:
        frame = Image.fromarray(painter(t))
        w, h = frame.size
        bw, bh = int(w * box[0]), int(h * box[1])
        x0 = w - bw if "r" in corner else 0
        y0 = h - bh if "b" in corner else 0
        draw = ImageDraw.Draw(frame)
        draw.rectangle((x0, y0, x0 + bw - 1, y0 + bh - 1), fill=(235, 235, 235))
        for i in range(4):  # "lettering": a few dark bars, so the box has structure of its own
            bx = x0 + bw // 10 + i * bw // 5
            draw.rectangle((bx, y0 + bh // 3, bx + bw // 8, y0 + 2 * bh // 3), fill=(40, 40, 90))
        return np.asarray(frame)

    return paint


@dataclass(frozen=True)
class Spec:
    """How to encode: container (FFmpeg muxer name), codec, size, frame rate, keyframe spacing, options."""

    container: str = "mp4"
    codec: str = "libx264"
    size: tuple[int, int] = (192, 144)
    fps: float = 12.0
    gop: int | None = None  #: keyframe spacing in frames (None: the encoder's default)
    pix_fmt: str = "yuv420p"
    options: tuple[tuple[str, str], ...] = (("preset", "ultrafast"), ("threads", "1"))
    bit_rate: int | None = None
    audio: bool = False
    rotation: int | None = None  #: display-matrix rotation in degrees (counter-clockwise), if any


#: One spec per container libra must read: H.264 where the container takes it, the container's own
#: classic codec where that is more typical (FLV's Sorenson H.263, 3GP's H.263, WMV's wmv2).
CONTAINERS: dict[str, Spec] = {
    "mp4": Spec("mp4", "libx264"),
    "mov": Spec("mov", "libx264"),
    "mkv": Spec("matroska", "libx264"),
    "webm-vp8": Spec("webm", "libvpx", options=(("deadline", "realtime"), ("cpu-used", "16"), ("threads", "1"))),
    "webm-vp9": Spec("webm", "libvpx-vp9", options=(("deadline", "realtime"), ("cpu-used", "8"), ("threads", "1"))),
    "avi": Spec("avi", "mpeg4", options=()),
    "flv": Spec("flv", "flv", options=()),
    "mpegts": Spec("mpegts", "mpeg2video", options=()),
    "3gp": Spec("3gp", "h263", size=(176, 144), options=()),
    "asf": Spec("asf", "wmv2", options=()),
    "mp4-mpeg4": Spec("mp4", "mpeg4", options=()),
}


def _frame(rgb: RGB, pix_fmt: str) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.reformat(format=pix_fmt) if pix_fmt != "rgb24" else frame


def encode(
    painter: Painter, spec: Spec, *, seconds: float | None = None, times: Iterable[float] | None = None
) -> bytes:
    """Encode ``painter`` per ``spec``: at a constant ``spec.fps`` for ``seconds``, or at the given frame
    ``times`` (variable frame rate; the stream then keeps millisecond timestamps)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=spec.container) as out:
        variable = times is not None
        rate = Fraction(spec.fps).limit_denominator(1001)
        stream = out.add_stream(spec.codec, rate=rate)
        stream.width, stream.height = spec.size
        stream.pix_fmt = spec.pix_fmt
        if spec.gop is not None:
            stream.codec_context.gop_size = spec.gop
        if spec.bit_rate is not None:
            stream.bit_rate = spec.bit_rate
        if variable:
            stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = dict(spec.options)
        if spec.rotation is not None:
            stream.set_display_rotation(spec.rotation)
        audio = (
            out.add_stream("aac" if spec.container in ("mp4", "mov", "matroska") else "mp2", rate=22050)
            if spec.audio
            else None
        )
        if times is None:
            assert seconds is not None
            count = max(1, round(seconds * spec.fps))
            times = [i / spec.fps for i in range(count)]
        last = 0.0
        for i, t in enumerate(times):
            frame = _frame(painter(t), spec.pix_fmt)
            frame.pts = round(t * 1000) if variable else i
            last = t
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
        if audio is not None:
            _tone(out, audio, last + 1.0 / spec.fps)
    return buffer.getvalue()


def _tone(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    rate = 22050
    codec = stream.codec_context
    size = codec.frame_size or 1024
    samples = np.sin(np.arange(int(seconds * rate)) * (2 * math.pi * 440 / rate)).astype(np.float32) * 0.2
    layout_format = codec.format.name if codec.format is not None else "fltp"
    for start in range(0, len(samples) - size + 1, size):
        chunk = samples[start : start + size]
        data = (chunk * 32767).astype(np.int16)[None, :] if layout_format.startswith("s16") else chunk[None, :]
        frame = av.AudioFrame.from_ndarray(data, format=layout_format, layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode())


def audio_only(seconds: float = 2.0, container: str = "mp4") -> bytes:
    """An audio-only file (a sine tone): a container with no video stream."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream("aac" if container in ("mp4", "mov", "matroska", "3gp") else "mp2", rate=22050)
        _tone(out, stream, seconds)
    return buffer.getvalue()


def clip(
    name: str = "coffee", *, seconds: float = 3.0, kind: str = "mp4", painter: Painter | None = None, **changes: object
) -> bytes:
    """A pan across photo ``name`` in the container ``kind`` (a key of ``CONTAINERS``), with ``changes``
    applied to its ``Spec`` (``size=``, ``fps=``, ``gop=``, ...)."""
    spec = replace(CONTAINERS[kind], **changes)  # type: ignore[arg-type]
    return encode(painter or pan(name, spec.size), spec, seconds=seconds)


# --- Decoding a clip back (for re-encoding edits) -----------------------------------------------------


def decoded(data: bytes) -> Iterator[tuple[float, RGB]]:
    """(time, RGB frame) of every frame of ``data``."""
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(video=0):
            yield float(frame.time or 0.0), frame.to_ndarray(format="rgb24")


def transcode(data: bytes, spec: Spec) -> bytes:
    """Decode ``data`` and encode it again per ``spec`` (a real re-encode: generation loss included)."""
    frames = list(decoded(data))
    lookup = {round(t, 6): rgb for t, rgb in frames}
    times = [t for t, _ in frames]

    def paint(t: float) -> RGB:
        rgb = lookup[round(t, 6)]
        if rgb.shape[1::-1] != spec.size:
            rgb = np.asarray(Image.fromarray(rgb).resize(spec.size, Image.Resampling.BILINEAR))
        return rgb

    return encode(paint, spec, times=times)


# --- Hostile files --------------------------------------------------------------------------------------


def truncated(data: bytes, fraction: float = 0.6) -> bytes:
    """The first ``fraction`` of ``data``: an interrupted upload."""
    return data[: int(len(data) * fraction)]


def header_then_garbage(data: bytes, keep: int, seed: int = 7) -> bytes:
    """The first ``keep`` bytes of a real video (its container header) followed by random bytes."""
    rng = np.random.default_rng(seed)
    return data[:keep] + rng.integers(0, 256, size=max(len(data) - keep, 4096), dtype=np.uint8).tobytes()


def huge_raw_avi(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny AVI of uncompressed video whose headers declare ``width`` x ``height`` pixels
    (a decompression bomb: each frame would need width x height x 1.5 bytes)."""
    data = bytearray(
        encode(lambda t: np.zeros((16, 16, 3), np.uint8), Spec("avi", "rawvideo", size=(16, 16)), seconds=0.5)
    )
    for tag in (b"avih", b"strf"):
        at = data.find(tag)
        assert at >= 0, tag
        # avih: 8 header bytes, then 8 dwords; width and height are the 9th and 10th (offset 40, 44 from tag).
        # strf (BITMAPINFOHEADER): biSize, then biWidth, biHeight (offset 12 and 16 from tag).
        offset = at + (40 if tag == b"avih" else 12)
        struct.pack_into("<ii", data, offset, width, height)
    return bytes(data)


# --- Animated images --------------------------------------------------------------------------------


def animated(frames: list[tuple[Image.Image, int]], fmt: str = "GIF") -> bytes:
    """An animated GIF / WebP / PNG (APNG) of ``frames`` = (image, duration in ms)."""
    buffer = io.BytesIO()
    images = [img.convert("RGB") for img, _ in frames]
    images[0].save(
        buffer,
        fmt,
        save_all=True,
        append_images=images[1:],
        duration=[ms for _, ms in frames],
        loop=0,
        **({"lossless": False, "quality": 80} if fmt == "WEBP" else {}),
    )
    return buffer.getvalue()


def photo_frame(name: str, size: tuple[int, int] = (192, 144)) -> Image.Image:
    """Photo ``name`` scaled to ``size`` (what ``still`` paints)."""
    return Image.fromarray(still(name, size)(0.0))


def photo(name: str) -> Image.Image:
    """Photo ``name`` as the file holds it (RGB): what a list of stills would have hashed."""
    return _photo(name).copy()
