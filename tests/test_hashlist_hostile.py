"""Hostile lists: anyone can encrypt to a host's public recipient, so an unsigned list may be crafted.

Every crafted payload, header or source must fail with one plain ``HashListError`` sentence: never a
traceback, a hang, or an allocation far beyond the file's size.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import stat
import struct
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from libra_cli.errors import HashListError, KeyFileError
from libra_cli.hashlist import (
    HashList,
    ListInfo,
    build,
    container,
    generate_identity,
    generate_signing_key,
    import_text,
    load_hashlist,
    load_identities,
    load_recipients,
    load_signing_key,
    payload,
    write_hashlist,
)
from libra_cli.hashlist.build import encrypt
from libra_cli.hashlist.importers import decode_text
from libra_cli.models import Entry

Arrays = dict[str, Any]


def _sample() -> HashList:
    entries = [Entry("md5", f"{i:032x}", id=f"id{i}", label="zoë", category="A") for i in range(6)]
    entries += [Entry("pdq", "ab" * 32, id="p", source="IWF"), Entry("photodna", "raw==", id=None)]
    return HashList.from_entries(ListInfo(name="n"), entries)


GOOD = payload.encode(_sample(), {"format": 1})


def _arrays() -> Arrays:
    with np.load(io.BytesIO(GOOD), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _meta(arrays: Arrays) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(arrays["meta"].tobytes())
    return value


def _with_meta(arrays: Arrays, meta: Any) -> Arrays:
    text = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return {**arrays, "meta": np.frombuffer(text, dtype=np.uint8)}


def _save(arrays: Arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _column(key: str, count: Any) -> Callable[[Arrays], Arrays]:
    def change(arrays: Arrays) -> Arrays:
        meta = _meta(arrays)
        meta["columns"]["md5"][key] = count
        return _with_meta(arrays, meta)

    return change


def _set(key: str, value: Any) -> Callable[[Arrays], Arrays]:
    return lambda arrays: {**arrays, key: value}


def _offsets(values: list[int]) -> Callable[[Arrays], Arrays]:
    return _set("md5.ids_offsets", np.array(values, dtype=np.int64))


NESTED = b'{"libra_payload": 1, "columns": {}, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

MUTATIONS: dict[str, Callable[[Arrays], Arrays]] = {
    "values of the wrong length": _set("md5.values", np.zeros((5, 16), dtype=np.uint8)),
    "values of the wrong dtype": _set("md5.values", np.zeros((6, 2), dtype=np.int64)),
    "values as an object array": _set("md5.values", np.array([{}] * 6, dtype=object)),
    "allow of the wrong length": _set("md5.allow", np.zeros(60, dtype=np.bool_)),
    "codes out of range": _set("md5.labels", np.array([0, 0, 0, 0, 0, 7], dtype=np.int32)),
    "codes below -1": _set("md5.categories", np.array([0, 0, 0, 0, 0, -9], dtype=np.int32)),
    "offsets past the end": _offsets([0, 3, 6, 9, 12, 15, 10**12]),
    "offsets huge negative": _offsets([0, 3, 6, 9, 12, 15, -(2**63)]),
    "offsets out of order": _offsets([0, 3, 6, 9, 15, 12, 18]),
    "offsets not starting at 0": _offsets([1, 3, 6, 9, 12, 15, 18]),
    "offsets short of the end": _offsets([0, 3, 6, 9, 12, 15, 17]),
    "ids not UTF-8": _set("md5.ids_blob", np.frombuffer(b"id\xffid1id2id3id4id5", dtype=np.uint8)),
    "offsets split a character": lambda a: {
        **a,
        "md5.ids_blob": np.frombuffer(("é" * 9).encode(), dtype=np.uint8),  # 18 bytes, cut at odd offsets
        "md5.ids_offsets": np.array([0, 3, 6, 9, 12, 15, 18], dtype=np.int64),
    },
    "count not a number": _column("count", "abc"),
    "count null": _column("count", None),
    "count a list": _column("count", [6]),
    "count negative": _column("count", -1),
    "count true": _column("count", True),
    "count absurd": _column("count", 10**30),
    "labels not a list": _column("labels", 5),
    "labels not strings": _column("labels", [{"a": [1]}]),
    "categories a string": _column("categories", "ABCDEF"),
    "column spec not an object": lambda a: _with_meta(a, {**_meta(a), "columns": {"md5": 3}}),
    "metadata deeply nested": lambda a: _with_meta(a, NESTED),
    "metadata not UTF-8": lambda a: _with_meta(a, b'{"name": "\xff"}'),
    "metadata not an object": lambda a: _with_meta(a, [1, 2]),
}


def assert_one_sentence(err: pytest.ExceptionInfo[HashListError], origin: str = "x") -> None:
    message = str(err.value)
    assert message.startswith(f"hashlist {origin}: ") and "\n" not in message, message
    assert len(message) < 300, message


def decode_all(data: bytes) -> None:
    """Decode and touch every entry, as a scan that matched every row would."""
    hashlist, _ = payload.decode(data, "x")
    for _ in hashlist.entries():
        pass


def test_the_untouched_sample_decodes() -> None:
    decode_all(_save(_arrays()))


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_crafted_payload_is_one_sentence(name: str) -> None:
    data = _save(MUTATIONS[name](_arrays()))
    with pytest.raises(HashListError) as err:
        decode_all(data)
    assert_one_sentence(err)
    if name in ("ids not UTF-8", "offsets split a character"):  # not caught by a coarser check first
        assert "character" in str(err.value) or "UTF-8" in str(err.value), err.value


def _npy(header: dict[str, Any], body: bytes) -> bytes:
    text = repr(header).encode("latin1")
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + body


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(GOOD)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_absurd_declared_shape_is_refused_without_allocating_it() -> None:
    members = _members()
    members["md5.values.npy"] = _npy({"descr": "|u1", "fortran_order": False, "shape": (2**40, 16)}, b"\0" * 16)
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        with pytest.raises(HashListError) as err:
            decode_all(_zip(members, method))
        assert_one_sentence(err)


def test_zip_bomb_is_refused_before_it_is_inflated() -> None:
    """A compressed member declaring a size far beyond the payload's is refused before it is read."""
    data = bytearray(_zip(_members(), zipfile.ZIP_DEFLATED))
    at = data.find(b"PK\x01\x02" + data[data.find(b"PK\x01\x02") + 4 : data.find(b"PK\x01\x02") + 6])
    struct.pack_into("<I", data, at + 24, 0xFFFF_FFF0)  # the central directory's uncompressed size
    with pytest.raises(HashListError) as err:
        decode_all(bytes(data))
    assert_one_sentence(err)


def test_unsupported_compression_and_encrypted_members_are_one_sentence() -> None:
    data = bytearray(_zip(_members(), zipfile.ZIP_DEFLATED))
    at = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, at + 10, 99)  # compression method 99 (AES)
    with pytest.raises(HashListError) as err:
        decode_all(bytes(data))
    assert_one_sentence(err)
    data = bytearray(_zip(_members(), zipfile.ZIP_DEFLATED))
    struct.pack_into("<H", data, at + 8, 1)  # the "encrypted" flag
    with pytest.raises(HashListError) as err:
        decode_all(bytes(data))
    assert_one_sentence(err)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_random_damage_is_always_one_sentence(method: int) -> None:
    good = _zip(_members(), method)
    rng = random.Random(method)
    for _ in range(1500):
        data = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            if payload.is_payload(bytes(data)):
                decode_all(bytes(data))
        except HashListError as err:
            message = str(err)
            assert message.startswith("hashlist x: ") and "\n" not in message and len(message) < 300, message


def test_crafted_unsigned_list_fails_in_load_with_one_sentence(tmp_path: Path) -> None:
    """End to end: an attacker who knows only the host's recipient makes a list with a crafted payload."""
    host = str(tmp_path / "host.key")
    recipient = generate_identity(host)
    header = container.public_header("2024-01-01T00:00:00+00:00", None)
    arrays = MUTATIONS["ids not UTF-8"](_arrays())
    meta = _meta(arrays)
    meta["header"] = header
    data = _save(_with_meta(arrays, meta))
    path = tmp_path / "evil.libra"
    path.write_bytes(container.pack(encrypt(data, load_recipients([recipient]), None), header, None))
    with pytest.raises(HashListError) as err:
        load_hashlist(str(path), identities=load_identities([host]))
    assert_one_sentence(err, "evil.libra")


def test_deeply_nested_header_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "deep.libra"
    path.write_bytes(container.MAGIC + b"[" * 30_000 + b"]" * 30_000 + b"\n")
    with pytest.raises(HashListError) as err:
        container.read(str(path))
    assert_one_sentence(err, "deep.libra")


def test_signature_in_a_non_canonical_base64_spelling_is_refused(tmp_path: Path) -> None:
    """Base64 of 64 bytes ends in two padding bits: a second spelling of the same signature is still a
    flipped byte, and every flipped byte must be caught."""
    generate_signing_key(str(tmp_path / "pub.key"))
    key = load_signing_key(str(tmp_path / "pub.key"))
    data = bytearray(container.pack(b"age-ciphertext", container.public_header("2024-01-01", key), key))
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    at = len(data) - 4  # the last data character, before "==\n"
    data[at] = alphabet[alphabet.index(data[at]) ^ 0x1]
    path = tmp_path / "respelled.libra"
    path.write_bytes(bytes(data))
    with pytest.raises(HashListError) as err:
        container.verify(container.read(str(path)))
    assert_one_sentence(err, "respelled.libra")


HUGE = "a" * 200_000
SOURCES_TEXT = {
    "csv field beyond the csv module's limit": "hash_type,hash\nmd5," + HUGE + "\n",
    "csv hash type of 200k characters": "hash_type,hash\n" + "q" * 100_000 + ",00\n",
    "csv allow flag of 100k characters": "hash_type,hash,allow\nmd5," + "0" * 32 + "," + "q" * 100_000 + "\n",
    "threatexchange value of 200k digits": "pdq " + "a" * 64 + "\npdq " + HUGE + "\n",
    "vics value of 200k digits": '{"value": [{"MD5": "' + HUGE + '"}]}',
    "vics nested 100k deep": '{"value": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "sums value of 200k digits": "MD5 (a) = " + "0" * 32 + "\nMD5 (b) = " + HUGE + "\n",
}


@pytest.mark.parametrize("name", sorted(SOURCES_TEXT))
def test_garbage_sources_are_one_short_sentence(name: str) -> None:
    with pytest.raises(HashListError) as err:
        list(import_text(SOURCES_TEXT[name], "src.txt"))
    message = str(err.value)
    assert message.startswith("src.txt ") and "\n" not in message and len(message) < 300, message[:300]


def test_utf16_source_is_named_as_such() -> None:
    with pytest.raises(HashListError, match=r"^u\.csv: is UTF-16 text; save it as UTF-8$"):
        decode_text("hash_type,hash\n".encode("utf-16"), "u.csv")


def test_list_written_through_a_fifo_never_replaces_it(tmp_path: Path) -> None:
    """``-o /dev/null`` or a named pipe: the list is written through it, never renamed over it."""
    recipient = generate_identity(str(tmp_path / "host.key"))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    digest = write_hashlist(_sample(), str(fifo), recipients=load_recipients([recipient]))
    reader.join(10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and got[0].startswith(container.MAGIC)
    assert sorted(os.listdir(tmp_path)) == ["host.key", "pipe"]
    assert hashlib.sha256(got[0]).hexdigest() == digest


def test_interrupted_write_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(build.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build.write_atomic(str(tmp_path / "a.libra"), b"data")
    assert os.listdir(tmp_path) == []


def test_keygen_onto_a_fifo_refuses_and_leaves_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for make in (generate_identity, generate_signing_key):
        with pytest.raises(KeyFileError, match=r"already exists"):
            make(str(fifo))
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_key_file_that_cannot_be_written_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk mid-write: one sentence, and no half-written secret left behind."""
    from libra_cli.hashlist import keys

    real = os.fdopen

    class Full:
        def __init__(self, fd: int, mode: str) -> None:
            self.handle = real(fd, mode)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(keys.os, "fdopen", Full)
    with pytest.raises(KeyFileError, match=r"host\.key: cannot be written \(No space left on device\)$"):
        generate_identity(str(tmp_path / "host.key"))
    assert os.listdir(tmp_path) == []


def test_recipients_file_lines_are_never_echoed(tmp_path: Path) -> None:
    """A secret in a recipients file (a signing key's base64, a passphrase) must not reach an error message."""
    secret = "MC4CAQAwBQYDK2VwBCIEIHl0cGVkLW9uLWEtY29tbWFuZC1saW5lLWJ5LW1pc3Rha2U"
    path = tmp_path / "hosts.txt"
    path.write_text(f"# hosts\n{secret}\n")
    with pytest.raises(KeyFileError) as err:
        load_recipients([], [str(path)])
    assert secret[:10] not in str(err.value)
    assert str(err.value) == f"recipients file {path} entry 1: is not an age recipient (age1…)"


@pytest.mark.parametrize("created", ["\x1b]0;owned\x07\x1b[2J", 5, ["x"], "9" * 200])
def test_header_created_must_be_a_plain_short_string(tmp_path: Path, created: Any) -> None:
    """``hashlist info`` prints ``created`` from the unauthenticated header: no terminal escapes in it."""
    header = {**container.public_header("2024-01-01T00:00:00+00:00", None), "created": created}
    path = tmp_path / "odd.libra"
    path.write_bytes(container.pack(b"age-ciphertext", header, None))
    with pytest.raises(HashListError, match=r"its header is damaged \(created is not a time\)") as err:
        container.read(str(path))
    assert_one_sentence(err, "odd.libra")
