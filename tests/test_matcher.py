"""The matcher: exact and perceptual rules, allow-list suppression, and index recall vs brute force."""

from __future__ import annotations

import numpy as np
import pytest

from libra_cli.errors import ConfigError
from libra_cli.hashing import pack
from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.match.index.brute import BRUTE_MAX as BRUTE_FORCE_MAX
from libra_cli.match.matcher import Matcher, default_thresholds
from libra_cli.models import Entry, HashResult, MediaRef, PerceptualHash

DEFAULT_THRESHOLDS = default_thresholds()

RNG = np.random.default_rng(20240601)
REF = MediaRef(uri="/srv/a.jpg", size=1)


def rand_hex(nbytes: int) -> str:
    return RNG.integers(0, 256, nbytes, dtype=np.uint8).tobytes().hex()


def flip(value: str, nbits: int, start: int = 0) -> str:
    """``value`` with bits ``start .. start+nbits-1`` flipped: exactly ``nbits`` away."""
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(value), dtype=np.uint8))
    bits[start : start + nbits] ^= 1
    return np.packbits(bits).tobytes().hex()


def hl(name: str, *entries: Entry) -> HashList:
    return HashList.from_entries(ListInfo(name=name), entries)


def pdq(value: str, *, quality: int | None = 100, variant: str = "original", t: float | None = None) -> PerceptualHash:
    return PerceptualHash("pdq", value, quality=quality, frame_time=t, variant=variant)


def result(digests: dict[str, str] | None = None, *perceptual: PerceptualHash) -> HashResult:
    raw = {name: bytes.fromhex(value) for name, value in (digests or {}).items()}
    return HashResult(ref=REF, media_type="image/jpeg", digests=raw, perceptual=pack(list(perceptual)))


MD5 = rand_hex(16)
SHA256 = rand_hex(32)
P1 = rand_hex(32)


def test_exact_match_reports_entry_and_list() -> None:
    entry = Entry("md5", MD5, id="e1", label="x", category="A1")
    m = Matcher.build([hl("ncmec", Entry("md5", rand_hex(16)), entry)])
    [match] = m.match(result({"md5": MD5, "sha256": SHA256}))
    assert (match.method, match.hash_type, match.distance, match.list) == ("exact", "md5", 0, "ncmec")
    assert match.entry == entry
    assert m.match(result({"md5": rand_hex(16)})) == []


def test_exact_checks_the_full_digest_not_only_the_prefix() -> None:
    near = MD5[:16] + ("0" if MD5[16] != "0" else "1") + MD5[17:]  # same first 8 bytes
    m = Matcher.build([hl("l", Entry("md5", near))])
    assert m.match(result({"md5": MD5})) == []


def test_exact_duplicates_across_lists_all_reported() -> None:
    m = Matcher.build([hl("a", Entry("sha256", SHA256, id="1")), hl("b", Entry("sha256", SHA256, id="2"))])
    matches = m.match(result({"sha256": SHA256}))
    assert [(x.list, x.entry.id) for x in matches] == [("a", "1"), ("b", "2")]


@pytest.mark.parametrize("backend", ["brute", "mih", "native"])
def test_perceptual_boundary_is_inclusive(backend: str) -> None:
    m = Matcher.build([hl("l", Entry("pdq", P1, id="p"))], backend=backend)  # type: ignore[arg-type]
    [at] = m.match(result(None, pdq(flip(P1, 31))))
    assert (at.method, at.hash_type, at.distance, at.entry.id) == ("perceptual", "pdq", 31, "p")
    assert m.match(result(None, pdq(flip(P1, 32)))) == []


#: pHash and dHash only corroborate by default; these tests of their distances let them make findings.
ALONE = {"phash": "match", "dhash": "match"}


def test_custom_threshold_and_64_bit_types() -> None:
    ph, dh = rand_hex(8), rand_hex(8)
    m = Matcher.build([hl("l", Entry("phash", ph), Entry("dhash", dh))], thresholds={"phash": 10}, roles=ALONE)
    assert [x.distance for x in m.match(result(None, PerceptualHash("phash", flip(ph, 10))))] == [10]
    assert m.match(result(None, PerceptualHash("phash", flip(ph, 11)))) == []
    limit = DEFAULT_THRESHOLDS["dhash"]
    assert len(m.match(result(None, PerceptualHash("dhash", flip(dh, limit))))) == 1
    assert m.match(result(None, PerceptualHash("dhash", flip(dh, limit + 1)))) == []
    # a phash query never meets dhash entries, even with the same value
    assert m.match(result(None, PerceptualHash("dhash", ph))) == []


@pytest.mark.parametrize(("quality", "found"), [(49, False), (50, True), (None, True)])
def test_quality_filter(quality: int | None, found: bool) -> None:
    m = Matcher.build([hl("l", Entry("pdq", P1))])
    assert bool(m.match(result(None, pdq(P1, quality=quality)))) is found


def test_min_quality_is_configurable() -> None:
    m = Matcher.build([hl("l", Entry("pdq", P1))], min_quality=10)
    assert m.match(result(None, pdq(P1, quality=20)))


def test_the_file_as_it_is_wins_and_transforms_say_how_the_file_relates() -> None:
    m = Matcher.build([hl("l", Entry("pdq", P1))])
    hashes = [pdq(flip(P1, 20)), pdq(flip(P1, 3), variant="mirror", quality=77), pdq(flip(P1, 9), variant="rot90")]
    [match] = m.match(result(None, *hashes))
    assert (match.distance, match.transform) == (20, "original")  # it matches as it is: not called mirrored
    turned = [pdq(flip(P1, 90)), pdq(flip(P1, 9), variant="rot90", quality=77), pdq(flip(P1, 12), variant="mirror")]
    [match] = m.match(result(None, *turned))
    # Turning the file a quarter counter-clockwise gives the listed picture: the file is it turned clockwise.
    assert (match.distance, match.transform, match.quality) == (9, "rot270", 77)


def test_vpdq_and_pdq_are_one_family_with_frame_time() -> None:
    v = rand_hex(32)
    m = Matcher.build([hl("video", Entry("vpdq", v, id="v")), hl("img", Entry("pdq", P1, id="i"))])
    frame = PerceptualHash("vpdq", flip(P1, 2), quality=90, frame_time=12.5)
    [a] = m.match(result(None, frame))
    assert (a.list, a.hash_type, a.frame_time, a.distance) == ("img", "pdq", 12.5, 2)
    [b] = m.match(result(None, pdq(v)))  # a still matching a listed video frame
    assert (b.list, b.hash_type, b.entry.id) == ("video", "vpdq", "v")
    assert m.needed_perceptual() == frozenset({"pdq", "vpdq"})


def test_multiple_lists_and_methods_are_ordered() -> None:
    m = Matcher.build(
        [
            hl("a", Entry("md5", MD5, id="a-md5"), Entry("pdq", flip(P1, 5), id="a-far")),
            hl("b", Entry("pdq", P1, id="b-near"), Entry("sha256", SHA256, id="b-sha")),
        ]
    )
    matches = m.match(result({"md5": MD5, "sha256": SHA256}, pdq(P1)))
    assert [x.entry.id for x in matches] == ["a-md5", "b-sha", "b-near", "a-far"]
    assert m.needed_digests() == frozenset({"md5", "sha256"})


def test_exact_allow_suppresses_everything_for_the_file() -> None:
    m = Matcher.build(
        [
            hl("bad", Entry("md5", MD5), Entry("pdq", P1)),
            hl("fp", Entry("sha256", SHA256, allow=True)),
        ]
    )
    assert len(m.match(result({"md5": MD5}, pdq(P1)))) == 2
    assert m.match(result({"md5": MD5, "sha256": SHA256}, pdq(P1))) == []


def test_perceptual_allow_suppresses_only_its_family_and_frame() -> None:
    ph = rand_hex(8)
    allow = flip(P1, 100)  # far from P1, but a query can be near both
    m = Matcher.build(
        [
            hl("bad", Entry("md5", MD5, id="x"), Entry("pdq", P1, id="x"), Entry("phash", ph, id="x")),
            hl("fp", Entry("pdq", allow, allow=True)),
        ]
    )
    near_allow = pdq(allow, variant="rot90")
    matches = m.match(result({"md5": MD5}, pdq(P1), near_allow, PerceptualHash("phash", ph)))
    assert sorted((x.method, x.hash_type) for x in matches) == [("exact", "md5"), ("perceptual", "phash")]
    # a video: the allow-listed frame does not hide another frame's match
    # (frame 1.0 is nearer to P1, but it is allow-listed, so the entry is reported from frame 2.0)
    frames = [pdq(allow, t=1.0), pdq(P1, t=1.0, variant="mirror"), pdq(flip(P1, 4), t=2.0)]
    assert [(x.frame_time, x.distance) for x in m.match(result(None, *frames))] == [(2.0, 4)]
    # a low-quality hash cannot trigger the allow list
    assert len(m.match(result(None, pdq(P1), pdq(allow, quality=10)))) == 1


def test_empty_and_unrelated_lists() -> None:
    empty = Matcher.build([])
    assert empty.match(result({"md5": MD5}, pdq(P1))) == []
    assert empty.needed_digests() == frozenset() and empty.needed_perceptual() == frozenset()
    m = Matcher.build([hl("empty"), hl("md5only", Entry("md5", MD5)), hl("dna", Entry("photodna", "xyz"))])
    # hash types the lists do not carry are ignored, not errors
    assert m.match(result({"sha1": rand_hex(20)}, pdq(P1), PerceptualHash("phash", rand_hex(8)))) == []
    assert m.needed_perceptual() == frozenset()
    assert m.stats()["unsupported"] == {"photodna": 1}


def test_match_many_equals_match() -> None:
    lst = hl("l", Entry("md5", MD5), Entry("pdq", P1), *(Entry("pdq", rand_hex(32)) for _ in range(50)))
    m = Matcher.build([lst])
    results = [result({"md5": MD5}), result(None, pdq(flip(P1, 7))), result(None, pdq(rand_hex(32))), result()]
    assert m.match_many(results) == [m.match(r) for r in results]
    assert [len(x) for x in m.match_many(results)] == [1, 1, 0, 0]


@pytest.mark.parametrize(
    ("thresholds", "quality", "message"),
    [
        ({"pdq": 200}, 50, "200"),
        ({"md5": 1}, 50, "'md5'"),
        (None, 101, "101"),
        ({"pdq": True}, 50, "True"),  # YAML 'yes' is a bool, and bool is an int: never a threshold of 1
        ({"phash": -1}, 50, "-1"),
        ({"phash": 32}, 50, "32"),
        (None, True, "True"),
    ],
)
def test_bad_settings_are_named(thresholds: dict[str, int] | None, quality: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Matcher.build([], thresholds=thresholds, min_quality=quality)


def test_auto_backend_switches_on_size() -> None:
    small = Matcher.build([hl("l", Entry("pdq", P1))])
    assert small.stats()["perceptual"] == {"pdq": {"entries": 1, "backend": "brute", "bytes": 32}}
    values = RNG.integers(0, 256, (BRUTE_FORCE_MAX + 1, 32), dtype=np.uint8)
    big = Matcher.build([_bulk_list("big", "pdq", values)])
    assert big.stats()["perceptual"]["pdq"]["backend"] in ("expanded", "native", "mih")  # type: ignore[index]


def _bulk_list(name: str, hash_type: str, values: np.ndarray) -> HashList:
    return hl(name, *(Entry(hash_type, v.tobytes().hex(), id=str(i)) for i, v in enumerate(values)))


@pytest.mark.parametrize(("hash_type", "nbytes"), [("pdq", 32), ("phash", 8)])
@pytest.mark.parametrize("backend", ["mih", "native", "expanded"])
def test_index_recall_equals_brute_force(hash_type: str, nbytes: int, backend: str) -> None:
    """Random entries plus planted neighbours at every distance 0..threshold+2: identical answers."""
    limit = DEFAULT_THRESHOLDS[hash_type]
    values = RNG.integers(0, 256, (3000, nbytes), dtype=np.uint8)
    lst = _bulk_list("l", hash_type, values)
    queries = []
    for d in range(limit + 3):
        # scatter the flipped bits so some chunks take several: the pigeonhole worst cases
        start = (d * 37) % (nbytes * 8 - d) if d else 0
        queries.append(PerceptualHash(hash_type, flip(values[d].tobytes().hex(), d, start)))
    queries += [PerceptualHash(hash_type, rand_hex(nbytes)) for _ in range(40)]
    results = [result(None, q) for q in queries]
    brute = Matcher.build([lst], backend="brute", roles=ALONE).match_many(results)
    index = Matcher.build([lst], backend=backend, roles=ALONE).match_many(results)  # type: ignore[arg-type]
    assert index == brute
    for d in range(limit + 3):
        found = [(x.entry.id, x.distance) for x in index[d]]
        assert ((str(d), d) in found) is (d <= limit), (d, found)


def test_mih_finds_neighbours_spread_evenly_over_chunks() -> None:
    """31 flips as 1-2 per 16-bit chunk: the case where only one chunk is within nflip=1."""
    values = RNG.integers(0, 256, (500, 32), dtype=np.uint8)
    bits = np.unpackbits(values[0])
    for chunk in range(16):
        bits[chunk * 16] ^= 1
        if chunk < 15:
            bits[chunk * 16 + 1] ^= 1
    query = np.packbits(bits).tobytes().hex()
    m = Matcher.build([_bulk_list("l", "pdq", values)], backend="mih")
    assert [(x.entry.id, x.distance) for x in m.match(result(None, pdq(query)))] == [("0", 31)]


def test_lists_as_loaded_match_with_read_only_unaligned_arrays() -> None:
    """Loaded columns are read-only views at odd offsets into the decrypted bytes; every backend copes."""
    from libra_cli.hashlist import payload

    entries = [Entry("pdq", rand_hex(32), id=str(i)) for i in range(BRUTE_FORCE_MAX + 10)]
    entries += [Entry("phash", rand_hex(8)), Entry("md5", MD5, id="m")]
    loaded, _ = payload.decode(payload.encode(hl("l", *entries)), "l")
    assert not any(c.values.flags.writeable for c in loaded.columns.values())
    near = flip(entries[7].value, DEFAULT_THRESHOLDS["pdq"])
    for backend in ("auto", "brute", "mih"):
        m = Matcher.build([loaded, loaded], backend=backend)  # the same list twice: one match per list
        found = m.match(result({"md5": MD5}, pdq(near)))
        assert [(x.method, x.distance, x.entry.id) for x in found] == [("exact", 0, "m")] * 2 + [
            ("perceptual", DEFAULT_THRESHOLDS["pdq"], "7")
        ] * 2, backend
        assert m.match(result(None, pdq(flip(entries[7].value, DEFAULT_THRESHOLDS["pdq"] + 1)))) == []


def test_64_bit_types_only_corroborate_a_match_of_the_same_item() -> None:
    ph = rand_hex(8)
    m = Matcher.build(
        [hl("l", Entry("pdq", P1, id="x"), Entry("phash", ph, id="x"), Entry("phash", flip(ph, 40), id="y"))]
    )
    assert m.needed_perceptual() == frozenset({"pdq", "vpdq"}) and m.corroborating_types() == frozenset({"phash"})
    assert m.match(result(None, PerceptualHash("phash", ph))) == []  # alone: never a finding
    both = m.match(result(None, pdq(flip(P1, 10)), PerceptualHash("phash", flip(ph, 2))))
    assert sorted((x.hash_type, x.entry.id, x.distance) for x in both) == [("pdq", "x", 10), ("phash", "x", 2)]
    # a pHash hit on another item does not ride on item x's PDQ match
    other = m.match(result(None, pdq(flip(P1, 10)), PerceptualHash("phash", flip(ph, 40))))
    assert [(x.hash_type, x.entry.id) for x in other] == [("pdq", "x")]
    # an exact match anchors it too
    exact = Matcher.build([hl("l", Entry("md5", MD5, id="x"), Entry("dhash", ph, id="x"))])
    assert [x.hash_type for x in exact.match(result({"md5": MD5}, PerceptualHash("dhash", ph)))] == ["md5", "dhash"]
    with pytest.raises(ConfigError, match="phash"):
        Matcher.build([], roles={"phash": "sometimes"})  # type: ignore[dict-item]


def _regions(value: str, distances: dict[str, int]) -> list[PerceptualHash]:
    return [pdq(flip(value, d, start=i * 40), variant=name) for i, (name, d) in enumerate(distances.items())]


def test_a_region_match_needs_two_regions_or_a_close_one() -> None:
    from libra_cli.match.matcher import REGION_AGREEMENT, REGION_THRESHOLD

    assert (REGION_AGREEMENT, REGION_THRESHOLD) == (2, 24)
    tl, tr = rand_hex(32), rand_hex(32)
    m = Matcher.build(
        [hl("l", Entry("pdq", tl, id="x", variant="region:tl75"), Entry("pdq", tr, id="x", variant="region:tr75"))]
    )
    # one region within 31 but beyond 24: not enough alone ...
    assert m.match(result(None, pdq(rand_hex(32)), *_regions(tl, {"region:tl75": 28}))) == []
    # ... within 24 it is; so are two regions of the file agreeing on the item, each within 31
    [close] = m.match(result(None, pdq(rand_hex(32)), *_regions(tl, {"region:tl75": 24})))
    assert (close.query_variant, close.list_variant, close.transform) == ("region:tl75", "region:tl75", "original")
    two = m.match(
        result(
            None, pdq(rand_hex(32)), pdq(flip(tl, 30), variant="region:tl75"), pdq(flip(tr, 29), variant="region:tr75")
        )
    )
    assert sorted(x.distance for x in two) == [29, 30]
    # the whole picture matching a listed region is a region match too (the file is a corner of the picture)
    assert m.match(result(None, pdq(flip(tl, 28)))) == []
    # ... and it stands alone: the file as it is and its mirror meeting two listed windows are not two regions
    assert m.match(result(None, pdq(flip(tl, 28)), pdq(flip(tr, 29), variant="mirror"))) == []
    # an inset (a picture found inside the file) stands alone too, beside a whole-file-vs-window pair
    whole = rand_hex(32)
    w = Matcher.build([hl("l", Entry("pdq", whole, id="y", variant="original"),
                          Entry("pdq", tl, id="y", variant="region:tl75"))])  # fmt: skip
    assert w.match(result(None, pdq(flip(tl, 28)), pdq(flip(whole, 28), variant="inset"))) == []
    # whole-picture matches keep the plain rule
    plain = Matcher.build([hl("l", Entry("pdq", P1, id="p", variant="crop5-center"))])
    [whole] = plain.match(result(None, pdq(flip(P1, 31)), pdq(flip(P1, 3), variant="trim")))
    assert (whole.distance, whole.query_variant, whole.list_variant) == (3, "trim", "crop5-center")


def test_list_variants_compose_with_query_variants() -> None:
    mirror, turned = rand_hex(32), rand_hex(32)
    m = Matcher.build(
        [
            hl(
                "l",
                Entry("pdq", mirror, id="p", variant="real-mirror"),
                Entry("pdq", turned, id="q", variant="real-rot90"),
            )
        ]
    )
    [found] = m.match(result(None, pdq(flip(mirror, 4)), pdq(rand_hex(32), variant="mirror")))
    # the file hashed as it is equals the list's real mirror of the picture: the file is mirrored
    assert (found.transform, found.query_variant, found.list_variant) == ("mirror", "original", "real-mirror")
    [found] = m.match(result(None, pdq(rand_hex(32)), pdq(flip(turned, 2), variant="rot90")))
    # the file turned a quarter counter-clockwise equals the picture turned the same way: the file is as listed
    assert (found.entry.id, found.transform, found.query_variant) == ("q", "original", "rot90")
    [found] = m.match(result(None, pdq(rand_hex(32)), pdq(flip(turned, 2), variant="rot270")))
    assert (found.entry.id, found.transform) == ("q", "rot180")


def test_an_unnamed_turned_copy_in_the_list_leaves_the_transform_unknown() -> None:
    """A list that records no variants but holds turned copies of a picture under one id (the demo list once
    did) cannot tell which of its rows is the picture as it is: no mirror or turn is claimed then."""
    as_is, turned = rand_hex(32), rand_hex(32)
    m = Matcher.build([hl("l", Entry("pdq", as_is, id="r"), Entry("pdq", turned, id="r"))])
    resized = m.match(result(None, pdq(flip(as_is, 8)), pdq(flip(turned, 2), variant="rot90")))
    assert sorted((x.distance, x.transform) for x in resized) == [(2, "unknown"), (8, "unknown")]
    rotated = m.match(result(None, pdq(flip(turned, 3)), pdq(flip(as_is, 5), variant="rot270")))
    assert {x.transform for x in rotated} == {"unknown"}
    # one unnamed row per item (an imported list): the relation stands
    [alone] = Matcher.build([hl("l", Entry("pdq", as_is, id="r"))]).match(
        result(None, pdq(rand_hex(32)), pdq(flip(as_is, 5), variant="rot270"))
    )
    assert alone.transform == "rot90"


def test_collapse_reports_the_file_as_it_is_when_it_matches() -> None:
    from libra_cli.pipeline import collapse

    as_is, turned = rand_hex(32), rand_hex(32)
    m = Matcher.build([hl("l", Entry("pdq", as_is, id="r"), Entry("pdq", turned, id="r"))])
    [kept] = collapse(m.match(result(None, pdq(flip(as_is, 8)), pdq(flip(turned, 2), variant="rot90"))))
    assert (kept.distance, kept.query_variant) == (8, "original")
