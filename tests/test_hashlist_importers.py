"""Every importer: detected by content, read into normalised entries; bad lines named precisely."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from libra_cli import signals
from libra_cli.errors import HashListError
from libra_cli.hashlist import build_hashlist, import_source
from libra_cli.hashlist.importers import BY_NAME, IMPORTERS, ImportReport, import_text

HASH_TYPES = set(signals.names())

SOURCES = Path(__file__).parent / "data" / "sources"


def h(alg: str, text: str) -> str:
    """How the samples were made: digests of made-up strings (never real list entries)."""
    return hashlib.new(alg, text.encode()).hexdigest()


# sample file -> (detected format, expected (hash_type, value) pairs in order)
CASES = {
    "sample.csv": ("libra-csv", [
        ("md5", h("md5", "libra sample one")),
        ("sha256", h("sha256", "libra sample one")),
        ("pdq", h("sha256", "libra sample pdq")),
        ("phash", h("md5", "libra sample phash")[:16]),
        ("md5", h("md5", "libra sample allow")),
    ]),
    "sample.md5": ("sums", [("md5", h("md5", "libra md5sum a")), ("md5", h("md5", "libra md5sum b"))]),
    "sample.sha256": ("sums", [("sha256", h("sha256", "libra sha256sum a"))]),
    "sample-tag.sha1": ("sums", [("sha1", h("sha1", "libra tag a")), ("md5", h("md5", "libra tag b"))]),
    "sample.hashdeep": ("hashdeep", [
        ("md5", h("md5", "libra hashdeep a")), ("sha256", h("sha256", "libra hashdeep a")),
        ("md5", h("md5", "libra hashdeep b")), ("sha256", h("sha256", "libra hashdeep b")),
    ]),
    "sample-vpdq.txt": ("vpdq", [("vpdq", h("sha256", "libra vpdq a")), ("vpdq", h("sha256", "libra vpdq b"))]),
    "sample.hdb": ("clamav", [("md5", h("md5", "libra clam a")), ("md5", h("md5", "libra clam b"))]),
    "sample.hsb": ("clamav", [("sha256", h("sha256", "libra clam c")), ("sha1", h("sha1", "libra clam d"))]),
    "sample-threatexchange.txt": ("threatexchange", [
        ("pdq", h("sha256", "libra te a")), ("pdq", h("sha256", "libra te b")), ("md5", h("md5", "libra te c")),
    ]),
    "sample-vics.json": ("vics", [
        ("md5", h("md5", "libra vics 1")), ("sha1", h("sha1", "libra vics 1")),
        ("photodna", "TGlicmEgc2FtcGxlIG5vdCBhIHJlYWwgUGhvdG9ETkE="),
        ("md5", h("md5", "libra vics 2")),
        ("md5", h("md5", "libra vics 3")), ("sha1", h("sha1", "libra vics 3")),
    ]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_sample_is_detected_and_read(name: str) -> None:
    fmt, expected = CASES[name]
    report = ImportReport()
    entries = list(import_source(str(SOURCES / name), report=report))
    assert report.formats == {name: fmt}
    assert [(e.hash_type, e.value) for e in entries] == expected
    assert all(e.hash_type in HASH_TYPES for e in entries)


def test_every_importer_has_a_sample_and_a_unique_name() -> None:
    assert len(BY_NAME) == len(IMPORTERS)
    assert {fmt for fmt, _ in CASES.values()} == set(BY_NAME)


def test_csv_metadata_and_allow_flags() -> None:
    entries = list(import_source(str(SOURCES / "sample.csv")))
    first, last = entries[0], entries[-1]
    assert (first.id, first.label, first.category, first.allow) == ("s-1", "sample one", "A", False)
    assert (last.label, last.category, last.allow) == ("known false positive", None, True)
    assert entries[2].label is None  # empty field -> None


def test_vics_keeps_ids_categories_and_photodna() -> None:
    entries = list(import_source(str(SOURCES / "sample-vics.json")))
    assert entries[0].value == h("md5", "libra vics 1")  # uppercase normalised
    assert {e.id for e in entries} == {"1", "2", "3"}
    assert entries[3].category == "3"
    assert sum(e.hash_type == "photodna" for e in entries) == 1


def test_file_and_signature_names_become_ids() -> None:
    """The name that identifies an item (a file name, a ClamAV signature name) is the entry's id, not a label."""
    clam = list(import_source(str(SOURCES / "sample.hdb")))
    assert [(e.id, e.label) for e in clam] == [("Libra.Sample.A", None), ("Libra.Sample.B", None)]
    deep = list(import_source(str(SOURCES / "sample.hashdeep")))
    assert (deep[0].id, deep[0].label) == ("/samples/a, with comma.jpg", None)
    for source in ("sample.md5", "sample-tag.sha1"):
        sums = list(import_source(str(SOURCES / source)))
        assert sums and all(e.id and e.label is None for e in sums), source
    assert next(import_text(f"{h('md5', 'x')}  photos/a b.jpg\n", "s")).id == "photos/a b.jpg"


def test_bad_line_names_file_line_and_value() -> None:
    with pytest.raises(HashListError) as err:
        list(import_source(str(SOURCES / "bad.csv")))
    assert str(err.value) == "bad.csv line 4: 'xyz' is not a valid md5 digest"


def test_skip_invalid_counts_and_reports_every_bad_line() -> None:
    report = ImportReport()
    entries = list(import_source(str(SOURCES / "bad.csv"), skip_invalid=True, report=report))
    assert [e.id for e in entries] == ["1"]
    assert report.invalid == 3
    assert report.messages[1] == f"bad.csv line 5: '{h('md5', 'libra bad short')}' is not a valid sha1 digest"
    assert report.messages[2] == "bad.csv line 6: 'maybe' is not an allow flag (0/1 or true/false)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hash_type,hash\nsha512," + "ab" * 64 + "\n", "src line 2: 'sha512' is not a hash type libra knows"),
        ("pdq " + "ab" * 31 + "\n", "src line 1: '" + "ab" * 31 + "' is not a valid pdq hash"),
        (h("md5", "x")[:30] + "  a.jpg\n", "src: is not a hash-list source libra recognises"),
        ("ab" * 16 + ":12:Name\nnot a signature\n", "src line 2: 'not a signature' is not a ClamAV hash signature"),
        ('{"value": [{"MediaID": 1}]}', "src item 1: carries no MD5, SHA1, SHA256 or PhotoDNA value"),
        ("   \n\n", "src: is empty"),
    ],
)
def test_errors_are_one_sentence_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(HashListError) as err:
        list(import_text(text, "src"))
    assert str(err.value).startswith(message)


def test_binary_and_missing_sources_are_refused(tmp_path: Path) -> None:
    blob = tmp_path / "photo.jpg"
    blob.write_bytes(b"\xff\xd8\xff\x00\x00binary")
    with pytest.raises(HashListError, match=r"photo\.jpg: is a binary file"):
        list(import_source(str(blob)))
    with pytest.raises(HashListError, match=r"no such file"):
        list(import_source(str(tmp_path / "missing.csv")))


def test_build_deduplicates_and_conflicting_allow_blocks(tmp_path: Path) -> None:
    value = h("md5", "libra dup")
    a = tmp_path / "a.csv"
    a.write_text(f"hash_type,hash,id,label,category,allow\nmd5,{value},,,A,1\n")
    b = tmp_path / "b.txt"
    b.write_text(f"{value.upper()}  dup.jpg\n")
    hashlist, report = build_hashlist([str(a), str(b)], name="dup")
    assert len(hashlist) == 1 and report.duplicates == 1 and report.allow_conflicts == 1
    (entry,) = hashlist.entries()
    assert (entry.category, entry.id, entry.allow) == ("A", "dup.jpg", False)


def test_libra_csv_variants_are_optional_and_checked() -> None:
    old = "hash_type,hash,id,label,category,allow\npdq," + "ab" * 32 + ",x,,,0\n"
    [entry] = import_text(old, "old.csv")
    assert entry.variant is None  # a source written before variants existed
    header = "hash_type,hash,id,label,category,allow,variant\n"
    new = header + "pdq," + "ab" * 32 + ",x,,,0,Crop7.5-Center\nmd5," + "cd" * 16 + ",x,,,0,\n"
    pdq, md5 = import_text(new, "new.csv")
    assert (pdq.variant, md5.variant) == ("crop7.5-center", None)
    bad = "hash_type,hash,variant\npdq," + "ab" * 32 + ",crop 5%\n"
    with pytest.raises(HashListError, match=r"bad.csv line 2: 'crop 5%' is not a variant name"):
        list(import_text(bad, "bad.csv"))
