"""Keyword lists (issue 15): encrypted, signed like hash lists; a hit in a name is a suspected reason, never a match."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import imagegen
from libra_cli.context.keywords import KeywordList, words
from scanhelp import cli, make_identity, make_list, records


def test_names_are_cut_into_words_at_separators_camel_case_and_digits() -> None:
    assert words("HolidayBeach_2024-01.JPG") == ("holiday", "beach", "2024", "01", "jpg")
    assert words("my holiday.beach") == ("my", "holiday", "beach") and words("HTMLPage") == ("html", "page")
    kw = KeywordList.of("kw", ["Holiday Beach", "sunset"])
    for name in ("holiday_beach.jpg", "HOLIDAY-BEACH", "holidayBeach2.png", "x.holiday beach.y", "Sunset"):
        assert kw.names(name), name
    for name in ("holidaybeaches.jpg", "beach holiday", "sunsets", "holiday.jpg", ""):
        assert not kw.names(name), name  # whole words, in order: a short keyword never fires inside a word
    assert kw.hits("/srv/u/Holiday_Beach/IMG_1.jpg") == ("folder",)
    assert kw.hits("/srv/u/x/mySunset.jpg") == ("file",)
    assert kw.hits("s3://bucket/sunset/HolidayBeach.jpg") == ("file", "folder")
    assert kw.hits("/srv/u/x/IMG_2.jpg") == ()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("keywords")
    key = tmp / "host.key"
    recipient = make_identity(key)
    code, _, err = cli("hashlist", "keygen", "-o", str(tmp / "pub.key"))
    assert code == 0, err
    source = tmp / "kw.txt"
    source.write_text("# benign test words\nholiday\nbeach sunset\n\nHoliday\n", encoding="utf-8")
    out = tmp / "kw.libra"
    sign = ("--sign-key", str(tmp / "pub.key"))
    code, stdout, err = cli("hashlist", "build", "--keywords", str(source), "-o", str(out), "-r", recipient, *sign)
    assert code == 0, err
    assert "2 keywords" in err and stdout.strip().endswith(str(out))
    assert b"holiday" not in out.read_bytes()  # encrypted: the words never show in the file
    listed = tmp / "listed" / "coffee.png"
    listed.parent.mkdir()
    imagegen.photo("coffee").save(listed)
    hashlist = make_list(tmp, [listed], recipient)
    tree = tmp / "uploads"
    for folder in ("alice", "alice/Holiday", "bob/beach-sunset", "carol"):
        (tree / folder).mkdir(parents=True)
    imagegen.photo("coffee").save(tree / "alice" / "match.png")
    imagegen.scene(1).save(tree / "alice" / "plain.png")
    imagegen.scene(2).save(tree / "alice" / "myHoliday.png")
    imagegen.scene(3).save(tree / "bob" / "beach-sunset" / "a.png")
    imagegen.scene(4).save(tree / "carol" / "beaches.png")
    return {"tmp": tmp, "key": key, "keywords": out, "list": hashlist, "tree": tree, "pub": tmp / "pub.key.pub"}


def _scan(setup: dict[str, Path], *extra: str) -> tuple[int, str, str]:
    args = ["scan", str(setup["tree"]), "-l", str(setup["list"]), "-i", str(setup["key"]), "-w", "1", "-f", "json"]
    return cli(*args, *extra)


def test_a_keyword_hit_raises_the_score_beside_a_match_and_alone_makes_a_low_scored_suspect(
    setup: dict[str, Path],
) -> None:
    code, out, err = _scan(setup, "--suspected", "--keywords", str(setup["keywords"]), "--group-by", "folder")
    assert code == 1, err
    doc = json.loads(out)
    assert [Path(r["location"]).name for r in records(doc)] == ["match.png"]  # a keyword never makes a match
    found = {r["location"].split("uploads/")[1]: r["suspected"] for r in records(doc, "suspected")}
    assert set(found) == {"alice/plain.png", "alice/myHoliday.png", "bob/beach-sunset/a.png"}  # not "beaches"
    beside, plain = found["alice/myHoliday.png"], found["alice/plain.png"]
    assert beside["signals"] == ["colocation", "keyword"] and plain["signals"] == ["colocation"]
    assert beside["score"] > plain["score"]
    alone = found["bob/beach-sunset/a.png"]
    assert alone["signals"] == ["keyword"] and alone["cluster"] is None
    assert alone["score"] == 0.15 and alone["score"] < plain["score"]  # the documented lower score
    assert alone["candidates"] == [{"signal": "keyword", "list": "kw", "where": "folder"}]
    text = json.dumps(found)
    assert "holiday" not in text.replace("myHoliday", "").lower()  # which list, never the keyword itself
    assert "a folder name holds a keyword of list kw" in alone["reasons"]
    code, out, _ = _scan(setup, "--suspected", "--group-by", "folder")  # without the list: no keyword signal
    assert {Path(r["location"]).name for r in records(json.loads(out), "suspected")} == {"plain.png", "myHoliday.png"}


def test_a_signed_keyword_list_verifies_with_its_publisher_key_and_not_with_another(setup: dict[str, Path]) -> None:
    from libra_cli.errors import SignatureError
    from libra_cli.hashlist.keys import load_publisher_keys, resolve_identities
    from libra_cli.hashlist.keywords import load_keywords

    ids = resolve_identities([str(setup["key"])])
    publisher = load_publisher_keys([str(setup["pub"])])
    found = load_keywords(str(setup["keywords"]), identities=ids, publisher_keys=publisher)
    assert found.name == "kw" and found.keywords == (("holiday",), ("beach", "sunset"))
    code, _, err = cli("hashlist", "keygen", "-o", str(setup["tmp"] / "stranger.key"))
    assert code == 0, err
    with pytest.raises(SignatureError, match=r"^keyword list kw\.libra"):
        load_keywords(str(setup["keywords"]), identities=ids,
                      publisher_keys=load_publisher_keys([str(setup["tmp"] / "stranger.key.pub")]))  # fmt: skip


def _refused(setup: dict[str, Path], *extra: str) -> str:
    findings = setup["tmp"] / "findings.json"
    findings.unlink(missing_ok=True)
    code, _, err = _scan(setup, "-o", str(findings), *extra)
    assert code == 2 and "Traceback" not in err, err
    assert not findings.exists()  # nothing written
    lines = [line for line in err.strip().splitlines() if line.strip() and " libra WARNING " not in line]
    assert len(lines) == 1, err
    return lines[0]


def test_a_tampered_wrongly_keyed_or_misplaced_keyword_list_is_one_sentence_exit_2_and_nothing_written(
    setup: dict[str, Path],
) -> None:
    tmp = setup["tmp"]
    data = bytearray(setup["keywords"].read_bytes())
    data[len(data) // 2] ^= 0x01  # a flipped bit in the ciphertext
    tampered = tmp / "tampered.libra"
    tampered.write_bytes(bytes(data))
    message = _refused(setup, "--suspected", "--keywords", str(tampered))
    assert "keyword list tampered.libra" in message and "signature" in message
    stranger = make_identity(tmp / "other.key")
    elsewhere = tmp / "elsewhere.libra"  # encrypted to another host
    code, _, err = cli("hashlist", "build", "--keywords", str(tmp / "kw.txt"), "-o", str(elsewhere), "-r", stranger)
    assert code == 0, err
    message = _refused(setup, "--suspected", "--keywords", str(elsewhere))
    assert message.startswith("libra: keyword list elsewhere.libra: none of the given identities can decrypt it")
    assert "hash list, not a keyword list" in _refused(setup, "--suspected", "--keywords", str(setup["list"]))
    code, _, err = cli("scan", str(setup["tree"]), "-l", str(setup["keywords"]), "-i", str(setup["key"]), "-w", "1")
    assert code == 2 and "is a keyword list, not a hash list" in err
    assert "--keywords needs --suspected" in _refused(setup, "--keywords", str(setup["keywords"]))


def test_a_keyword_list_with_its_publisher_key_pinned_beside_it_must_be_signed_by_that_key(
    setup: dict[str, Path],
) -> None:
    tmp = setup["tmp"] / "pinned"
    tmp.mkdir(exist_ok=True)
    copy = tmp / "kw.libra"
    copy.write_bytes(setup["keywords"].read_bytes())
    code, _, err = cli("hashlist", "keygen", "-o", str(tmp / "other.key"))
    assert code == 0, err
    (tmp / "kw.pub").write_bytes((tmp / "other.key.pub").read_bytes())  # a pin naming another publisher
    message = _refused(setup, "--suspected", "--keywords", str(copy))
    assert "keyword list kw.libra" in message and "pinned in" in message
    (tmp / "kw.pub").write_bytes(setup["pub"].read_bytes())  # the right pin: it loads
    code, _, err = _scan(setup, "--suspected", "--keywords", str(copy), "--group-by", "folder")
    assert code == 1, err


def test_a_keyword_list_kept_in_the_list_folder_is_skipped_there_and_used_with_keywords(
    setup: dict[str, Path],
) -> None:
    folder = setup["tmp"] / "etc-lists"
    folder.mkdir(exist_ok=True)
    (folder / "hashes.libra").write_bytes(setup["list"].read_bytes())
    (folder / "words.libra").write_bytes(setup["keywords"].read_bytes())
    args = ["scan", str(setup["tree"]), "-l", str(folder), "-i", str(setup["key"]), "-w", "1", "-f", "json"]
    code, out, err = cli(*args, "--suspected", "--keywords", str(folder / "words.libra"), "--group-by", "folder")
    assert code == 1, err
    assert {r["location"].rsplit("/", 1)[1] for r in records(json.loads(out))} == {"match.png"}
    only = setup["tmp"] / "only-words"
    only.mkdir(exist_ok=True)
    (only / "words.libra").write_bytes(setup["keywords"].read_bytes())
    code, _, err = cli("scan", str(setup["tree"]), "-l", str(only), "-i", str(setup["key"]), "-w", "1")
    assert code == 2 and "hold no hash list, only keyword lists" in err


def test_a_keyword_list_refuses_an_expiry_it_could_not_carry(setup: dict[str, Path]) -> None:
    out = setup["tmp"] / "dated.libra"
    recipient = re.search(r"age1[0-9a-z]+", setup["key"].read_text())
    assert recipient is not None
    code, _, err = cli("hashlist", "build", "--keywords", str(setup["tmp"] / "kw.txt"), "-o", str(out),
                       "-r", recipient.group(0), "--expires", "2030-07-01")  # fmt: skip
    assert code == 2 and "a keyword list carries no expiry date" in err and not out.exists()
