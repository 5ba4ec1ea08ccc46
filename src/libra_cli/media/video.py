"""Sample a video's frames from a seekable stream and PDQ-hash them in memory: nothing is written, ever.

Re-encoding changes every byte of a video, so only hashes of its pictures find a re-uploaded copy. This
module reads a video from a binary file object (a local file or a bucket's ranged-read stream, the
storage backend decides) through PyAV (FFmpeg), takes one frame per second plus the first frame (the
vPDQ convention), and returns each frame's PDQ hash as raw bytes with its quality and time.

Why it is fast (``bench/bench_video.py``, ``docs/video.md``): a frame is decoded only if a sampled frame
depends on it. Packets are read ahead until either the next sample time is reached (then everything
since the last keyframe is decoded) or a new keyframe arrives first (then the tail of the previous
group of pictures is skipped undecoded). Non-reference frames (most B-frames) are skipped by the
decoder (``skip_frame=NONREF``): no other frame needs them, and the next reference frame, a frame
or two later, serves as the sample. Only sampled frames are touched in Python, as their luma plane,
box-reduced like stills (short side >= 512) and range-expanded to full-range grey before PDQ. Each kept
frame also gets four region-masked PDQ variants (``REGIONS``) for the video matching rule
(``match.video``): an overlay in one band of the frame does not change that band's variant.

Guards, each one plain sentence in ``FrameHashes.error`` (frames that could be read are kept): an
empty file, a header that does not open, a declared frame size over the pixel limit (refused before
any frame is decoded, and FFmpeg's own ``max_pixels`` set as a second fence), packets that do not
decode, frames that stop before the declared duration (truncated), and a file whose packets cover
less than half its bytes (a valid header followed by garbage is never silently "clean"). A video
with no video stream (audio only) is not an error: it has no frames. A time budget per minute of
video (with a floor and a hard cap) and ``max_frames`` stop long videos with the frames so far and a
reason in ``FrameHashes.stopped``.

>>> with open("clip.mp4", "rb") as stream:  # doctest: +SKIP
...     frames = sample_video(stream, "video/mp4")
>>> frames.pdq.shape, frames.times[:3]  # doctest: +SKIP
((13, 32), array([0., 1., 2.]))
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, BinaryIO

import av
import av.error
import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from ..hashers.pdq import pdq_hex
from ..models import HashConfig, HashValues
from ..textsafe import printable

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]

#: FFmpeg demuxer for each media type ``media.sniff`` recognises. Only these are ever used: a file is never
#: handed to FFmpeg's format probing, so playlist and concat demuxers (which open other files) never run.
DEMUXERS: dict[str, str] = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/3gpp": "mov",
    "video/webm": "matroska",
    "video/x-matroska": "matroska",
    "video/x-msvideo": "avi",
    "video/x-flv": "flv",
    "video/x-ms-asf": "asf",
    "video/mpeg": "mpeg",
    "video/mp2t": "mpegts",
}
_ELEMENTARY_MPEG = b"\x00\x00\x01\xb3"  # a bare MPEG-1/2 video stream, not a program stream

#: Decode stills of this short side or more (PDQ's reference size), as ``media.image`` does.
MIN_SIDE = 512
#: A sample whose time lands this far past its target (in sample intervals) while non-reference frames are
#: skipped means the stream marks nearly every frame non-reference: decoding falls back to every frame.
_OVERSHOOT = 0.5
#: Packets read ahead (not yet decoded) are decoded anyway beyond this many bytes, to bound memory.
_MAX_PENDING_BYTES = 64 << 20
#: More than this share of the file after the end of its last packet (and more than ``_MIN_TAIL`` bytes) is
#: data no demuxer understood: a valid header followed by garbage. Indexes at the end (MP4 ``moov``, AVI
#: ``idx1``, Matroska cues) are a few bytes per frame, far below it.
MAX_TAIL_SHARE = 0.5
_MIN_TAIL = 4096
#: Demuxers whose packets carry nearly all of a file (little padding, unlike MPEG-TS, AVI and ASF): for these,
#: packets covering less than ``MIN_PACKET_SHARE`` of a file of ``_SHARE_MIN_SIZE`` bytes or more is damage.
_DENSE = frozenset({"mov", "matroska", "flv"})
MIN_PACKET_SHARE = 0.5
_SHARE_MIN_SIZE = 64 << 10
#: Frames stopping this much (seconds, or share of the duration if larger) before the declared end: truncated.
_TRUNCATION_SLACK = 1.0
_TRUNCATION_SHARE = 0.05
#: Consecutive packets that fail to decode before the rest of the file is given up.
_MAX_BAD_RUN = 50

# Limited-range ("TV") luma 16..235 stretched to 0..255: what a YUV->RGB conversion does before PDQ's luma.
_EXPAND = [min(255, max(0, round((v - 16) * 255 / 219))) for v in range(256)]
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
_LUMA_FORMATS = frozenset(
    {
        "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
        "yuv411p", "yuv410p", "yuva420p", "yuva422p", "yuva444p", "nv12", "nv21", "nv16", "nv24", "gray",
    }
)  # fmt: skip
# Display-matrix rotation (degrees counter-clockwise, as FFmpeg reports it) -> the transpose that shows it.
_ROTATE = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    -180: Image.Transpose.ROTATE_180,
    -90: Image.Transpose.ROTATE_270,
    270: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class SampleOptions:
    """How to sample. Frozen and picklable (it travels to worker processes with the hash config).

    The time budget is ``budget_per_minute`` seconds per minute of declared duration, at least
    ``budget_floor`` and at most ``budget_cap`` (the cap alone when the duration is unknown): a two-hour
    film gets more time than a clip, and no file gets unbounded time.
    """

    fps: float = 1.0  #: samples per second of video, after the first frame
    max_frames: int = 7_200  #: kept (deduplicated) frames at most
    budget_per_minute: float = 15.0
    budget_floor: float = 10.0
    budget_cap: float = 300.0
    max_pixels: int = 36_000_000  #: per frame (8K is 35.4 MP); larger declared sizes are refused
    dedup_distance: int = 10  #: a sample within this PDQ distance of the last kept one is dropped (encoder noise)
    threads: int = 1  #: decoder threads (1: workers already use every core)
    regions: bool = True  #: also compute the region-masked variants (``REGIONS``) of each kept frame

    def budget(self, duration: float | None) -> float:
        """Seconds of decoding this options allow for a video of ``duration`` seconds."""
        if duration is None or not math.isfinite(duration) or duration <= 0:
            return self.budget_cap
        return min(self.budget_cap, max(self.budget_floor, self.budget_per_minute * duration / 60.0))


@dataclass(frozen=True)
class FrameHashes:
    """Per-frame PDQ of one video or animation: ``pdq`` is ``(k, 32)`` uint8 (raw hash bytes), ``quality``
    ``(k,)`` uint8 (0-100), ``times`` ``(k,)`` float64 seconds from the first frame, in time order.

    ``error`` is one sentence when the file is damaged, truncated or refused (frames read before the damage
    are kept); ``stopped`` is one sentence when the time budget or ``max_frames`` ended sampling early.
    ``has_video`` is False for files with no picture stream (audio only): no frames, and no error.
    ``regions`` is ``(k, len(REGIONS), 32)`` and ``region_quality`` ``(k, len(REGIONS))`` (or empty when
    ``SampleOptions.regions`` is off): the region-masked variants the video matching rule compares.
    """

    pdq: U8
    quality: U8
    times: F64
    regions: U8 = field(default_factory=lambda: np.zeros((0, len(REGIONS), 32), np.uint8))
    region_quality: U8 = field(default_factory=lambda: np.zeros((0, len(REGIONS)), np.uint8))
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    error: str | None = None
    stopped: str | None = None
    has_video: bool = True
    decoded: int = 0  #: frames the decoder produced (diagnostics: how much was skipped)

    def __len__(self) -> int:
        return len(self.times)

    def hex(self) -> list[str]:
        """The hashes as lowercase hex (for output only: inside libra they stay bytes)."""
        return [bytes(row).hex() for row in self.pdq]

    def to_plain(self) -> dict[str, Any]:
        """Plain data (bytes, ints, floats, strings) to cross a process boundary as msgpack."""
        return {
            "pdq": self.pdq.tobytes(),
            "quality": self.quality.tobytes(),
            "times": self.times.astype("<f8").tobytes(),
            "regions": self.regions.tobytes(),
            "region_quality": self.region_quality.tobytes(),
            "width": self.width,
            "height": self.height,
            "duration": self.duration,
            "error": self.error,
            "stopped": self.stopped,
            "has_video": self.has_video,
            "decoded": self.decoded,
        }

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> FrameHashes:
        """The inverse of ``to_plain``."""
        pdq = np.frombuffer(plain["pdq"], dtype=np.uint8).reshape(-1, 32).copy()
        count = len(REGIONS)
        return cls(
            pdq=pdq,
            quality=np.frombuffer(plain["quality"], dtype=np.uint8).copy(),
            times=np.frombuffer(plain["times"], dtype="<f8").astype(np.float64),
            regions=np.frombuffer(plain.get("regions", b""), dtype=np.uint8).reshape(-1, count, 32).copy(),
            region_quality=np.frombuffer(plain.get("region_quality", b""), dtype=np.uint8).reshape(-1, count).copy(),
            width=plain.get("width"),
            height=plain.get("height"),
            duration=plain.get("duration"),
            error=plain.get("error"),
            stopped=plain.get("stopped"),
            has_video=bool(plain.get("has_video", True)),
            decoded=int(plain.get("decoded", 0)),
        )


def sample_options(config: HashConfig) -> SampleOptions:
    """The sampling a worker's ``HashConfig`` asks for (its frame rate, frame cap and pixel limit)."""
    defaults = SampleOptions()
    return SampleOptions(
        fps=config.video_fps, max_frames=config.max_frames, max_pixels=min(config.max_pixels, defaults.max_pixels)
    )


def hash_values(frames: FrameHashes, types: tuple[str, ...]) -> tuple[HashValues, ...]:
    """``frames`` as the worker's ``HashValues``, one per requested PDQ-family type (``pdq``, ``vpdq``).

    Rows: every kept frame's full hash (transform ``original``), then each ``REGIONS`` variant of every
    frame (transform = the region's name), all with their quality and time. Frame-level matching (stills,
    listed frames) uses the ``original`` rows; ``match.video.compare`` uses all of them.
    """
    count = len(frames)
    if count == 0:
        return ()
    values, names, quality, times = [frames.pdq], ["original"] * count, [frames.quality], [frames.times]
    if len(frames.regions) == count:
        for index, region in enumerate(REGIONS):
            values.append(frames.regions[:, index])
            names.extend([region] * count)
            quality.append(frames.region_quality[:, index])
            times.append(frames.times)
    stacked = np.ascontiguousarray(np.concatenate(values), dtype=np.uint8)
    rows = HashValues(
        "pdq",
        stacked,
        tuple(names),
        np.concatenate(quality).astype(np.uint8),
        np.concatenate(times).astype(np.float32),
    )
    # One set of rows, however many PDQ-family types were asked for: they share one index, so two copies
    # would only be searched twice. ``vpdq`` (a video frame) when asked for, else ``pdq``.
    name = "vpdq" if "vpdq" in types else "pdq" if "pdq" in types else None
    return () if name is None else (replace(rows, hash_type=name),)


def no_frames(error: str | None = None, *, has_video: bool = True, **info: Any) -> FrameHashes:
    """A result without frames (refused, unreadable, or audio only)."""
    return FrameHashes(
        np.zeros((0, 32), np.uint8), np.zeros(0, np.uint8), np.zeros(0), error=error, has_video=has_video, **info
    )


#: Region-masked variants of each frame's hash, in this order: a band of ``BAND`` of the frame along one edge is
#: replaced by its inner border line stretched across it, so whatever covers that band (a watermark or logo
#: in a corner, a caption strip, a side bar) no longer counts. Every corner lies in two bands.
REGIONS: tuple[str, ...] = ("mask-top", "mask-bottom", "mask-left", "mask-right")
BAND = 0.4
_THUMB = 64  # PDQ's own working size: a 64x64 input passes its blur unchanged
_BAND_PIXELS = round(_THUMB * BAND)


def upright_grey(grey: U8, *, limited_range: bool = False, rotation: int = 0) -> Image.Image:
    """A 2-D uint8 luma array as the upright, full-range grey image PDQ hashes.

    The frame is box-reduced by an integer factor to a short side of at least ``MIN_SIDE`` (as stills
    are), limited-range luma is stretched to full range (PDQ's quality score scales with contrast), and
    the display rotation is applied last, on the small image.
    """
    rows, cols = grey.shape
    factor = min(rows, cols) // MIN_SIDE
    img = Image.fromarray(np.ascontiguousarray(grey), "L")
    if factor >= 2:
        img = img.reduce(factor)
    if limited_range:
        img = img.point(_EXPAND)
    transpose = _ROTATE.get(rotation)
    return img.transpose(transpose) if transpose is not None else img


def _small_pdq(buffer: npt.NDArray[np.float32]) -> tuple[bytes, int]:
    """PDQ of a 64x64 grey buffer (pdqhash's filter leaves a 64x64 input as it is: only its DCT runs)."""
    grey = np.clip(np.rint(buffer), 0, 255).astype(np.uint8)
    bits, quality = pdqhash.compute(np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2)))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


def region_hashes(img: Image.Image) -> tuple[bytes, bytes]:
    """The ``REGIONS`` variants of ``img`` (raw hashes joined, and their qualities)."""
    small = np.asarray(img.resize((_THUMB, _THUMB), Image.Resampling.BOX), dtype=np.float32)
    band, side = _BAND_PIXELS, _THUMB
    hashes: list[bytes] = []
    qualities: list[int] = []
    for name in REGIONS:
        masked = small.copy()
        if name == "mask-top":
            masked[:band, :] = small[band, :][None, :]
        elif name == "mask-bottom":
            masked[side - band :, :] = small[side - band - 1, :][None, :]
        elif name == "mask-left":
            masked[:, :band] = small[:, band][:, None]
        else:
            masked[:, side - band :] = small[:, side - band - 1][:, None]
        value, quality = _small_pdq(masked)
        hashes.append(value)
        qualities.append(quality)
    return b"".join(hashes), bytes(qualities)


def pdq_of_grey(grey: U8, *, limited_range: bool = False, rotation: int = 0) -> tuple[bytes, int]:
    """PDQ (32 raw bytes) and quality of a 2-D uint8 luma array, shown upright per ``rotation``."""
    value, quality = pdq_hex(upright_grey(grey, limited_range=limited_range, rotation=rotation))
    return bytes.fromhex(value), quality


def _distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


@dataclass
class Collector:
    """Sampling schedule, deduplication, time budget and ``max_frames``, shared by videos and animations."""

    options: SampleOptions
    duration: float | None
    clock: Callable[[], float] = time.monotonic
    hashes: list[bytes] = field(default_factory=list)
    qualities: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    regions: list[bytes] = field(default_factory=list)
    region_qualities: list[bytes] = field(default_factory=list)
    stopped: str | None = None
    next_time: float = 0.0  #: the next sample is the first frame at or after this time
    reached: float = 0.0  #: the latest frame time looked at

    def __post_init__(self) -> None:
        self.allowed = self.options.budget(self.duration)
        self.deadline = self.clock() + self.allowed
        self.interval = 1.0 / self.options.fps if self.options.fps > 0 else 0.0

    def due(self, t: float) -> bool:
        """Whether the frame at ``t`` (seconds from the first frame) is a sample."""
        return t >= self.next_time - 1e-6

    def add(self, t: float, img: Image.Image) -> None:
        """Hash the upright grey frame at ``t``, keep it unless it repeats the last kept frame, and schedule
        the next sample."""
        self.reached = max(self.reached, t)
        value, quality = pdq_hex(img)
        raw = bytes.fromhex(value)
        if not self.hashes or _distance(self.hashes[-1], raw) > self.options.dedup_distance:
            self.hashes.append(raw)
            self.qualities.append(quality)
            self.times.append(t)
            if self.options.regions:
                joined, qualities = region_hashes(img)
                self.regions.append(joined)
                self.region_qualities.append(qualities)
        if self.interval > 0:
            self.next_time = (math.floor(t / self.interval + 1e-6) + 1) * self.interval
        else:
            self.next_time = t + 1e-6  # every frame
        if len(self.hashes) >= self.options.max_frames:
            self.stopped = f"sampling stopped at max_frames={self.options.max_frames} at {t:.1f} s{self._of()}"

    def expired(self) -> bool:
        """Whether the time budget ran out (then ``stopped`` says so)."""
        if self.stopped is not None:
            return True
        if self.clock() > self.deadline:
            self.stopped = (
                f"the time budget of {self.allowed:.0f} s ran out at {self.reached:.1f} s{self._of()};"
                " later frames were not hashed"
            )
            return True
        return False

    def _of(self) -> str:
        return f" of {self.duration:.1f} s" if self.duration else ""

    def result(self, **info: Any) -> FrameHashes:
        count, variants = len(self.hashes), len(REGIONS) if self.regions else 0
        pdq = np.frombuffer(b"".join(self.hashes), dtype=np.uint8).reshape(count, 32).copy()
        regions = np.frombuffer(b"".join(self.regions), dtype=np.uint8).reshape(
            count if variants else 0, len(REGIONS), 32
        )
        region_quality = np.frombuffer(b"".join(self.region_qualities), dtype=np.uint8).reshape(-1, len(REGIONS))
        return FrameHashes(
            pdq,
            np.array(self.qualities, dtype=np.uint8),
            np.array(self.times, dtype=np.float64),
            regions.copy(),
            region_quality.copy(),
            stopped=self.stopped,
            duration=self.duration,
            **info,
        )


def _plain(err: BaseException) -> str:
    text = printable(" ".join(str(err).split()))[:160]
    if isinstance(err, av.error.FFmpegError) and err.strerror:
        text = printable(str(err.strerror))
    return text.rstrip(".").lower() or type(err).__name__


def _refuse_io(url: str, flags: int, options: dict[str, Any]) -> BinaryIO:
    """FFmpeg asks to open another file (a reference inside the container): never."""
    raise PermissionError("libra reads one file at a time")


def _stream_size(stream: BinaryIO) -> int:
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return size


def _demuxer(media_type: str | None, stream: BinaryIO) -> str | None:
    if media_type not in DEMUXERS:
        return None
    if media_type == "video/mpeg":
        start = stream.tell()
        head = stream.read(4)
        stream.seek(start)
        return "mpegvideo" if head == _ELEMENTARY_MPEG else "mpeg"
    return DEMUXERS[media_type]


def _seconds(value: int | None, base: Fraction | None) -> float | None:
    if value is None or base is None:
        return None
    return float(value * base)


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The main picture stream: the first video stream that is not cover art, else the cover art."""
    streams = [s for s in container.streams.video if s.codec_context is not None]
    moving = [s for s in streams if not (s.disposition & av.stream.Disposition.attached_pic)]
    chosen = moving or streams
    return chosen[0] if chosen else None


def sample_video(
    stream: BinaryIO,
    media_type: str | None,
    options: SampleOptions | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> FrameHashes:
    """Sample and hash the frames of the video read from ``stream`` (seekable; read from its start, whatever
    its position, since containers address bytes from the start of the file).

    ``media_type`` is what ``media.sniff`` said (it picks the demuxer). Never raises for a bad file or a
    failing stream: everything wrong is one sentence in ``FrameHashes.error``.
    """
    options = options or SampleOptions()
    try:
        size = _stream_size(stream)
        demuxer = _demuxer(media_type, stream)
    except Exception as err:  # the storage backend's stream failed
        return no_frames(f"the video cannot be read ({type(err).__name__}: {_plain(err)})")
    if size <= 0:
        return no_frames("the video file is empty")
    if demuxer is None:
        return no_frames(f"{printable(str(media_type))} is not a video format libra reads")
    try:
        container = av.open(
            stream,
            mode="r",
            format=demuxer,
            options={"max_pixels": str(options.max_pixels)},
            metadata_errors="ignore",
            io_open=_refuse_io,
        )
    except Exception as err:  # FFmpeg's errors, or the stream's own raised through its read callback
        return no_frames(f"the video cannot be opened ({_plain(err)}): it is damaged, truncated or not a video")
    with container:
        try:
            return _sample(container, size, options, clock)
        except MemoryError:
            return no_frames("the video is too large to decode in memory")
        except Exception as err:  # a decoder or binding failure on a hostile file costs that file only
            return no_frames(f"the video cannot be decoded ({type(err).__name__}: {_plain(err)})")


def _sample(
    container: av.container.InputContainer, size: int, options: SampleOptions, clock: Callable[[], float]
) -> FrameHashes:
    if not container.streams:
        return no_frames("the file holds no audio or video streams: it is damaged or not a video")
    video = _video_stream(container)
    if video is None:
        return no_frames(has_video=False)
    codec = video.codec_context
    width, height = codec.width, codec.height
    if width * height > options.max_pixels:
        return no_frames(
            f"the video declares {width}x{height} frames, more than the {options.max_pixels}-pixel limit"
            " (decompression bomb guard)"
        )
    duration = _seconds(video.duration, video.time_base)
    if duration is None and container.duration is not None:
        duration = container.duration / 1_000_000
    codec.options = {"max_pixels": str(options.max_pixels)}
    codec.thread_count = max(1, options.threads)
    codec.thread_type = "AUTO" if options.threads > 1 else "SLICE"
    codec.skip_frame = "NONREF"
    run = _Run(Collector(options, duration, clock), codec, video.time_base, options.max_pixels)
    run.size_unknown = width * height == 0
    packet_bytes = end = 0
    try:
        for packet in container.demux():
            packet_bytes += packet.size
            if packet.pos is not None and packet.pos >= 0:
                end = max(end, packet.pos + packet.size)
            if packet.stream_index != video.index:
                continue
            if run.feed(packet):
                break
        else:
            run.flush()
    except (av.error.FFmpegError, OSError, ValueError) as err:
        run.note(f"the video cannot be read past {run.collector.reached:.1f} s ({_plain(err)})")
    run.check_coverage(size, packet_bytes, end, dense=container.format.name.split(",")[0] in _DENSE)
    return run.finish(width, height)


class _Run:
    """One video's decoding: the read-ahead that skips what no sample needs, and the error notes."""

    def __init__(self, collector: Collector, codec: Any, time_base: Fraction | None, max_pixels: int) -> None:
        self.collector = collector
        self.codec = codec
        self.time_base = time_base
        self.max_pixels = max_pixels
        self.pending: list[Any] = []
        self.pending_bytes = 0
        self.chasing = True  # a sample is due and not yet out of the decoder: decode every packet
        self.start: float | None = None  # time of the first frame (sample times count from it)
        self.last_time: float | None = None
        self.frames = 0
        self.packets = 0
        self.bad = 0
        self.bad_run = 0
        self.first_error: str | None = None
        self.errors: list[str] = []
        self.display: tuple[int, int] | None = None
        self.size_unknown = False  #: FFmpeg left the frame size unset (unknown, or over ``max_pixels`` already)

    def note(self, sentence: str) -> None:
        self.errors.append(sentence)

    def feed(self, packet: Any) -> bool:
        """Take one packet of the video stream; True when sampling must stop (budget, max_frames, damage)."""
        if packet.size == 0:
            return False
        self.packets += 1
        collector = self.collector
        if collector.expired():
            return True
        if packet.is_keyframe and not self.chasing:
            if self.pending:  # the tail of the last group of pictures: no sample needs it
                self.pending.clear()
                self.pending_bytes = 0
                self.codec.flush_buffers()  # start clean at the keyframe (open-GOP leading frames are dropped)
            return self._decode(packet)
        self.pending.append(packet)
        self.pending_bytes += packet.size
        when = self._packet_time(packet)
        if self.chasing or when is None or collector.due(when) or self.pending_bytes > _MAX_PENDING_BYTES:
            self.chasing = True
            pending, self.pending, self.pending_bytes = self.pending, [], 0
            for queued in pending:
                if self._decode(queued):
                    return True
        return False

    def flush(self) -> None:
        if self.chasing and self.pending:
            for queued in self.pending:
                if self._decode(queued):
                    return
        self.pending = []
        self._decode(None)

    def _packet_time(self, packet: Any) -> float | None:
        seconds = _seconds(packet.pts, self.time_base)
        if seconds is None or self.start is None:
            return None
        return seconds - self.start

    def _decode(self, packet: Any) -> bool:
        try:
            frames = self.codec.decode(packet)
        except av.error.FFmpegError as err:
            self.bad += 1
            self.bad_run += 1
            if self.first_error is None:
                self.first_error = _plain(err)
            if self.bad_run >= _MAX_BAD_RUN:
                self.note(f"the video stops decoding after {self.collector.reached:.1f} s ({self.first_error})")
                return True
            return False
        self.bad_run = 0
        return any(self._frame(frame) for frame in frames)

    def _frame(self, frame: Any) -> bool:
        self.frames += 1
        collector = self.collector
        seconds = frame.time
        if seconds is None:  # no timestamp: one frame interval after the last
            seconds = (self.last_time or 0.0) + (collector.interval or 0.04)
        if self.start is None:
            self.start = seconds
        t = max(0.0, seconds - self.start)
        self.last_time = seconds
        collector.reached = max(collector.reached, t)
        if not collector.due(t):
            return False
        if frame.width * frame.height > self.max_pixels:
            self.note(f"a frame of {frame.width}x{frame.height} exceeds the {self.max_pixels}-pixel limit")
            return True
        target = collector.next_time
        grey, limited = _luma(frame)
        rotation = _rotation(frame)
        if self.display is None:
            swapped = rotation in (90, -90, 270)
            self.display = (frame.height, frame.width) if swapped else (frame.width, frame.height)
        collector.add(t, upright_grey(grey, limited_range=limited, rotation=rotation))
        self.chasing = False
        if (
            self.codec.skip_frame == "NONREF"
            and collector.interval > 0
            and t - target > _OVERSHOOT * collector.interval
            and len(collector.times) > 1
        ):
            self.codec.skip_frame = "DEFAULT"  # the stream marks (almost) every frame non-reference
        return collector.stopped is not None

    def check_coverage(self, size: int, packet_bytes: int, end: int, *, dense: bool) -> None:
        """Notes a file whose packets leave much of it unexplained (a valid header followed by garbage)."""
        if self.collector.stopped is not None:
            return
        tail = size - end
        if tail > _MIN_TAIL and tail > MAX_TAIL_SHARE * size:
            self.note(
                f"the last {tail} of the file's {size} bytes are not audio or video data"
                " (damaged, or garbage after a valid header)"
            )
        elif dense and size >= _SHARE_MIN_SIZE and packet_bytes < MIN_PACKET_SHARE * size:
            share = 100 * packet_bytes / size
            self.note(
                f"only {share:.0f}% of the file's {size} bytes are audio or video data"
                " (damaged, or garbage after a valid header)"
            )

    def finish(self, width: int, height: int) -> FrameHashes:
        collector = self.collector
        stopped = collector.stopped is not None
        if self.bad and not any("stops decoding" in e for e in self.errors):
            self.note(f"{self.bad} of the video's packets could not be decoded ({self.first_error})")
        if not collector.times and self.size_unknown and self.packets:
            self.errors.insert(
                0,
                f"no frame decoded: the frame size is unknown or over the {self.max_pixels}-pixel limit"
                " (decompression bomb guard)",
            )
        if not collector.times and not self.errors:
            if self.packets:
                self.note(f"none of the video's {self.packets} packets decoded to a frame")
            else:
                self.note("the video stream holds no frames")
        duration = collector.duration
        if not stopped and duration and collector.times and self.start is not None and self.last_time is not None:
            end = self.last_time - self.start
            if end < duration - max(_TRUNCATION_SLACK, _TRUNCATION_SHARE * duration):
                self.note(f"the video stops at {end:.1f} s of its declared {duration:.1f} s (truncated or damaged)")
        display = self.display or (width, height)
        return collector.result(
            width=display[0] or None,
            height=display[1] or None,
            error="; ".join(self.errors) if self.errors else None,
            decoded=self.frames,
        )


def _luma(frame: Any) -> tuple[U8, bool]:
    """The frame's luma plane as a 2-D uint8 array (a view, no copy for 8-bit YUV), and whether it is
    limited range (16-235)."""
    name = frame.format.name
    if name in _LUMA_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
        full = name.startswith("yuvj") or frame.color_range == _FULL_RANGE
        return rows[:, : plane.width], not full
    grey = frame.reformat(format="gray")  # 10-bit, RGB, palette...: swscale to full-range grey
    plane = grey.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width], False


def _rotation(frame: Any) -> int:
    try:
        return round(float(frame.rotation) / 90.0) * 90
    except Exception:  # damaged side data never stops a hash
        return 0
