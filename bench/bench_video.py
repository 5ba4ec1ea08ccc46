"""Video frame hashing: speed of decoder strategies against Meta's vPDQ, and recall of the matching rules.

Run:  python bench/bench_video.py speed  [--rounds 3] [--seconds 120] [--strategies libra,pyav-all,vpdq]
      python bench/bench_video.py recall [--photos 10]
      python bench/bench_video.py            (both)

**speed** encodes a 720p H.264 clip (x264 ``superfast``: CABAC, deblocking and 3 B-frames, like real
uploads) with 10 s keyframe spacing, a pan over an upscaled sample photo, writes it to a temporary file
(vPDQ reads only paths; nothing is written under the repository), and times each strategy at one frame per
second in its own subprocess, interleaved over ``--rounds`` rounds so all see the same background load.
The figure is video-seconds per CPU-second (user + system time of the subprocess, decoder threads
included), median over rounds, and its ratio to vPDQ's in the same round. Strategies:

* ``libra``: ``media.video.sample_video`` (read ahead, skip undecoded group-of-pictures tails and
  non-reference frames, luma plane only) at 1 fps; ``libra-2fps`` at 2 fps;
* ``pyav-all``: PyAV decoding every frame, hashing the samples' luma plane;
* ``pyav-seek``: PyAV seeking to each sample time (each seek decodes from the previous keyframe);
* ``pyav-keyframes``: PyAV decoding keyframes only (``skip_frame=NONKEY``): fast, but one frame per 10 s;
* ``opencv-grab``: OpenCV (>= 4.11 reads a Python stream, ``cv2.VideoCapture(BufferedIOBase, CAP_FFMPEG)``)
  grabbing every frame and retrieving the samples; ``opencv-seek``: OpenCV seeking per second;
* ``vpdq``: Meta's ``vpdq`` package (C++ over libav), 1 hash per second, one thread. It needs FFmpeg's
  development headers to build, so it lives in its own environment; the bench runs it with
  ``$VPDQ_PYTHON`` (default ``/work/venvs/vpdq/bin/python``) and says how to install it if missing::

      apt-get install -y libavcodec-dev libavformat-dev libswscale-dev libavutil-dev libavdevice-dev pkg-config
      python -m venv /work/venvs/vpdq && /work/venvs/vpdq/bin/pip install vpdq

**recall** makes 12 s, 320x240, 25 fps H.264 clips of each sample photo with a slow and a faster pan,
edits each six ways (re-encode at CRF 33, half resolution, trim starting at 2.5 s, a watermark box in
a corner (small and large), 15 fps by dropping frames, re-timed to 15 fps (25 fps frames played at 15),
VP8/WebM), and reports for each edit the share of listed clips found by the vPDQ rule
(python-threatexchange's, on libra's frame hashes) and by libra's rule (``match.video.compare``), with the
list sampled at 1 and at 4 frames per second, plus the false matches over every unrelated pair. When vPDQ is
installed, the first column is vPDQ's own hashes with the same rule (what the issue's anchors measured).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from libra_cli.match.video import FrameSet, compare, vpdq_rule
from libra_cli.media.video import FrameHashes, SampleOptions, pdq_of_grey, sample_video

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "tests" / "data" / "photos" / "retina.jpg"
VPDQ_PYTHON = os.environ.get("VPDQ_PYTHON", "/work/venvs/vpdq/bin/python")
STRATEGIES = (
    "libra",
    "libra-2fps",
    "pyav-all",
    "pyav-seek",
    "pyav-keyframes",
    "opencv-grab",
    "opencv-seek",
    "vpdq",
)
U8 = npt.NDArray[np.uint8]


# --- The clip -----------------------------------------------------------------------------------------


def make_clip(path: Path, seconds: int, fps: int = 30, size: tuple[int, int] = (1280, 720)) -> None:
    """A pan over the retina photo, upscaled once; frames are integer crops of prepared YUV planes."""
    width, height = size
    big = Image.open(PHOTO).convert("RGB").resize((2 * width, 2 * height + 2 * height // 3), Image.Resampling.BICUBIC)
    rgb: Any = av.VideoFrame
    yuv = rgb.from_image(big).reformat(format="yuv444p")
    planes = [np.asarray(yuv.to_ndarray()[i]) for i in range(3)]
    travel_x, travel_y = big.width - width, big.height - height
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 10 * fps
        stream.options = {"preset": "superfast", "crf": "23", "keyint_min": str(10 * fps), "sc_threshold": "0"}
        for i in range(seconds * fps):
            t = i / fps
            x = int(travel_x * (0.5 - 0.5 * np.cos(2 * np.pi * t / 60.0))) & ~1
            y = int(travel_y * (0.5 - 0.5 * np.cos(2 * np.pi * t / 45.0))) & ~1
            crop = [p[y : y + height, x : x + width] for p in planes]
            frame = av.VideoFrame.from_ndarray(
                np.concatenate([crop[0], crop[1][::2, ::2].reshape(-1, width), crop[2][::2, ::2].reshape(-1, width)]),
                format="yuv420p",
            )
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


# --- Strategies (each runs in its own subprocess: ``bench_video.py run STRATEGY FILE``) -------------------


def _luma(frame: Any) -> U8:
    plane = frame.planes[0]
    rows: U8 = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _pyav(path: str, mode: str) -> list[tuple[float, bytes]]:
    out: list[tuple[float, bytes]] = []
    with open(path, "rb") as stream, av.open(stream, "r", format="mov") as container:
        video = container.streams.video[0]
        codec = video.codec_context
        codec.thread_count = 1
        if mode == "keyframes":
            codec.skip_frame = "NONKEY"
        if mode == "seek":
            duration = float((video.duration or 0) * (video.time_base or 0))
            target = 0.0
            while target < duration:
                container.seek(int(target / float(video.time_base or 1)), stream=video, backward=True)
                for frame in container.decode(video):
                    if frame.time is not None and frame.time >= target - 1e-6:
                        out.append((frame.time, pdq_of_grey(_luma(frame), limited_range=True)[0]))
                        break
                target += 1.0
            return out
        target = 0.0
        for frame in container.decode(video):
            if frame.time is not None and frame.time >= target - 1e-6:
                out.append((frame.time, pdq_of_grey(_luma(frame), limited_range=True)[0]))
                target = float(np.floor(frame.time)) + 1.0
    return out


def _opencv(path: str, mode: str) -> list[tuple[float, bytes]]:
    import cv2

    out: list[tuple[float, bytes]] = []
    with open(path, "rb") as stream:
        source: Any = stream  # a BufferedIOBase: OpenCV >= 4.11 wraps it as its IStreamReader
        capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG, [])
        if mode == "seek":
            frames = capture.get(cv2.CAP_PROP_FRAME_COUNT) / max(capture.get(cv2.CAP_PROP_FPS), 1e-9)
            target = 0.0
            while target < frames:
                capture.set(cv2.CAP_PROP_POS_MSEC, target * 1000)
                ok, image = capture.read()
                if not ok:
                    break
                out.append(
                    (target, pdq_of_grey(np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8))[0])
                )
                target += 1.0
            return out
        target = 0.0
        while capture.grab():
            now = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
            if now >= target - 1e-6:
                ok, image = capture.retrieve()
                if ok:
                    out.append(
                        (now, pdq_of_grey(np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8))[0])
                    )
                target = float(np.floor(now)) + 1.0
    return out


def run_strategy(name: str, path: str) -> list[tuple[float, bytes]]:
    """One strategy over the clip at ``path``: (time, PDQ) per sample."""
    if name in ("libra", "libra-2fps"):
        options = SampleOptions(fps=2.0 if name == "libra-2fps" else 1.0)
        with open(path, "rb") as stream:
            frames = sample_video(stream, "video/mp4", options)
        return [(float(t), bytes(h)) for t, h in zip(frames.times, frames.pdq, strict=True)]
    if name.startswith("pyav-"):
        return _pyav(path, name.removeprefix("pyav-"))
    return _opencv(path, name.removeprefix("opencv-"))


_VPDQ_SCRIPT = """
import json, sys, time, vpdq
start = time.process_time()
features = vpdq.computeHash(sys.argv[1], seconds_per_hash=float(sys.argv[2]), thread_count=1)
used = time.process_time() - start
json.dump([used, [[f.timestamp, f.hex] for f in features]], sys.stdout)
"""


def vpdq_available() -> bool:
    if not Path(VPDQ_PYTHON).exists():
        return False
    done = subprocess.run([VPDQ_PYTHON, "-c", "import vpdq"], capture_output=True, check=False)
    return done.returncode == 0


def timed(name: str, path: str) -> tuple[float, list[Any]]:
    """CPU seconds of one strategy over the clip, in a fresh subprocess (measured there, around the work
    only, so interpreter start-up and imports are not counted for anyone), and its samples."""
    if name == "vpdq":
        command = [VPDQ_PYTHON, "-c", _VPDQ_SCRIPT, path, "1"]
    else:
        command = [sys.executable, __file__, "run", name, path]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    used, found = json.loads(done.stdout)
    return float(used), found


def speed(rounds: int, seconds: int, only: list[str] | None = None) -> None:
    strategies = [s for s in only or STRATEGIES if s != "vpdq" or vpdq_available()]
    if "vpdq" not in strategies:
        print(f"vpdq not importable with {VPDQ_PYTHON}: see this file's docstring to install it; ratios are omitted")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        started = time.perf_counter()
        make_clip(path, seconds)
        print(f"clip: {seconds} s, 1280x720, 30 fps, H.264 superfast, keyframe every 10 s, {path.stat().st_size} bytes"
              f" (made in {time.perf_counter() - started:.0f} s)")  # fmt: skip
        cpu: dict[str, list[float]] = {s: [] for s in strategies}
        samples: dict[str, list[Any]] = {}
        for _ in range(rounds):
            for name in strategies:
                used, found = timed(name, str(path))
                cpu[name].append(used)
                samples[name] = found
    exact = samples.get("pyav-all", [])
    reference = {round(t): h for t, h in exact}  # the exact frame at each whole second
    header = f"{'strategy':16} {'samples':>7} {'cpu s':>7} {'video-s/cpu-s':>14} {'vs vPDQ':>8}"
    print(f"\n{header} {'PDQ dist to exact frame':>24}")
    vpdq_rate = seconds / statistics.median(cpu["vpdq"]) if "vpdq" in cpu else None
    for name in strategies:
        median = statistics.median(cpu[name])
        rate = seconds / median
        ratio = f"{rate / vpdq_rate:.2f}x" if vpdq_rate else "-"
        found = samples[name]
        dists = [
            bin(int(h, 16) ^ int(reference[round(t)], 16)).count("1")
            for t, h in found
            if round(t) in reference and abs(t - round(t)) < 0.05  # samples at whole seconds only
        ]
        spread = f"median {statistics.median(dists):.0f}, max {max(dists)}" if dists else "-"
        print(f"{name:16} {len(found):7d} {median:7.2f} {rate:14.1f} {ratio:>8} {spread:>24}")
    print("\n(per round, cpu s: " + "; ".join(f"{n} {', '.join(f'{c:.2f}' for c in cpu[n])}" for n in strategies) + ")")


# --- Recall -------------------------------------------------------------------------------------------


def recall(photos: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    vg: Any = importlib.import_module("videogen")
    size, fps, seconds = (320, 240), 25, 12
    spec = vg.Spec("mp4", "libx264", size=size, fps=fps, options=(("preset", "veryfast"), ("crf", "23")))
    corners = ["br", "tl", "tr", "bl"]

    def frames(data: bytes, per_second: float = 1.0) -> FrameHashes:
        found = sample_video(io.BytesIO(data), "video/mp4" if data[4:8] == b"ftyp" else "video/webm",
                             SampleOptions(fps=per_second))  # fmt: skip
        assert found.error is None, found.error
        return found

    edits: dict[str, Callable[[Any, str, float], bytes]] = {
        "re-encode": lambda p, n, s: vg.transcode(
            vg.encode(p, spec, seconds=seconds), vg.replace(spec, options=(("preset", "veryfast"), ("crf", "33")))
        ),
        "half size": lambda p, n, s: vg.encode(
            vg.pan(n, (160, 120), speed=s, zoom=s / 5), vg.replace(spec, size=(160, 120)), seconds=seconds
        ),
        "trim 2.5-9.5 s": lambda p, n, s: vg.encode(lambda t: p(t + 2.5), spec, seconds=7),
        "watermark small": lambda p, n, s: vg.encode(
            vg.watermarked(p, corner=corners[len(n) % 4], box=(0.2, 0.15)), spec, seconds=seconds
        ),
        "watermark large": lambda p, n, s: vg.encode(
            vg.watermarked(p, corner=corners[(len(n) + 1) % 4], box=(0.33, 0.25)), spec, seconds=seconds
        ),
        "15 fps (drop)": lambda p, n, s: vg.encode(p, vg.replace(spec, fps=15), seconds=seconds),
        "15 fps (re-timed)": lambda p, n, s: vg.encode(
            lambda t: p(t * 15 / fps), vg.replace(spec, fps=15), seconds=seconds * fps / 15
        ),
        "VP8 WebM": lambda p, n, s: vg.encode(
            p, vg.replace(vg.CONTAINERS["webm-vp8"], size=size, fps=fps), seconds=seconds
        ),
    }
    names = list(vg.PHOTO_NAMES)[:photos]
    listed: dict[tuple[float, str, float], FrameHashes] = {}
    queries: dict[tuple[float, str, str], FrameHashes] = {}
    clips: dict[tuple[float, str, str], bytes] = {}
    started = time.perf_counter()
    for speed_ in (0.008, 0.02):
        for name in names:
            painter = vg.pan(name, size, speed=speed_, zoom=speed_ / 5)
            original = vg.encode(painter, spec, seconds=seconds)
            clips[(speed_, name, "original")] = original
            listed[(speed_, name, 1.0)] = frames(original)
            listed[(speed_, name, 4.0)] = frames(original, 4.0)
            queries[(speed_, name, "original")] = listed[(speed_, name, 1.0)]
            for edit, make in edits.items():
                clips[(speed_, name, edit)] = make(painter, name, speed_)
                queries[(speed_, name, edit)] = frames(clips[(speed_, name, edit)])
    meta = vpdq_hashes(clips) if vpdq_available() else None
    made = time.perf_counter() - started
    print(f"recall: {len(names)} photos x 2 pan speeds, {len(edits)} edits (made in {made:.0f} s)")
    columns = ("vPDQ's own", "vPDQ rule", "libra, list 1 fps", "libra, list 4 fps", "libra, no regions")
    print("\n| edit | pan | " + " | ".join(columns) + " |\n|---|---|" + "---|" * len(columns))
    for edit in edits:
        for speed_ in (0.008, 0.02):
            hits = {"meta": 0, "vpdq": 0, "1": 0, "4": 0, "bare": 0}
            for name in names:
                query = queries[(speed_, name, edit)]
                one, four = listed[(speed_, name, 1.0)], listed[(speed_, name, 4.0)]
                if meta is not None:
                    hits["meta"] += vpdq_rule(meta[(speed_, name, edit)], meta[(speed_, name, "original")])[2]
                hits["vpdq"] += vpdq_rule(query, one)[2]
                hits["1"] += _matched(query, one)
                hits["4"] += _matched(query, four)
                hits["bare"] += _matched(_bare(query), _bare(one))
            share = {k: f"{v / len(names):.2f}" for k, v in hits.items()}
            if meta is None:
                share["meta"] = "-"
            cells = " | ".join(share[k] for k in ("meta", "vpdq", "1", "4", "bare"))
            print(f"| {edit} | {speed_} | {cells} |")
    false = {"vpdq": 0, "libra": 0}
    pairs = 0
    for (_speed, name, _edit), query in queries.items():
        for (speed2, other, per_second), entry in listed.items():
            if other == name or per_second != 1.0:
                continue
            pairs += 1
            false["vpdq"] += vpdq_rule(query, entry)[2]
            false["libra"] += _matched(query, entry) + _matched(query, listed[(speed2, other, 4.0)])
    counts = f"vPDQ rule {false['vpdq']}, libra {false['libra']}"
    print(f"\nfalse matches over {pairs} unrelated (query, listed) pairs: {counts}")


_VPDQ_MANY = """
import json, sys, vpdq
out = {}
for path in sys.argv[1:]:
    out[path] = [[f.hex, f.quality, f.timestamp] for f in vpdq.computeHash(path, seconds_per_hash=1.0, thread_count=1)]
json.dump(out, sys.stdout)
"""


def vpdq_hashes(clips: dict[tuple[float, str, str], bytes]) -> dict[tuple[float, str, str], FrameSet]:
    """Meta's vPDQ over every clip (it reads paths: the clips go to a temporary directory for it)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths: dict[str, tuple[float, str, str]] = {}
        for i, (key, data) in enumerate(clips.items()):
            path = Path(tmp) / f"{i}.{'mp4' if data[4:8] == b'ftyp' else 'webm'}"
            path.write_bytes(data)
            paths[str(path)] = key
        done = subprocess.run([VPDQ_PYTHON, "-c", _VPDQ_MANY, *paths], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    return {
        paths[path]: FrameSet.from_hex([f[0] for f in rows], [f[1] for f in rows], [f[2] for f in rows])
        for path, rows in found.items()
    }


def _matched(query: Any, entry: Any) -> int:
    result = compare(query, entry)
    return int(result is not None and result.matched)


def _bare(frames: FrameHashes) -> FrameSet:
    return FrameSet(frames.pdq, frames.quality, frames.times)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        start = time.process_time()  # the whole process: decoder threads included
        found = run_strategy(sys.argv[2], sys.argv[3])
        used = time.process_time() - start
        json.dump([used, [[t, h.hex()] for t, h in found]], sys.stdout)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("what", nargs="?", choices=["speed", "recall", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--strategies", help=f"comma-separated subset of {','.join(STRATEGIES)}")
    args = parser.parse_args()
    if args.what in ("speed", "both"):
        only = args.strategies.split(",") if args.strategies else None
        if only and not set(only) <= set(STRATEGIES):
            parser.error(f"--strategies: choose from {', '.join(STRATEGIES)}")
        speed(args.rounds, args.seconds, only)
    if args.what in ("recall", "both"):
        recall(args.photos)


if __name__ == "__main__":
    main()
