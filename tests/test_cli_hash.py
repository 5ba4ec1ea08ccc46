"""``libra hash``: JSON per file, CSV list sources, robust variants, errors."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

from scanhelp import cli


def test_json_has_digests_and_perceptual_hashes(tmp_path: Path, photos: Path) -> None:
    shutil.copy(photos / "coffee.jpg", tmp_path / "a.jpg")
    (tmp_path / "b.txt").write_text("plain text")
    code, out, err = cli("hash", str(tmp_path), "--workers", "1")
    assert code == 0 and [Path(r["location"]).name for r in json.loads(out)] == ["a.jpg"]
    assert "left out 1 file that" in err
    code, out, _ = cli("hash", str(tmp_path), "--workers", "1", "--all-files")
    by_name = {Path(r["location"]).name: r for r in json.loads(out)}
    image, text = by_name["a.jpg"], by_name["b.txt"]
    assert image["digests"]["sha256"] == hashlib.sha256((photos / "coffee.jpg").read_bytes()).hexdigest()
    assert image["media_type"] == "image/jpeg"
    assert {p["hash_type"] for p in image["perceptual"]} == {"pdq"}  # pHash, dHash only when asked for
    pdq = next(p for p in image["perceptual"] if p["hash_type"] == "pdq")
    assert len(pdq["value"]) == 64 and pdq["quality"] >= 50
    assert text["media_type"] is None and text["perceptual"] == [] and set(text["digests"]) == {
        "md5", "sha1", "sha256", "blake3"
    }  # fmt: skip


def test_csv_is_a_list_source_and_robust_adds_rows(tmp_path: Path, photos: Path) -> None:
    shutil.copy(photos / "rocket.jpg", tmp_path / "r.jpg")
    _, plain, _ = cli("hash", str(tmp_path), "-f", "csv", "-w", "1", "--label", "L", "--category", "B")
    _, robust, _ = cli("hash", str(tmp_path), "-f", "csv", "-w", "1", "--robust")
    rows = list(csv.DictReader(io.StringIO(plain)))
    assert list(rows[0]) == ["hash_type", "hash", "id", "label", "category", "allow", "variant", "time", "quality"]
    assert {r["id"] for r in rows} == {"r.jpg"} and {r["label"] for r in rows} == {"L"}
    assert [(r["hash_type"], r["variant"]) for r in rows if r["variant"]] == [("pdq", "original")]
    robust_rows = list(csv.DictReader(io.StringIO(robust)))
    variants = [r["variant"] for r in robust_rows if r["hash_type"] == "pdq"]
    assert variants[0] == "original" and {"real-mirror", "crop15-topleft", "region:br75"} <= set(variants)
    assert len({r["hash"] for r in robust_rows}) == len(robust_rows)  # no duplicate rows


def test_digest_choice_and_errors(tmp_path: Path, photos: Path) -> None:
    shutil.copy(photos / "moon.jpg", tmp_path / "m.jpg")
    code, out, _ = cli("hash", str(tmp_path / "m.jpg"), "--digests", "md5", "-w", "1")
    assert code == 0 and set(json.loads(out)[0]["digests"]) == {"md5"}
    code, out, err = cli("hash", str(tmp_path), "--digests", "crc32")
    assert code == 2 and "'crc32' is not an exact digest" in err and "Traceback" not in err
    code, _, err = cli("hash", str(tmp_path / "missing.jpg"), "-w", "1")
    assert code == 2 and "missing.jpg" in err


def _faded(seconds_faint: float, seconds_clear: float) -> bytes:
    """A clip of a benign photo: first almost flat (faded to grey: PDQ quality far below 50), then clear."""
    import numpy as np

    import videogen as vg

    clear = vg.still("coffee", (160, 120))

    def paint(t: float) -> np.ndarray:
        frame = clear(t)
        if t >= seconds_faint:
            return frame
        return np.clip(128 + (frame.astype(np.float32) - 128) * 0.03, 0, 255).astype(np.uint8)

    return vg.encode(paint, vg.Spec(size=(160, 120)), seconds=seconds_faint + seconds_clear)


def test_csv_leaves_out_video_frames_below_the_quality_floor(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(_faded(2, 2))
    code, out, err = cli("hash", str(tmp_path / "v.mp4"), "-f", "csv", "-w", "1")
    assert code == 0, err
    frames = [r for r in csv.DictReader(io.StringIO(out)) if r["hash_type"] == "vpdq"]
    originals = {float(r["time"]): int(r["quality"]) for r in frames if r["variant"] == "original"}
    assert originals and min(originals) >= 2 and min(originals.values()) >= 50  # the faded frames are gone ...
    assert {float(r["time"]) for r in frames} == set(originals)  # ... with their masked variants
    assert "exact digest" not in err
    # JSON keeps every frame, each named as a video frame with its time (as the CSV names them)
    code, out, _ = cli("hash", str(tmp_path / "v.mp4"), "-w", "1")
    perceptual = json.loads(out)[0]["perceptual"]
    assert {p["hash_type"] for p in perceptual} == {"vpdq"} and all("frame_time" in p for p in perceptual)
    assert min(p["quality"] for p in perceptual) < 50 and min(p["frame_time"] for p in perceptual) < 2


def test_csv_warns_when_a_video_has_no_usable_frame(tmp_path: Path) -> None:
    (tmp_path / "flat.mp4").write_bytes(_faded(2, 0))
    code, out, err = cli("hash", str(tmp_path), "-f", "csv", "-w", "1")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["hash_type"] for r in rows} == {"md5", "sha1", "sha256", "blake3"}
    [line] = [x for x in err.splitlines() if "flat.mp4" in x]
    assert line.startswith("libra: ") and "only by its exact digests" in line
