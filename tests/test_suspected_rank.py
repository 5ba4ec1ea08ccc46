"""Ranking suspected files by scene windows (``hashers/scene.py``, ``context/scene.py``): other framings of
a match's scene (crops, shifts, zooms) rank above unrelated photos; the windows never make a match."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagegen
import simhost
from libra_cli.api import hash_config
from libra_cli.context.scene import FAR, distance, scene_rows
from libra_cli.hashers.scene import SCENE, boxes
from libra_cli.hashing import pack
from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.match.matcher import Matcher
from libra_cli.models import Entry, HashResult, MediaRef
from libra_cli.settings import ScanSettings
from scanhelp import cli, make_identity, make_list, records


def _rows(img: Image.Image) -> np.ndarray:
    result = HashResult(MediaRef("/x.jpg", 1), "image/jpeg", perceptual=pack(SCENE.hash_image(img.convert("L"))))
    rows = scene_rows(result)
    assert rows is not None
    return rows


def test_a_crop_shift_or_zoom_is_nearer_in_scene_windows_than_other_photos() -> None:
    rng = np.random.default_rng(7)
    source = imagegen.photo("chelsea")
    listed = _rows(simhost.framing(source, rng, (256, 192), "listed"))
    same = [_rows(simhost.framing(source, rng, (256, 192), kind)) for kind in ("crop", "shift", "zoom") * 2]
    others = [_rows(simhost.framing(imagegen.photo(name), rng, (256, 192), "crop")) for name in ("coffee", "rocket")]
    others.append(_rows(simhost.lookalike(imagegen.photo("coins"), source)))
    near = [distance(r, listed) for r in same]
    far = [distance(r, listed) for r in others]
    assert np.median(near) < min(far)  # most framings sit nearer than every unrelated photo
    assert min(far) >= FAR - 4  # unrelated photos get little or no similarity credit


def test_windows_cover_four_scales_and_flat_pictures_have_none_worth_comparing() -> None:
    assert len(boxes((400, 300))) == len(SCENE.hash_image(Image.new("L", (400, 300), 90))) == 76
    assert boxes((400, 300))[0] == (0.0, 0.0, 400.0, 300.0)
    flat = HashResult(MediaRef("/f.png", 1), "image/png", perceptual=pack(SCENE.hash_image(Image.new("L", (64, 64)))))
    assert scene_rows(flat) is None  # sky, walls, black space look alike in any two pictures
    for size in ((1, 1), (3, 900), (900, 3)):  # tiny and thin pictures: hashed, never an error
        assert len(SCENE.hash_image(Image.new("L", size, 10))) == 76


def test_scene_windows_are_computed_only_with_suspected_and_never_indexed() -> None:
    pdq_list = Matcher.build([HashList.from_entries(ListInfo(name="p"), [Entry("pdq", "ab" * 32, id="P-1")])])
    assert "scene" not in hash_config(ScanSettings.resolve({}), pdq_list).perceptual
    on = ScanSettings.resolve({}, {"suspected": True})
    assert "scene" in hash_config(on, pdq_list).perceptual
    assert "scene" not in hash_config(on, Matcher.build([])).perceptual  # no PDQ list: nothing to rank with
    windows = SCENE.hash_image(imagegen.photo("coffee").convert("L"))
    listed = HashList.from_entries(ListInfo(name="scenes"), [Entry("scene", windows[0].value, id="S-1")])
    built = Matcher.build([listed])
    assert built.needed_perceptual() == frozenset()  # a list's scene column is never an index
    same = HashResult(MediaRef("/x.jpg", 1), "image/jpeg", perceptual=pack(windows))
    assert built.match(same) == []


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> tuple[simhost.Host, Path, Path]:
    tmp = tmp_path_factory.mktemp("rankhost")
    built = simhost.build(tmp / "uploads", accounts=16, matched=3, series=6, unrelated=6, seed=5)
    key = tmp / "id.key"
    return built, make_list(tmp, built.listed, make_identity(key)), key


def test_in_matched_accounts_the_series_outranks_unrelated_photos_without_batches(
    host: tuple[simhost.Host, Path, Path],
) -> None:
    built, listed, key = host
    args = ["scan", str(built.root), "-l", str(listed), "-i", str(key), "-f", "json", "-w", "1", "--suspected"]
    code, out, _ = cli(*args, "--group-by", "folder,account", "--account-pattern", f"{built.root}/{{account}}/")
    doc = json.loads(out)
    assert code == 1
    matched = {r["location"] for r in records(doc)}
    suspected = {r["location"]: r["suspected"] for r in records(doc, "suspected")}
    assert matched == {str(p) for p in built.listed} and not matched & set(suspected)  # never a match
    scores = {loc: float(s["score"]) for loc, s in suspected.items()}
    series = [scores.get(x, 0.0) for x in built.of("series")]
    unrelated = [scores.get(x, 0.0) for x in built.of("unrelated")]
    assert simhost.auc(series, unrelated) >= 0.9
    explained = [s for loc, s in suspected.items() if loc in built.of("series")]
    assert all("scene_distance" in s for s in explained)
    alike = [s for s in explained if any(str(r).startswith("similar-to-match") for r in s["reasons"])]
    assert len(alike) >= len(explained) // 2
