"""The near band (issue 15): a PDQ distance just past the match threshold is a suspected candidate, never a match."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import imagegen
from libra_cli.context import ContextOptions, ContextStage
from libra_cli.errors import ConfigError
from libra_cli.hashers.pdq import pdq_hex
from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.match.index import BruteIndex, NativeIndex
from libra_cli.match.matcher import Matcher
from libra_cli.match.nearband import Band
from libra_cli.models import Entry, HashResult, HashValues, Match, MediaRef
from libra_cli.settings import ScanSettings
from scanhelp import cli, make_identity, make_list, records

RNG = np.random.default_rng(15)


def _flip(code: np.ndarray, flips: int, rng: np.random.Generator) -> np.ndarray:
    bits = np.unpackbits(code).copy()
    bits[rng.choice(256, flips, replace=False)] ^= 1
    return np.packbits(bits)


def test_a_widened_native_index_shares_its_tables_and_finds_exactly_what_brute_force_finds() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (4000, 32), dtype=np.uint8)
    queries = np.stack([_flip(codes[i * 7], d, rng) for i, d in enumerate(range(20, 60))] + [codes[5]])
    index = NativeIndex(codes, 31, threads=1)
    wide = index.widened(48)
    assert wide.tables is index.tables and wide.radius == 48  # no second table: only the flip masks differ
    assert wide.nbytes() - index.nbytes() < index.tables.nbytes() // 100
    expected = BruteIndex(codes, 48).search(queries)
    found = wide.search(queries)
    assert all(np.array_equal(a, b) for a, b in zip(found, expected, strict=True))
    assert int(expected[2].max()) == 48  # the band's far edge is inside, 49 is not
    narrow = index.search(queries)  # the match index itself is unchanged
    assert all(np.array_equal(a, b) for a, b in zip(narrow, BruteIndex(codes, 31).search(queries), strict=True))


def test_band_parses_and_refuses_bands_that_reach_unrelated_pictures() -> None:
    assert Band.parse("32..48") == Band(32, 48) and Band.parse([33, 40]) == Band(33, 40)
    assert Band.parse("off") is None and Band.parse(False) is None
    for bad in ("32-48", "48..32", "0..10", "40..90", "x"):
        with pytest.raises(ConfigError, match="--near-band"):
            Band.parse(bad)
    assert ScanSettings.resolve({}).near_band == Band(32, 48)
    assert ScanSettings.resolve({}, {"near_band": "off"}).near_band is None


def _values(code: np.ndarray, quality: int = 90, names: tuple[str, ...] = ("original",)) -> HashValues:
    rows = np.stack([code] * len(names))
    return HashValues("pdq", rows, names, np.full(len(names), quality, np.uint8))


def _result(name: str, values: HashValues | None) -> HashResult:
    return HashResult(MediaRef(f"/srv/{name}.jpg", 10), "image/jpeg", {}, () if values is None else (values,))


def test_the_matcher_returns_the_same_matches_and_near_band_candidates_only_for_unmatched_originals() -> None:
    rng = np.random.default_rng(2)
    listed = rng.integers(0, 256, (1500, 32), dtype=np.uint8)
    entries = [Entry("pdq", bytes(c).hex(), id=f"E{i}") for i, c in enumerate(listed)]
    allowed = _flip(listed[9], 36, rng)  # a known false positive, 36 bits from entry E9
    entries.append(Entry("pdq", bytes(allowed).hex(), id="OK", allow=True))
    matcher = Matcher.build([HashList.from_entries(ListInfo(name="hotline"), entries)], backend="native")
    results = [
        _result("match", _values(_flip(listed[0], 20, rng))),
        _result("near", _values(_flip(listed[1], 40, rng))),
        _result("far", _values(_flip(listed[2], 60, rng))),
        _result("flat", _values(_flip(listed[3], 40, rng), quality=30)),  # under the quality floor
        _result("turned", _values(_flip(listed[4], 40, rng), names=("rot90",))),  # only the original is searched
        _result("benign", _values(_flip(allowed, 4, rng))),  # near E9, but within the threshold of an allow entry
        _result("none", None),
    ]
    plain = matcher.match_many(results)
    near_videos: list[list[object]] = [[] for _ in results]
    assert matcher.match_many(results, near_videos) == plain  # type: ignore[arg-type]
    assert [bool(m) for m in plain] == [True, False, False, False, False, False, False]
    band = matcher.near_band(Band(32, 48))
    assert band is not None
    found = band.search(results, [bool(m) for m in plain])
    assert [len(c) for c in found] == [0, 1, 0, 0, 0, 0, 0]
    (candidate,) = found[1]
    assert candidate.signal == "near-band" and candidate.entry.id == "E1" and candidate.distance == 40
    assert candidate.list == "hotline" and candidate.record()["band"] == "32..48"
    assert matcher.match_many(results) == plain  # searching the band changed nothing


def test_a_near_band_file_alone_is_suspected_with_its_reason_and_beside_a_match_scores_higher() -> None:
    rng = np.random.default_rng(3)
    code = rng.integers(0, 256, 32, dtype=np.uint8)
    matcher = Matcher.build(
        [HashList.from_entries(ListInfo(name="hotline"), [Entry("pdq", bytes(code).hex(), id="E")])]
    )
    band = matcher.near_band(Band())
    assert band is not None
    lone, beside = _result("a/lone", _values(_flip(code, 35, rng))), _result("b/beside", _values(_flip(code, 35, rng)))
    plain = _result("b/plain", _values(rng.integers(0, 256, 32, dtype=np.uint8)))
    cands = band.search([lone, beside, plain])
    stage = ContextStage(ContextOptions())
    match = Match("exact", "md5", 0, "hotline", Entry("md5", "00" * 16, id="M"))
    stage.see(_result("b/match", None), [match])
    for result, own in zip([lone, beside, plain], cands, strict=True):
        stage.see(result, [], candidates=own)
    found = {f.ref.uri: f.suspected or {} for f in stage.finish().findings}
    assert set(found) == {"/srv/a/lone.jpg", "/srv/b/beside.jpg", "/srv/b/plain.jpg"}
    alone = found["/srv/a/lone.jpg"]
    assert alone["signals"] == ["near-band"] and alone["cluster"] is None
    assert 0.5 <= float(str(alone["score"])) <= 0.8
    assert any("near band: PDQ distance 35 to entry E" in r for r in alone["reasons"])  # type: ignore[union-attr]
    assert alone["candidates"] == [{"signal": "near-band", "list": "hotline", "entry": "E", "distance": 35,
                                    "band": "32..48", "threshold": 31}]  # fmt: skip
    both = found["/srv/b/beside.jpg"]
    assert both["signals"] == ["colocation", "near-band"]
    assert float(str(both["score"])) > max(float(str(alone["score"])), float(str(found["/srv/b/plain.jpg"]["score"])))


@pytest.fixture(scope="module")
def near_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    """A listed photo and, in the scanned folder, the same photo with a logo stamped on: just past 31 bits."""
    tmp = tmp_path_factory.mktemp("nearband")
    source = imagegen.photo("rocket")
    (tmp / "listed").mkdir()
    listed_img = tmp / "listed" / "rocket.png"
    source.save(listed_img)
    scanned = tmp / "scan"
    (scanned / "alice").mkdir(parents=True)
    stamped = imagegen.logo(source)
    stamped.save(scanned / "alice" / "stamped.png")
    imagegen.scene(7).save(scanned / "alice" / "other.png")
    a, _ = pdq_hex(source)
    b, _ = pdq_hex(stamped)
    distance = int(
        np.unpackbits(np.frombuffer(bytes.fromhex(a), np.uint8) ^ np.frombuffer(bytes.fromhex(b), np.uint8)).sum()
    )
    assert 32 <= distance <= 48, distance  # the premise: the stamp moves it into the default band
    key = tmp / "id.key"
    listed = make_list(tmp, [listed_img], make_identity(key))
    return tmp, scanned, listed, key


def test_a_scan_reports_a_near_band_file_as_suspected_only_with_suspected_and_never_as_a_match(
    near_pair: tuple[Path, Path, Path, Path],
) -> None:
    _, scanned, listed, key = near_pair
    base = ["scan", str(scanned), "-l", str(listed), "-i", str(key), "-f", "json", "-w", "1"]
    code, out, err = cli(*base)
    assert code == 0, err
    assert records(json.loads(out), "match", "suspected") == []  # off without --suspected
    code, out, err = cli(*base, "--suspected")
    assert code == 0, err  # a candidate never makes a clean scan exit 1
    doc = json.loads(out)
    assert records(doc) == []
    (record,) = records(doc, "suspected")
    assert record["location"].endswith("stamped.png") and record["matches"] == []
    assert record["suspected"]["signals"] == ["near-band"]
    assert (
        record["suspected"]["candidates"][0]["entry"] and 32 <= record["suspected"]["candidates"][0]["distance"] <= 48
    )
    code, out, _ = cli(*base, "--suspected", "--near-band", "off")
    assert code == 0 and records(json.loads(out), "suspected") == []
    code, _, err = cli(*base, "--suspected", "--near-band", "20..99")
    assert code == 2 and "--near-band" in err and "Traceback" not in err


# --- Partial video -----------------------------------------------------------------------------------------

VIDEO_SIZE = (160, 120)


def test_a_video_sharing_a_few_seconds_with_a_listed_video_is_a_partial_video_candidate_not_a_match(
    tmp_path: Path,
) -> None:
    """The listed clip is 6 s; the scanned video shows 2 s of it, then 10 s of something else: the video rule
    turns it down (no match), and with --suspected it is suspected, reason ``partial-video``, with shares and
    times. A whole copy still matches, and an unrelated clip is neither."""
    import videogen as vg

    spec = vg.Spec("mp4", "libx264", size=VIDEO_SIZE, fps=12, options=(("preset", "veryfast"), ("threads", "1")))
    painter = vg.pan("coffee", VIDEO_SIZE, speed=0.01, zoom=0.002)
    listed = tmp_path / "listed.mp4"
    listed.write_bytes(vg.encode(painter, spec, seconds=6))
    identity = tmp_path / "id.txt"
    hashlist = make_list(tmp_path, [listed], make_identity(identity))
    tree = tmp_path / "uploads"
    tree.mkdir()
    shared = vg.spliced([(2.0, painter), (10.0, vg.pan("retina", VIDEO_SIZE))])
    (tree / "shared-moment.mp4").write_bytes(vg.encode(shared, spec, seconds=12))
    (tree / "copy.mp4").write_bytes(vg.encode(painter, spec, seconds=6))
    (tree / "unrelated.mp4").write_bytes(vg.encode(vg.pan("grass", VIDEO_SIZE), spec, seconds=6))
    base = ["scan", str(tree), "-l", str(hashlist), "-i", str(identity), "-w", "1", "-f", "json"]
    code, out, err = cli(*base)
    assert code == 1, err
    plain = json.loads(out)
    assert [Path(r["location"]).name for r in records(plain)] == ["copy.mp4"]
    code, out, err = cli(*base, "--suspected", "--group-by", "account")  # no folder: only its own signals count
    assert code == 1, err
    doc = json.loads(out)
    assert records(doc) == records(plain)  # the matches are exactly the same with the candidates on
    (record,) = records(doc, "suspected")
    assert Path(record["location"]).name == "shared-moment.mp4" and record["matches"] == []
    suspected = record["suspected"]
    assert suspected["signals"] == ["partial-video"] and suspected["cluster"] is None
    (candidate,) = suspected["candidates"]
    assert candidate["signal"] == "partial-video" and candidate["entry"] == "listed.mp4"
    assert max(candidate["query_share"], candidate["listed_share"]) >= 0.2
    assert max(candidate["query_share"], candidate["listed_share"]) < 0.8
    assert 0 <= candidate["first_time"] <= candidate["last_time"] <= 3.0
    assert any(r.startswith("partial video:") for r in suspected["reasons"])
    assert 0.48 <= suspected["score"] <= 0.8


def test_a_candidate_never_names_its_listed_value() -> None:
    from libra_cli.match.candidates import Candidate
    from libra_cli.models import Entry

    value = "ab" * 32
    anonymous = Candidate("near-band", "l", Entry("pdq", value), 35)
    assert value not in str(anonymous.record()) and anonymous.entry_id.startswith("#")
    assert Candidate("near-band", "l", Entry("pdq", value, id="x"), 35).entry_id == "x"
