"""Perceptual matching that never accuses a benign picture, and finds what re-uploads look like (issue 8).

One robust list (``libra hash --robust --perceptual pdq,phash,dhash``) of four sample photos, and one tree
of edited copies and unrelated pictures, scanned once in the default mode and once with ``--deep``; each
test reads the findings of its own file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import imagegen
from libra_cli.api import load_lists
from libra_cli.hashing import hash_ref
from libra_cli.match.matcher import Matcher
from libra_cli.match.relation import relation
from libra_cli.models import HashConfig, MediaRef
from scanhelp import cli, make_identity, make_list, records

LISTED = ("coffee", "chelsea", "rocket", "retina")


def _save(path: Path, img: Image.Image, quality: int = 90) -> Path:
    img.convert("RGB").save(path, "JPEG", quality=quality)
    return path


#: file name -> (picture, which listed photo it is, or None for an unrelated picture)
def _files() -> dict[str, tuple[Image.Image, str | None]]:
    coffee, chelsea, rocket = (imagegen.photo(n) for n in ("coffee", "chelsea", "rocket"))
    return {
        "watermark.jpg": (imagegen.watermark_box(coffee, 3), "coffee"),
        "logo.jpg": (imagegen.logo(chelsea, 0), "chelsea"),
        "banner.jpg": (imagegen.caption_banner(chelsea), "chelsea"),
        "letterbox.jpg": (imagegen.letterbox(rocket, 1), "rocket"),
        "turned.jpg": (imagegen.rotate3(coffee, 0), "coffee"),
        "corner.jpg": (imagegen.corner_crop(chelsea, 2), "chelsea"),
        "inset.jpg": (imagegen.picture_in_picture(coffee, 1, imagegen.photo("grass")), "coffee"),
        "mirror-crop.jpg": (imagegen.mirror_crop(rocket, 2), "rocket"),
        "mirrored.jpg": (coffee.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "coffee"),
        "smaller.jpg": (imagegen.photo("retina").resize((600, 600)), "retina"),
        # retina's coarse structure under gravel's detail: near retina in pHash and dHash, gravel to PDQ
        "twin.jpg": (imagegen.coarse_twin(imagegen.photo("retina"), imagegen.photo("gravel"), cells=10), None),
        **{f"scene{seed}.jpg": (imagegen.scene(seed), None) for seed in range(5)},
    }


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("precision")
    identity = tmp / "identity.txt"
    recipient = make_identity(identity)
    listed = tmp / "listed"
    listed.mkdir()
    images = [_save(listed / f"{name}.jpg", imagegen.photo(name), 92) for name in LISTED]
    hashlist = make_list(tmp, images, recipient, robust=True, extra=("--perceptual", "pdq,phash,dhash"))
    tree = tmp / "uploads"
    tree.mkdir()
    files = _files()
    for name, (img, _) in files.items():
        _save(tree / name, img)
    docs = {}
    for mode, flags in (("default", ()), ("deep", ("--deep",)), ("64-bit", ("--hash-set", "phash,dhash"))):
        code, out, err = cli("scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "1", "-q", *flags)
        assert code in (0, 1), err
        docs[mode] = {Path(r["location"]).name: r for r in records(json.loads(out))}
    return {"docs": docs, "files": files, "tree": tree, "list": hashlist, "identity": identity}


def _found(setup: dict[str, Any], mode: str, name: str) -> set[str]:
    record = setup["docs"][mode].get(name)
    return set() if record is None else {m["entry"]["id"] for m in record["matches"]}


def _listed(setup: dict[str, Any], name: str) -> str:
    return f"{setup['files'][name][1]}.jpg"


# --- Zero false matches by design ------------------------------------------------------------------------


def test_close_64_bit_hashes_of_an_unrelated_picture_are_not_a_finding(setup: dict[str, Any]) -> None:
    twin = setup["tree"] / "twin.jpg"
    lists = load_lists([str(setup["list"])], identities=[str(setup["identity"])])
    result = hash_ref(MediaRef(str(twin), twin.stat().st_size), HashConfig(perceptual=("pdq", "phash", "dhash")))
    # the premise: pHash and dHash within their threshold of the listed retina's, PDQ far from it
    alone = Matcher.build(lists, roles={"phash": "match", "dhash": "match"}).match(result)
    assert {(m.hash_type, m.entry.id) for m in alone} >= {("phash", "retina.jpg")}
    assert all(m.hash_type != "pdq" for m in alone)
    # the rule: they only corroborate, so there is no finding, whether or not the scan computes them
    assert Matcher.build(lists).match(result) == []
    for mode in ("default", "deep", "64-bit"):
        assert "twin.jpg" not in setup["docs"][mode], mode


def test_unrelated_scenes_are_not_findings(setup: dict[str, Any]) -> None:
    for mode in ("default", "deep", "64-bit"):
        assert not [n for n in setup["docs"][mode] if n.startswith("scene")], mode


def test_64_bit_matches_corroborate_a_pdq_match_of_the_same_item(setup: dict[str, Any]) -> None:
    record = setup["docs"]["64-bit"]["smaller.jpg"]
    types = {(m["hash_type"], m["entry"]["id"]) for m in record["matches"]}
    assert {("pdq", "retina.jpg"), ("phash", "retina.jpg"), ("dhash", "retina.jpg")} <= types
    # the default scan does not compute them: they never change whether a file is a finding
    assert {m["hash_type"] for m in setup["docs"]["default"]["smaller.jpg"]["matches"]} == {"pdq"}


# --- Local edits, one family per test ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("banner.jpg", "default"),  # trimmed in every mode
        ("letterbox.jpg", "default"),
        ("turned.jpg", "default"),  # the list's small turns
        ("corner.jpg", "default"),  # the list's corner crops
        ("mirror-crop.jpg", "deep"),  # the file really mirrored meets the list's crops
        ("watermark.jpg", "deep"),  # corner windows away from the mark
        ("logo.jpg", "deep"),
        ("inset.jpg", "deep"),  # the picture found inside another photo
    ],
)
def test_each_edit_family_is_found(setup: dict[str, Any], name: str, mode: str) -> None:
    assert _found(setup, mode, name) == {_listed(setup, name)}


def test_deep_finds_what_the_default_mode_cannot(setup: dict[str, Any]) -> None:
    assert "inset.jpg" not in setup["docs"]["default"]
    assert "inset.jpg" in setup["docs"]["deep"]
    [match] = setup["docs"]["deep"]["inset.jpg"]["matches"]
    assert match["query_variant"] == "inset"


# --- Findings that explain themselves --------------------------------------------------------------------


def test_a_mirrored_file_is_called_mirrored_whichever_side_did_the_mirroring(setup: dict[str, Any]) -> None:
    [match] = setup["docs"]["default"]["mirrored.jpg"]["matches"]
    assert match["transform"] == "mirror"
    assert match["list_variant"] is not None and match["query_variant"] is not None
    assert relation(match["query_variant"], match["list_variant"]) == "mirror"


def test_findings_name_the_list_variant_and_the_region(setup: dict[str, Any]) -> None:
    corner = setup["docs"]["default"]["corner.jpg"]["matches"][0]
    assert corner["list_variant"].startswith("crop") and corner["transform"] == "original"
    watermark = setup["docs"]["deep"]["watermark.jpg"]["matches"][0]
    assert watermark["query_variant"].startswith("region:") or watermark["list_variant"].startswith("mark-")
    banner = setup["docs"]["default"]["banner.jpg"]["matches"][0]
    assert banner["query_variant"] == "trim"


def test_deep_mode_is_opt_in_everywhere(tmp_path: Path) -> None:
    from libra_cli.settings import ScanSettings

    assert ScanSettings.resolve({}).deep is False
    assert ScanSettings.resolve({"deep": True}).deep is True
    assert ScanSettings.resolve({}, {"deep": True}).deep is True  # the config file key
    code, out, _ = cli("scan", "--help")
    assert code == 0 and "--deep" in out
    path = _save(tmp_path / "c.jpg", imagegen.photo("coffee"))
    ref = MediaRef(str(path), path.stat().st_size)
    plain = {t for v in hash_ref(ref, HashConfig()).perceptual for t in v.transforms}
    deep = {t for v in hash_ref(ref, HashConfig(deep=True)).perceptual for t in v.transforms}
    assert not any(t.startswith("region:") for t in plain)
    assert {"region:tl75", "region:br75", "real-mirror"} <= deep


def test_relation_composes_both_sides_like_pillow() -> None:
    pixels = Image.fromarray((np.arange(12, dtype=np.uint8) * 20).reshape(3, 4))
    methods = {
        "original": None,
        "rot90": Image.Transpose.ROTATE_90,
        "rot180": Image.Transpose.ROTATE_180,
        "rot270": Image.Transpose.ROTATE_270,
        "flip": Image.Transpose.FLIP_TOP_BOTTOM,
        "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
        "transpose": Image.Transpose.TRANSPOSE,
        "transverse": Image.Transpose.TRANSVERSE,
    }

    def apply(name: str, img: Image.Image) -> Image.Image:
        method = methods[name]
        return img if method is None else img.transpose(method)

    for listed in methods:
        for query in methods:
            # the file is the listed picture transformed by the relation; hashing it after ``query``
            # gives what the list hashed after ``listed``
            file = apply(relation(query, f"real-{listed}"), pixels)
            assert np.array_equal(np.asarray(apply(query, file)), np.asarray(apply(listed, pixels)))
    assert relation("original", "crop5-center") == "original" and relation("region:tl75", None) == "original"
