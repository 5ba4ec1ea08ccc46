"""Properties over generated input (Hypothesis): whatever a source, a list file, a config file or an option
holds, libra answers with data or with one ``LibraError`` sentence, never with another exception.

No example database is kept (``database=None``): the runs are reproducible from the seed Hypothesis prints.
"""

from __future__ import annotations

import atexit
import csv
import io
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from libra_cli.cli.common import parse_size
from libra_cli.config import SCHEMA, load_config
from libra_cli.errors import ConfigError, HashListError, LibraError
from libra_cli.hashlist import (
    HashList,
    ListInfo,
    generate_identity,
    load_hashlist,
    load_identities,
    load_recipients,
    write_hashlist,
)
from libra_cli.hashlist.importers import decode_text, import_text
from libra_cli.models import Entry

FAST = settings(database=None, deadline=None, max_examples=50, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------- importers

#: Hash types and the bytes of one value.
HASH_TYPES = {"md5": 16, "sha1": 20, "sha256": 32, "pdq": 32, "phash": 8}
_plain = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
_field = _plain.map(str.strip).map(lambda text: text or None)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    hash_type = draw(st.sampled_from(sorted(HASH_TYPES)))
    value = draw(st.binary(min_size=HASH_TYPES[hash_type], max_size=HASH_TYPES[hash_type])).hex()
    return Entry(
        hash_type, value, id=draw(_field), label=draw(_field), category=draw(_field), allow=draw(st.booleans())
    )


def _csv(rows: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180 line ends: a field holding "\r" is quoted (not so with "\n" ends)
    writer.writerow(["hash_type", "hash", "id", "label", "category", "allow"])
    for e in rows:
        writer.writerow([e.hash_type, e.value.upper(), e.id or "", e.label or "", e.category or "", int(e.allow)])
    return out.getvalue()


@FAST
@given(st.lists(entries(), min_size=1, max_size=20))
def test_libra_csv_round_trips(rows: list[Entry]) -> None:
    assert list(import_text(_csv(rows), "gen.csv")) == rows


def test_a_name_with_a_carriage_return_survives_libra_hash_csv(tmp_path: Path) -> None:
    from scanhelp import cli

    photo = Path(__file__).parent / "data" / "photos" / "moon.jpg"
    (tmp_path / "a\rb.jpg").write_bytes(photo.read_bytes())
    code, out, err = cli("hash", str(tmp_path), "--format", "csv", "--workers", "1")
    assert code == 0, err
    assert {e.id for e in import_text(out, "hash.csv")} == {"a\rb.jpg"}


#: Lines that look like each format, to be shuffled and damaged.
_FORMAT_LINES = [
    "hash_type,hash,id,label,category,allow",
    "md5," + "ab" * 16 + ",id,label,A,0",
    "%%%% HASHDEEP-1.0",
    "%%%% size,md5,sha256,filename",
    "17," + "cd" * 16 + "," + "ef" * 32 + ",/a, b.jpg",
    '{"odata.metadata":"x","value":[{"MD5":"' + "01" * 16 + '","Category":1}]}',
    "pdq " + "12" * 32,
    "phash " + "34" * 8,
    "MD5 " + "56" * 16,
    "56" * 16 + ":1234:name",
    "78" * 20 + "  file.jpg",
    "## comment",
    "# comment",
    "",
]


@st.composite
def sources(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.sampled_from(_FORMAT_LINES) | _plain, max_size=12))
    text = "\n".join(lines)
    if text and draw(st.booleans()):  # a damaged copy: a few characters replaced
        chars = list(text)
        for _ in range(draw(st.integers(1, 4))):
            chars[draw(st.integers(0, len(chars) - 1))] = draw(st.characters(exclude_categories=["Cs"]))
        text = "".join(chars)
    return text


@FAST
@given(sources(), st.booleans())
@example('[{"value": [' * 500, False)
@example("%%%% HASHDEEP-9.9\n%%%% size,md5,filename\n1," + "a" * 32 + ",x\n", True)
def test_importers_give_entries_or_one_sentence(text: str, skip_invalid: bool) -> None:
    try:
        found = list(import_text(text, "source.txt", skip_invalid=skip_invalid))
    except HashListError as err:
        assert "\n" not in str(err) and len(str(err)) < 1000
        return
    assert all(isinstance(e, Entry) for e in found)


@FAST
@given(st.binary(max_size=200))
def test_source_bytes_decode_or_one_sentence(data: bytes) -> None:
    try:
        text = decode_text(data, "source.bin")
    except HashListError as err:
        assert "source.bin" in str(err)
        return
    assert isinstance(text, str)


def test_unknown_hashdeep_versions_are_refused() -> None:
    body = "%%%% size,md5,filename\n1," + "a" * 32 + ",x.jpg\n"
    assert len(list(import_text("%%%% HASHDEEP-1.0\n" + body, "h.txt"))) == 1
    for version in ("HASHDEEP-9.9", "HASHDEEP-1.1", "HASHDEEP-"):
        with pytest.raises(HashListError, match=f"header version '{version}' is not one libra reads"):
            list(import_text(f"%%%% {version}\n" + body, "h.txt", skip_invalid=True))


# --------------------------------------------------------------------------------------- list container


@cache
def _keys() -> tuple[str, list[Any], list[Any], Ed25519PrivateKey]:
    """A folder, an age recipient and its identity, and a publisher key, made once per run."""
    folder = tempfile.mkdtemp(prefix="libra-props-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    identity = os.path.join(folder, "id.txt")
    recipient = generate_identity(identity)
    return folder, load_recipients([recipient]), load_identities([identity]), Ed25519PrivateKey.generate()


@cache
def _written(signed: bool) -> bytes:
    folder, recipients, _, key = _keys()
    rows = [Entry("md5", f"{i:032x}", id=f"id{i}", label="zoë", category="A") for i in range(8)]
    rows.append(Entry("pdq", "ab" * 32, id="p", source="IWF"))
    path = os.path.join(folder, f"good-{signed}.libra")
    write_hashlist(
        HashList.from_entries(ListInfo(name="props"), rows),
        path,
        recipients=recipients,
        sign_key=key if signed else None,
    )
    return Path(path).read_bytes()


def _load(data: bytes, signed: bool) -> HashList:
    folder, _, identities, key = _keys()
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".libra") as handle:
        handle.write(data)
        handle.flush()
        keys = [key.public_key()] if signed else []
        return load_hashlist(handle.name, identities=identities, publisher_keys=keys)


@FAST
@given(st.lists(entries(), min_size=1, max_size=30, unique_by=lambda e: (e.hash_type, e.value)), st.booleans())
def test_lists_round_trip(rows: list[Entry], signed: bool) -> None:
    folder, recipients, identities, key = _keys()
    with tempfile.TemporaryDirectory(dir=folder) as where:
        path = os.path.join(where, "l.libra")
        write_hashlist(
            HashList.from_entries(ListInfo(name="n"), rows),
            path,
            recipients=recipients,
            sign_key=key if signed else None,
        )
        loaded = load_hashlist(path, identities=identities, publisher_keys=[key.public_key()] if signed else [])
    assert sorted(loaded.entries(), key=repr) == sorted(rows, key=repr)


@settings(FAST, max_examples=200)
@given(st.data(), st.booleans())
def test_any_byte_flip_is_refused_with_one_sentence(data: st.DataObject, signed: bool) -> None:
    good = _written(signed)
    at = data.draw(st.integers(0, len(good) - 1), label="offset")
    flip = data.draw(st.integers(1, 255), label="xor")
    damaged = bytearray(good)
    damaged[at] ^= flip
    with pytest.raises(LibraError):
        _load(bytes(damaged), signed)


def test_a_damaged_age_header_is_one_sentence() -> None:
    good = _written(False)
    damaged = bytearray(good)
    damaged[good.index(b"-> X25519") + 1] ^= 1
    with pytest.raises(HashListError) as caught:
        _load(bytes(damaged), False)
    assert "\n" not in str(caught.value)


@FAST
@given(st.data())
def test_any_truncation_is_refused(data: st.DataObject) -> None:
    good = _written(True)
    cut = data.draw(st.integers(0, len(good) - 1))
    with pytest.raises(LibraError):
        _load(good[:cut], True)


def test_the_untouched_list_loads() -> None:  # the flip tests above must not pass for a broken reason
    assert len(list(_load(_written(True), True).entries())) == 9
    assert len(list(_load(_written(False), False).entries())) == 9


# ------------------------------------------------------------------------------------------ config file

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _plain
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_plain, inner, max_size=4), max_leaves=12
)
_keys_st = st.sampled_from(sorted(SCHEMA)) | _plain


def _load_text(text: str | bytes) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("wb", suffix=".yaml", delete=False) as handle:
        handle.write(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    try:
        return load_config(handle.name)
    finally:
        os.unlink(handle.name)


def _valid_or_config_error(text: str | bytes) -> None:
    try:
        config = _load_text(text)
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    except Exception as err:  # the finding, reported short: a RecursionError's traceback is long
        pytest.fail(f"{type(err).__name__} escaped load_config: {str(err)[:200]}", pytrace=False)
    assert isinstance(config, dict)
    for key, value in config.items():
        assert key in SCHEMA and isinstance(value, SCHEMA[key])


@FAST
@given(st.dictionaries(_keys_st, _values, max_size=5), st.booleans())
def test_any_yaml_document_gives_a_dict_or_a_config_error(doc: dict[str, Any], nested: bool) -> None:
    _valid_or_config_error(yaml.safe_dump({"scan": doc} if nested else doc, allow_unicode=True))


@FAST
@given(st.text(max_size=80) | st.binary(max_size=80))
def test_any_text_gives_a_dict_or_a_config_error(text: str | bytes) -> None:
    _valid_or_config_error(text)


#: YAML that PyYAML parses into a Python exception other than ``YAMLError`` (found by the tests above).
PYYAML_ESCAPES = [
    "workers: 2001-13-45",  # ValueError: a timestamp with month 13
    "workers: !!int x",  # ValueError
    "workers: !!float x",  # ValueError
    "workers: !!timestamp 2001-01-01x",  # AttributeError
    "[" * 600 + "]" * 600,  # RecursionError
]


@pytest.mark.parametrize("text", PYYAML_ESCAPES, ids=["timestamp", "int", "float", "bad-timestamp", "nesting"])
def test_yaml_that_pyyaml_cannot_construct_is_a_config_error(text: str) -> None:
    _valid_or_config_error(text)


# ---------------------------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("text", ["inf", "nan", "1e400", "-1", "-inf", "infinity", "1e30", "9999999T", "", "0x10"])
def test_impossible_sizes_are_one_sentence(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_size(text)
    assert repr(text) in str(caught.value) and "\n" not in str(caught.value)


@FAST
@given(st.text(max_size=12) | st.from_regex(r"-?[0-9.e+]{1,8} ?[kKmMgGtT]?[iI]?[bB]?", fullmatch=True))
def test_parse_size_gives_a_file_size_or_one_sentence(text: str) -> None:
    try:
        size = parse_size(text)
    except ConfigError:
        return
    assert isinstance(size, int) and 0 <= size < 2**63
