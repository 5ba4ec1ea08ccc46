"""Video frame sampling, animated images, the video matching rule and the vPDQ importer, on real videos.

Every video is made here, at run time, from the benign sample photos (tests/videogen.py): a slow pan
encoded by FFmpeg's own encoders into memory. Nothing is downloaded and no binary is committed.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import videogen as vg
from libra_cli.hashers.pdq import pdq_hex
from libra_cli.hashlist.importers import import_text
from libra_cli.hashlist.importers.vpdq import FrameRow, Vpdq
from libra_cli.match import video as match_video
from libra_cli.match.video import FrameSet, compare, match_videos, vpdq_rule
from libra_cli.media import video as media_video
from libra_cli.media.animated import animated_frames
from libra_cli.media.sniff import sniff
from libra_cli.media.video import FrameHashes, SampleOptions, hash_values, sample_options, sample_video
from libra_cli.models import HashConfig

SIZE = (160, 120)


def sample(data: bytes, options: SampleOptions | None = None, **kwargs: object) -> FrameHashes:
    return sample_video(io.BytesIO(data), sniff(data), options, **kwargs)  # type: ignore[arg-type]


def distance(a: bytes | np.ndarray, b: bytes | np.ndarray) -> int:
    return (int.from_bytes(bytes(a), "big") ^ int.from_bytes(bytes(b), "big")).bit_count()


def image_pdq(img: Image.Image) -> bytes:
    return bytes.fromhex(pdq_hex(img.convert("L"))[0])


def painted_pdq(painter: vg.Painter, t: float) -> bytes:
    return image_pdq(Image.fromarray(painter(t)))


# --- Containers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(vg.CONTAINERS))
def test_each_container_gives_one_frame_per_second_of_the_right_picture(kind: str) -> None:
    spec = vg.CONTAINERS[kind]
    painter = vg.pan("coffee", spec.size)
    data = vg.encode(painter, spec, seconds=4)
    frames = sample(data)
    assert frames.error is None and frames.stopped is None and frames.has_video
    assert frames.times.tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=0.09)
    assert (frames.width, frames.height) == spec.size
    assert frames.duration == pytest.approx(4.0, abs=0.2)
    assert frames.pdq.shape == (4, 32) and frames.pdq.dtype == np.uint8 and frames.quality.min() >= 50
    assert frames.regions.shape == (4, 4, 32) and frames.region_quality.shape == (4, 4)
    for t, value in zip(frames.times, frames.pdq, strict=True):
        assert distance(value, painted_pdq(painter, t)) <= 31  # the picture shown at that time
    # ... and not any other second's picture: the samples are told apart.
    assert distance(frames.pdq[0], painted_pdq(painter, 3.0)) > 31


def test_reads_a_stream_without_a_name_and_seeks_in_it() -> None:
    data = vg.clip("chelsea", seconds=3, kind="mkv", size=SIZE)

    class Ranged(io.RawIOBase):
        """A bucket object read by ranged GETs: no file name, no fileno, only read/seek."""

        def __init__(self) -> None:
            self.pos = 0
            self.reads = 0

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            chunk = data[self.pos : self.pos + min(len(buffer), 8192)]
            buffer[: len(chunk)] = chunk
            self.pos += len(chunk)
            self.reads += 1
            return len(chunk)

        def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
            self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: len(data)}[whence] + offset
            return self.pos

        def tell(self) -> int:
            return self.pos

    raw = Ranged()
    frames = sample_video(io.BufferedReader(raw), "video/x-matroska")
    assert frames.error is None and len(frames) == 3 and raw.reads > 1
    assert frames.pdq.tobytes() == sample(data).pdq.tobytes()


def test_a_stream_that_fails_midway_is_an_error_not_an_exception() -> None:
    data = vg.clip("coins", seconds=6, kind="mkv", size=SIZE)

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > len(data) // 2:
                raise OSError("connection reset by peer")
            return super().read(size)

    frames = sample_video(Failing(data), "video/x-matroska")
    assert frames.error is not None and "connection reset by peer" in frames.error
    assert 1 <= len(frames) < len(sample(data)) == 6


def test_reads_a_local_file_object(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(vg.clip("rocket", seconds=2, size=SIZE))
    with path.open("rb") as stream:
        frames = sample_video(stream, "video/mp4")
    assert frames.error is None and len(frames) == 2


def test_nothing_is_written_while_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clips = [vg.clip("coffee", seconds=2, kind=kind, size=vg.CONTAINERS[kind].size) for kind in ("mp4", "mkv", "avi")]
    clips.append(vg.truncated(clips[1]))
    gif = vg.animated([(vg.photo_frame("coffee"), 200), (vg.photo_frame("rocket"), 200)])
    temp, work = tmp_path / "tmp", tmp_path / "cwd"
    temp.mkdir()
    work.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.chdir(work)
    assert tempfile.gettempdir() == str(temp)
    for data in clips:
        sample(data)
    animated_frames(gif, "image/gif")
    assert list(temp.iterdir()) == [] and list(work.iterdir()) == []


def test_decodes_only_what_the_samples_need_and_gets_the_same_frames() -> None:
    # Long keyframe spacing (4 s) and B-frames: every reference frame up to each sample must be decoded,
    # the non-reference ones never, and the tail of each group of pictures after its last sample is skipped.
    spec = vg.Spec("mp4", "libx264", size=SIZE, fps=25, gop=100, options=(("preset", "veryfast"), ("threads", "1")))
    painter = vg.pan("hubble_deep_field", SIZE)
    data = vg.encode(painter, spec, seconds=8)
    frames = sample(data)
    assert len(frames) == 8 and frames.error is None
    assert frames.decoded < 0.75 * 8 * 25  # most non-reference frames were skipped
    for t, value in zip(frames.times, frames.pdq, strict=True):
        assert distance(value, painted_pdq(painter, t)) <= 24
    sparse = sample(data, SampleOptions(fps=0.25))  # one frame per 4 s: keyframes only
    assert sparse.times.tolist() == pytest.approx([0.0, 4.0]) and sparse.decoded <= 4


def test_variable_frame_rate_uses_timestamps() -> None:
    times = [0.0, 0.1, 0.2, 2.5, 2.6, 5.0, 5.05, 7.9]
    painter = vg.pan("coins", SIZE)
    frames = sample(vg.encode(painter, vg.Spec("matroska", size=SIZE), times=times))
    assert frames.error is None
    assert frames.times.tolist() == pytest.approx([0.0, 2.5, 5.0, 7.9], abs=0.01)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_metadata_is_applied(rotation: int) -> None:
    upright = vg.pan("rocket", (120, 160))
    reference = sample(vg.encode(upright, vg.Spec(size=(120, 160)), seconds=3))
    # The file stores the picture turned against its display rotation, as phones do.
    stored = {90: Image.Transpose.ROTATE_270, -90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180}

    def turned(t: float) -> vg.RGB:
        return np.asarray(Image.fromarray(upright(t)).transpose(stored[rotation]))

    size = (120, 160) if rotation == 180 else (160, 120)
    frames = sample(vg.encode(turned, vg.Spec(size=size, rotation=rotation), seconds=3))
    assert (frames.width, frames.height) == (120, 160)
    assert all(distance(a, b) <= 16 for a, b in zip(frames.pdq, reference.pdq, strict=True))
    plain = sample(vg.encode(turned, vg.Spec(size=size), seconds=3))  # without the metadata: not upright
    assert all(distance(a, b) > 31 for a, b in zip(plain.pdq, reference.pdq, strict=True))


def test_static_frames_are_deduplicated() -> None:
    frames = sample(vg.encode(vg.still("moon", SIZE), vg.Spec(size=SIZE), seconds=5))
    assert len(frames) == 1 and frames.times.tolist() == [0.0] and frames.error is None


# --- Damaged, hostile and unusual files ----------------------------------------------------------------


def test_zero_length_files_are_errors_with_no_frames() -> None:
    empty = sample_video(io.BytesIO(b""), "video/mp4")
    assert len(empty) == 0 and empty.error == "the video file is empty"
    buffer = io.BytesIO()
    with vg.av.open(buffer, "w", format="mp4") as out:  # a valid MP4 whose video track has no frame
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height = 64, 48
        out.start_encoding()
    frames = sample(buffer.getvalue())
    assert len(frames) == 0 and frames.error is not None


def test_audio_only_is_no_frames_and_no_error() -> None:
    data = vg.audio_only()
    assert sniff(data) == "video/mp4"
    frames = sample(data)
    assert (len(frames), frames.has_video, frames.error) == (0, False, None)


def test_truncated_video_keeps_the_frames_before_the_cut() -> None:
    data = vg.clip("coffee", seconds=6, kind="mkv", size=SIZE)
    frames = sample(vg.truncated(data, 0.55))
    assert 2 <= len(frames) <= 4 and frames.times[0] == 0.0
    assert frames.error is not None and "truncated" in frames.error
    assert frames.pdq.tobytes() == sample(data).pdq[: len(frames)].tobytes()
    moov_last = sample(vg.truncated(vg.clip("coffee", seconds=3, size=SIZE)))  # MP4 index at the end: lost
    assert len(moov_last) == 0 and moov_last.error is not None and "cannot be opened" in moov_last.error


@pytest.mark.parametrize("kind", ["mp4", "mkv", "webm-vp8", "avi", "flv", "mpegts", "asf"])
def test_a_valid_header_followed_by_garbage_is_an_error(kind: str) -> None:
    spec = vg.CONTAINERS[kind]
    data = vg.encode(vg.pan("grass", spec.size), spec, seconds=2)
    frames = sample(vg.header_then_garbage(data, 2000))
    assert frames.error is not None, kind  # never silently "clean"


def test_huge_declared_resolution_is_refused_before_decoding() -> None:
    frames = sample(vg.huge_raw_avi(16_000, 12_000))
    assert len(frames) == 0 and frames.error is not None and "pixel limit" in frames.error
    # A declared size over the limit (H.264 keeps its size in the header) is refused without decoding a frame.
    small = sample(vg.clip("coffee", seconds=1, size=SIZE), SampleOptions(max_pixels=10_000))
    assert small.decoded == 0 and small.error is not None
    assert "160x120 frames, more than the 10000-pixel limit" in small.error


def test_time_budget_returns_the_frames_so_far_and_a_reason() -> None:
    data = vg.clip("chelsea", seconds=6, size=SIZE)
    ticks = iter(range(10_000))  # a fake clock: every look at it costs a "second"

    def clock() -> float:
        return float(next(ticks))

    options = SampleOptions(budget_per_minute=20.0, budget_floor=1.0, budget_cap=30.0)
    frames = sample(data, options, clock=clock)
    assert options.budget(6.0) == 2.0
    assert 1 <= len(frames) < 6 and frames.error is None
    assert frames.stopped is not None and "time budget of 2 s ran out" in frames.stopped
    capped = sample(data, SampleOptions(max_frames=2))
    assert len(capped) == 2 and capped.stopped is not None and "max_frames=2" in capped.stopped
    assert SampleOptions().budget(3600.0) == 300.0 and SampleOptions().budget(None) == 300.0


def test_frame_hashes_cross_a_process_boundary_as_plain_data() -> None:
    frames = sample(vg.clip("coins", seconds=2, size=SIZE))
    plain = frames.to_plain()
    assert all(isinstance(v, bytes | int | float | str | bool | type(None)) for v in plain.values())
    back = FrameHashes.from_plain(plain)
    assert back.pdq.tobytes() == frames.pdq.tobytes() and back.times.tolist() == frames.times.tolist()
    assert back.regions.tobytes() == frames.regions.tobytes() and back.hex()[0] == bytes(frames.pdq[0]).hex()


def test_frames_become_the_workers_hash_values_and_back() -> None:
    frames = sample(vg.clip("coins", seconds=3, size=SIZE))
    assert sample_options(HashConfig(video_fps=2.0, max_frames=9)) == SampleOptions(fps=2.0, max_frames=9)
    (pdq,) = hash_values(frames, ("pdq", "md5"))
    assert pdq.hash_type == "pdq" and len(pdq) == 5 * len(frames) and pdq.transforms[0] == "original"
    assert pdq.times is not None and pdq.times.dtype == np.float32 and pdq.quality is not None
    assert [v.hash_type for v in hash_values(frames, ("pdq", "vpdq"))] == ["vpdq"]  # one family, one copy
    back = FrameSet.from_hash_values(pdq)
    assert back.pdq.tobytes() == frames.pdq.tobytes() and back.regions.tobytes() == frames.regions.tobytes()
    assert back.times.tolist() == frames.times.tolist() and match_video.REGIONS == media_video.REGIONS
    assert hash_values(sample(vg.audio_only()), ("pdq",)) == ()


# --- Animated images -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "media_type"), [("GIF", "image/gif"), ("WEBP", "image/webp"), ("PNG", "image/png")])
def test_animation_with_a_benign_first_frame_shows_its_later_listed_frame(fmt: str, media_type: str) -> None:
    listed = image_pdq(vg.photo("rocket"))  # the listed still, as the photo file is
    frames = [(vg.photo_frame("coffee"), 1000), (vg.photo_frame("chelsea"), 40), (vg.photo_frame("rocket"), 40)]
    data = vg.animated(frames, fmt)
    first = image_pdq(Image.open(io.BytesIO(data)))  # what a still's hash sees: the first frame only
    assert distance(first, listed) > 31
    found = animated_frames(data, media_type)
    assert found is not None and found.error is None and len(found) == 3
    hits = [t for t, value in zip(found.times, found.pdq, strict=True) if distance(value, listed) <= 31]
    assert hits == [pytest.approx(1.04)]
    assert animated_frames(vg.animated(frames[:1], fmt), media_type) is None  # one frame: the still path


def test_damaged_animation_keeps_its_first_frames() -> None:
    frames = [(vg.photo_frame(name), 100) for name in ("coffee", "rocket", "chelsea", "coins")]
    found = animated_frames(vg.truncated(vg.animated(frames), 0.7), "image/gif")
    assert found is not None and found.error is not None and 1 <= len(found) < 4


# --- Matching --------------------------------------------------------------------------------------------

SPEC = vg.Spec("mp4", "libx264", size=SIZE, fps=12, options=(("preset", "veryfast"), ("threads", "1")))
SECONDS = 6


@cache
def listed_clip(name: str) -> bytes:
    return vg.encode(vg.pan(name, SIZE, speed=0.01, zoom=0.002), SPEC, seconds=SECONDS)


def edits(name: str) -> Iterator[tuple[str, bytes]]:
    painter = vg.pan(name, SIZE, speed=0.01, zoom=0.002)
    yield "reencode", vg.transcode(listed_clip(name), vg.replace(SPEC, options=(("crf", "35"), ("threads", "1"))))
    half = (SIZE[0] // 2, SIZE[1] // 2)
    yield "half", vg.encode(vg.pan(name, half, speed=0.01, zoom=0.002), vg.replace(SPEC, size=half), seconds=SECONDS)
    yield "trim", vg.encode(lambda t: painter(t + 2.0), SPEC, seconds=4)
    yield "watermark", vg.encode(vg.watermarked(painter, corner="br"), SPEC, seconds=SECONDS)
    yield (
        "15fps-retimed",
        vg.encode(lambda t: painter(t * 12 / 15), vg.replace(SPEC, fps=15), seconds=SECONDS * 15 / 12),
    )
    yield "webm", vg.encode(painter, vg.replace(vg.CONTAINERS["webm-vp8"], size=SIZE, fps=12), seconds=SECONDS)


@pytest.mark.parametrize("name", ["coffee", "gravel"])
def test_edited_copies_match_the_listed_video_and_unrelated_clips_never_do(name: str) -> None:
    listed = sample(listed_clip(name))
    for edit, data in edits(name):
        query = sample(data)
        result = compare(query, listed, entry=name)
        assert result is not None and result.matched, (edit, result)
        assert result.first_time <= result.last_time
        if edit == "watermark":  # the case vPDQ's rule misses
            assert not vpdq_rule(query, listed)[2]
    for other in ("chelsea", "grass", "moon"):
        unrelated = sample(listed_clip(other))
        result = compare(unrelated, listed)
        assert result is None or not result.matched


def test_match_reports_shares_and_times_on_both_sides() -> None:
    listed = sample(listed_clip("coffee"))
    painter = vg.pan("coffee", SIZE, speed=0.01, zoom=0.002)
    query = sample(vg.encode(lambda t: painter(t + 2.0), SPEC, seconds=4))  # seconds 2-6 of the listed clip
    found = match_videos(query, {"listed": listed, "other": sample(listed_clip("grass"))})
    assert [m.entry for m in found] == ["listed"]
    result = found[0]
    assert result.query_share == 1.0 and result.listed_share == pytest.approx(4 / 6, abs=1e-3)
    assert (result.first_time, result.last_time) == (0.0, 3.0)
    assert (result.listed_first_time, result.listed_last_time) == (2.0, 5.0)
    assert result.speed == 1.0 and result.offset == pytest.approx(2.0, abs=0.3)


def test_a_listed_still_inside_an_unrelated_clip_is_found_at_its_time() -> None:
    video = vg.spliced([(4.0, vg.pan("coffee", SIZE)), (3.0, vg.still("rocket", SIZE)), (4.0, vg.pan("chelsea", SIZE))])
    frames = sample(vg.encode(video, SPEC, seconds=11))
    listed = image_pdq(vg.photo("rocket"))  # the listed still, as the photo file is (640x427, not 160x120)
    hits = [float(t) for t, value in zip(frames.times, frames.pdq, strict=True) if distance(value, listed) <= 31]
    assert hits and abs(hits[0] - 4.0) <= 1.0 and all(3.0 <= t <= 8.0 for t in hits)


def test_a_shared_moment_is_not_a_video_match() -> None:
    # The query shows two seconds of the listed clip, then ten of something else: frames match, the video does not.
    painter = vg.pan("coffee", SIZE, speed=0.01, zoom=0.002)
    query = sample(vg.encode(vg.spliced([(2.0, painter), (10.0, vg.pan("retina", SIZE))]), SPEC, seconds=12))
    result = compare(query, sample(listed_clip("coffee")))
    assert result is not None and result.anchors >= 1 and not result.matched


# --- vPDQ files ------------------------------------------------------------------------------------------


def vpdq_text(frames: FrameHashes, fps: float = 12.0) -> str:
    """Frames written the way Meta's vpdq-hash-video does (frame number, quality, hex, timestamp)."""
    return "".join(
        f"{round(t * fps)},{q},{bytes(h).hex()},{t:.3f}\n"
        for h, q, t in zip(frames.pdq, frames.quality, frames.times, strict=True)
    )


def test_vpdq_files_import_as_one_video_entry_that_matches_its_copies() -> None:
    listed = sample(listed_clip("coffee"))
    text = vpdq_text(listed)
    rows = list(Vpdq().rows(text))
    assert all(isinstance(r, FrameRow) for r in rows) and len({r.id for r in rows}) == 1
    entries = list(import_text(text, "listed.txt"))
    assert len(entries) == len(listed) and {e.hash_type for e in entries} == {"vpdq"}
    assert entries[0].id is not None and entries[0].id.startswith("vpdq-") and entries[0].value == text[6:70]
    frames = FrameSet.from_hex(
        [r.value for r in rows if isinstance(r, FrameRow)],
        [int(r.quality or 0) for r in rows if isinstance(r, FrameRow)],
        [float(r.time or 0) for r in rows if isinstance(r, FrameRow)],
    )
    copy = sample(vg.transcode(listed_clip("coffee"), vg.replace(SPEC, options=(("crf", "35"), ("threads", "1")))))
    result = compare(copy, frames)  # a Meta-made list has no region variants: full hashes only
    assert result is not None and result.matched


def test_vpdq_lines_that_are_not_frames_are_reported() -> None:
    good = "0,100," + "ab" * 32 + ",0.000\n"
    with pytest.raises(Exception, match="line 2"):
        list(import_text(good + "1,101," + "cd" * 32 + ",1.000\n", "bad.txt"))
    with pytest.raises(Exception, match="line 2"):
        list(import_text(good + "1,100,xyz,1.000\n", "bad.txt"))
    assert not Vpdq.detect("", "pdq " + "ab" * 32)  # python-threatexchange text stays with its importer


def test_a_listed_still_inside_a_video_is_found_by_libra_scan_with_its_time(tmp_path: Path) -> None:
    """End to end: worker processes sample the video from a stream; the frame finding carries its time."""
    import json

    from scanhelp import cli, make_identity, make_list, records

    identity = tmp_path / "id.txt"
    photos = Path(__file__).parent / "data" / "photos"
    hashlist = make_list(tmp_path, [photos / "rocket.jpg"], make_identity(identity))
    tree = tmp_path / "uploads"
    tree.mkdir()
    video = vg.spliced([(4.0, vg.pan("coffee", SIZE)), (3.0, vg.still("rocket", SIZE)), (4.0, vg.pan("chelsea", SIZE))])
    (tree / "holiday.mp4").write_bytes(vg.encode(video, vg.Spec(size=SIZE), seconds=11))
    (tree / "other.mp4").write_bytes(vg.clip("moon", seconds=3))
    code, out, err = cli("scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "2", "-q")
    assert code == 1, err
    (found,) = records(json.loads(out))
    assert found["location"].endswith("holiday.mp4") and found["media_type"] == "video/mp4"
    times = [m["frame_time"] for m in found["matches"] if m["method"] == "perceptual"]
    assert times and all(4.0 - 1 <= t <= 7.0 + 1 for t in times)


def test_a_listed_video_matches_its_edited_copies_by_the_video_rule_end_to_end(tmp_path: Path) -> None:
    """``libra hash VIDEO --format csv`` -> list -> ``libra scan``: a watermarked and a re-timed copy are
    found as the listed video (with shares and times), a clip sharing only two seconds with it is not,
    and a still of one listed frame is found frame by frame."""
    import csv as csvmod
    import json

    from scanhelp import cli, make_identity, make_list, records

    identity = tmp_path / "id.txt"
    listed = tmp_path / "listed.mp4"
    listed.write_bytes(listed_clip("coffee"))
    hashlist = make_list(tmp_path, [listed], make_identity(identity))
    source = next(tmp_path.glob("*.csv")).read_text()
    rows = [r for r in csvmod.DictReader(source.splitlines()) if r["hash_type"] == "vpdq"]
    assert rows and {r["id"] for r in rows} == {"listed.mp4"} and all(r["time"] and r["quality"] for r in rows)
    assert {r["variant"] for r in rows} >= {"original", "mask-top", "mask-right"}
    tree = tmp_path / "uploads"
    tree.mkdir()
    copies = dict(edits("coffee"))
    (tree / "watermarked.mp4").write_bytes(copies["watermark"])
    (tree / "retimed.mp4").write_bytes(copies["15fps-retimed"])
    painter = vg.pan("coffee", SIZE, speed=0.01, zoom=0.002)
    shared = vg.spliced([(2.0, painter), (10.0, vg.pan("retina", SIZE))])
    (tree / "shared-moment.mp4").write_bytes(vg.encode(shared, SPEC, seconds=12))
    frame = Image.fromarray(next(rgb for t, rgb in vg.decoded(listed_clip("coffee")) if t >= 3.0))
    frame.save(tree / "frame.png")
    code, out, err = cli("scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "1", "-q")
    assert code == 1, err
    found = {Path(r["location"]).name: r for r in records(json.loads(out))}
    assert set(found) == {"watermarked.mp4", "retimed.mp4", "frame.png"}, sorted(found)
    for name in ("watermarked.mp4", "retimed.mp4"):
        (match,) = [m for m in found[name]["matches"] if m["method"] == "perceptual"]
        video = match["video"]
        assert match["hash_type"] == "vpdq" and match["entry"]["id"] == "listed.mp4"
        assert max(video["query_share"], video["listed_share"]) >= 0.8
        assert 0 <= video["first_time"] <= 1.5 and video["last_time"] >= SECONDS - 2
    assert all("video" not in m for m in found["frame.png"]["matches"])
