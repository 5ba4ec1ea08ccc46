"""Round trips with real age keys and real Ed25519 signatures; every damaged region gives one clean sentence."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from libra_cli.errors import HashListError, KeyFileError, LibraError, SignatureError
from libra_cli.hashlist import (
    HashList,
    ListInfo,
    build_hashlist,
    container,
    generate_identity,
    generate_signing_key,
    load_hashlist,
    load_identities,
    load_publisher_keys,
    load_recipients,
    load_signing_key,
    pack_hashlist,
    payload,
    write_hashlist,
)
from libra_cli.models import Entry

SOURCES = Path(__file__).parent / "data" / "sources"


class Keys:
    """Two hosts and two publishers, made once per module (real keys, written by libra itself)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = str(root / "host.key")
        self.other_host = str(root / "other.key")
        self.recipient = generate_identity(self.host)
        self.other_recipient = generate_identity(self.other_host)
        self.sign = str(root / "pub.key")
        self.other_sign = str(root / "other-pub.key")
        generate_signing_key(self.sign)
        generate_signing_key(self.other_sign)

    def ids(self, path: str | None = None) -> list[object]:
        return load_identities([path or self.host])

    def pub(self, path: str | None = None) -> list[object]:
        return load_publisher_keys([(path or self.sign) + ".pub"])


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def sample() -> HashList:
    hashlist, _ = build_hashlist(
        [str(SOURCES / "sample.csv"), str(SOURCES / "sample-vics.json")],
        name="sample",
        publisher="Example Hotline",
        description="made-up values",
    )
    return hashlist


def write(keys: Keys, sample: HashList, path: Path, *, signed: bool = True) -> Path:
    write_hashlist(
        sample,
        str(path),
        recipients=load_recipients([keys.recipient]),
        sign_key=load_signing_key(keys.sign) if signed else None,
    )
    return path


def test_round_trip_keeps_every_entry_and_fills_info(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    path = write(keys, sample, tmp_path / "sample.libra")
    loaded = load_hashlist(str(path), identities=keys.ids(), publisher_keys=keys.pub())
    assert sorted(loaded.entries(), key=repr) == sorted(sample.entries(), key=repr)
    info = loaded.info
    assert (info.name, info.publisher, info.description) == ("sample", "Example Hotline", "made-up values")
    assert info.created == sample.info.created
    assert info.signature_status == "verified"
    assert info.signer == container.fingerprint(keys.pub()[0])  # type: ignore[arg-type]
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.path == str(path) and info.format_version == 1
    assert loaded.counts()[("photodna", "1")] == 1


def test_file_never_holds_plain_values(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    data = write(keys, sample, tmp_path / "x.libra").read_bytes()
    for entry in sample.entries():
        assert entry.value.encode() not in data
        if entry.hash_type != "photodna":
            assert bytes.fromhex(entry.value)[:12] not in data
    assert b"Example Hotline" not in data


def test_any_of_several_recipients_can_decrypt(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    path = tmp_path / "two.libra"
    write_hashlist(sample, str(path), recipients=load_recipients([keys.recipient, keys.other_recipient]))
    for identity in (keys.host, keys.other_host):
        assert len(load_hashlist(str(path), identities=keys.ids(identity))) == len(sample)


def test_passphrase_list(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    path = tmp_path / "pass.libra"
    write_hashlist(sample, str(path), passphrase="correct horse")
    assert len(load_hashlist(str(path), passphrase="correct horse")) == len(sample)
    with pytest.raises(KeyFileError, match=r"pass\.libra: is passphrase-encrypted; give --passphrase-env"):
        load_hashlist(str(path), identities=keys.ids())
    with pytest.raises(KeyFileError, match=r"pass\.libra: the passphrase does not decrypt it"):
        load_hashlist(str(path), passphrase="wrong")


def test_wrong_identity_and_missing_key(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    path = write(keys, sample, tmp_path / "ncmec.libra")
    with pytest.raises(KeyFileError) as err:
        load_hashlist(str(path), identities=keys.ids(keys.other_host))
    assert str(err.value) == (
        "hashlist ncmec.libra: none of the given identities can decrypt it (it was encrypted to other recipients)"
    )
    with pytest.raises(KeyFileError, match=r"ncmec\.libra: needs a key to decrypt"):
        load_hashlist(str(path))


def test_wrong_publisher_key_is_refused_with_one_sentence(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    path = write(keys, sample, tmp_path / "ncmec.libra")
    wrong = keys.pub(keys.other_sign)
    with pytest.raises(SignatureError) as err:
        load_hashlist(str(path), identities=keys.ids(), publisher_keys=wrong)
    fp_wrong = container.fingerprint(wrong[0])  # type: ignore[arg-type]
    fp_right = container.fingerprint(keys.pub()[0])  # type: ignore[arg-type]
    assert str(err.value) == (
        f"hashlist ncmec.libra: signature does not match publisher key {fp_wrong} (it was signed by {fp_right})"
    )
    # any one of several keys is enough
    both = wrong + keys.pub()
    assert load_hashlist(str(path), identities=keys.ids(), publisher_keys=both).info.signer == fp_right


def test_unsigned_list_is_refused_when_a_publisher_key_is_required(
    keys: Keys, sample: HashList, tmp_path: Path
) -> None:
    path = write(keys, sample, tmp_path / "plain.libra", signed=False)
    assert load_hashlist(str(path), identities=keys.ids()).info.signature_status == "unsigned"
    with pytest.raises(SignatureError, match=r"plain\.libra: is not signed, but publisher key .* is required"):
        load_hashlist(str(path), identities=keys.ids(), publisher_keys=keys.pub())


def regions(data: bytes, signed: bool) -> dict[str, range]:
    magic = len(container.MAGIC)
    header_end = data.index(b"\n", magic) + 1
    end = len(data) - container.SIG_LEN if signed else len(data)
    return {
        "magic": range(0, magic),
        "header": range(magic, header_end),
        "ciphertext": range(header_end, end),
        "signature": range(end, len(data)),
    }


@pytest.mark.parametrize(
    ("region", "signed"),
    [(r, True) for r in ("magic", "header", "ciphertext", "signature")]
    + [(r, False) for r in ("magic", "header", "ciphertext")],
)
def test_flipping_any_byte_in_any_region_is_caught(
    keys: Keys, sample: HashList, tmp_path: Path, region: str, signed: bool
) -> None:
    data = write(keys, sample, tmp_path / "t.libra", signed=signed).read_bytes()
    span = regions(data, signed)[region]
    rng = np.random.default_rng(len(region) + signed)
    if region != "ciphertext":  # small and full of meaning: every byte
        picks = list(span)
    else:
        picks = sorted({span.start, span.stop - 1, *rng.integers(span.start, span.stop, 10).tolist()})
    target = tmp_path / "tampered.libra"
    for position in picks:
        for flip in (0x01, 0x80):
            damaged = bytearray(data)
            damaged[position] ^= flip
            target.write_bytes(bytes(damaged))
            with pytest.raises(LibraError) as err:
                load_hashlist(str(target), identities=keys.ids(), publisher_keys=keys.pub() if signed else [])
            assert isinstance(err.value, HashListError | KeyFileError), (region, position)
            message = str(err.value)
            assert message.startswith("hashlist tampered.libra: ") and "\n" not in message, message
            assert "AGE-SECRET-KEY" not in message


def test_truncated_and_extended_files(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    data = write(keys, sample, tmp_path / "t.libra").read_bytes()
    target = tmp_path / "cut.libra"
    for size in (len(data) - 1, len(data) // 2, len(container.MAGIC) + 5, 3, 0):
        target.write_bytes(data[:size])
        with pytest.raises(HashListError, match=r"^hashlist cut\.libra: "):
            load_hashlist(str(target), identities=keys.ids())
    target.write_bytes(data + b"more")
    with pytest.raises(HashListError, match=r"has 4 unexpected bytes after its end"):
        load_hashlist(str(target), identities=keys.ids())


def test_wrong_version_and_not_a_list(keys: Keys, tmp_path: Path) -> None:
    future = tmp_path / "future.libra"
    future.write_bytes(b"libra-hashlist v7\n{}\n")
    with pytest.raises(HashListError) as err:
        load_hashlist(str(future), identities=keys.ids())
    assert str(err.value) == (
        "hashlist future.libra: is in format version '7'; this libra reads version 1 (upgrade libra)"
    )
    other = tmp_path / "photo.jpg"
    other.write_bytes(b"\xff\xd8\xff\xe0 not a list")
    with pytest.raises(HashListError, match=r"photo\.jpg: is not a libra hash list or an age-encrypted file"):
        load_hashlist(str(other), identities=keys.ids())
    with pytest.raises(HashListError, match=r"no such file"):
        load_hashlist(str(tmp_path / "missing.libra"))


def test_header_is_bound_to_the_encrypted_payload(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    """An unsigned list's header has no signature; editing it must still be caught after decryption."""
    data = write(keys, sample, tmp_path / "t.libra", signed=False).read_bytes()
    magic, line, rest = data.split(b"\n", 2)
    header = json.loads(line)
    header["created"] = "1999-01-01T00:00:00+00:00"
    edited = tmp_path / "edited.libra"
    line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    edited.write_bytes(magic + b"\n" + line + b"\n" + rest)
    with pytest.raises(HashListError, match=r"its public header does not match its encrypted contents"):
        load_hashlist(str(edited), identities=keys.ids())


def test_signature_stripped_and_header_rewritten_is_caught(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    data = write(keys, sample, tmp_path / "t.libra").read_bytes()
    magic, line, rest = data[: -container.SIG_LEN].split(b"\n", 2)
    header = json.loads(line)
    header.update(signature=None, signer=None, signer_key=None)
    stripped = tmp_path / "stripped.libra"
    stripped.write_bytes(magic + b"\n" + json.dumps(header, separators=(",", ":")).encode() + b"\n" + rest)
    with pytest.raises(SignatureError, match=r"is not signed"):
        load_hashlist(str(stripped), identities=keys.ids(), publisher_keys=keys.pub())
    with pytest.raises(HashListError, match=r"does not match its encrypted contents"):
        load_hashlist(str(stripped), identities=keys.ids())


def test_resigned_by_an_impostor_is_refused(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    """Someone who re-signs a list with their own key passes the integrity check but not the publisher check."""
    impostor = load_signing_key(keys.other_sign)
    data = pack_hashlist(sample, recipients=load_recipients([keys.recipient]), sign_key=impostor)
    path = tmp_path / "impostor.libra"
    path.write_bytes(data)
    with pytest.raises(SignatureError, match=r"signature does not match publisher key"):
        load_hashlist(str(path), identities=keys.ids(), publisher_keys=keys.pub())
    assert load_hashlist(str(path), identities=keys.ids()).info.signature_status == "unverified"


def test_signature_block_is_base64_of_64_bytes(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    data = write(keys, sample, tmp_path / "t.libra").read_bytes()
    block = data[-container.SIG_LEN:]
    assert block.startswith(b"\nsignature ed25519 ")
    assert len(base64.b64decode(block.split()[-1])) == 64


def test_payload_round_trip_with_none_unicode_and_raw_values() -> None:
    entries = [
        Entry("md5", "00" * 16, id=None, label="zoë ✓", category="A", source="IWF", allow=True),
        Entry("md5", "11" * 16, id="", label=None, category=None),
        Entry("photodna", "raw,value==", id="p1"),
        Entry("dhash", "ff" * 8, id="d"),
    ]
    original = HashList.from_entries(ListInfo(name="u"), entries)
    restored, header = payload.decode(payload.encode(original, {"format": 1}), "u")
    assert list(restored.entries()) == list(original.entries())
    assert header == {"format": 1}


def test_write_is_atomic_and_leaves_no_temp_files(keys: Keys, sample: HashList, tmp_path: Path) -> None:
    path = write(keys, sample, tmp_path / "a.libra")
    before = path.read_bytes()
    write(keys, sample, path)
    assert path.read_bytes() != before  # replaced (fresh age randomness)
    assert os.listdir(tmp_path) == ["a.libra"]
    with pytest.raises(KeyFileError, match=r"no recipient"):
        write_hashlist(sample, str(tmp_path / "b.libra"))
    assert os.listdir(tmp_path) == ["a.libra"]


def test_payload_arrays_are_zero_copy_views_and_compressed_payloads_still_load() -> None:
    import io

    entries = [Entry("pdq", f"{i:02x}" * 32, id=str(i), category="A") for i in range(5)]
    original = HashList.from_entries(ListInfo(name="z"), entries)
    data = payload.encode(original)
    restored, _ = payload.decode(data, "z")
    values = restored.columns["pdq"].values
    assert not values.flags.writeable and values.base is not None  # a view into the decrypted bytes
    # a payload written with np.savez_compressed (another producer) takes the np.load path
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    packed = io.BytesIO()
    np.savez_compressed(packed, **arrays)
    again, _ = payload.decode(packed.getvalue(), "z")
    assert list(again.entries()) == list(original.entries())


def test_variants_travel_in_the_payload_and_lists_without_them_still_load() -> None:
    from libra_cli.hashlist import payload
    from libra_cli.hashlist.table import HashList, ListInfo

    plain = HashList.from_entries(ListInfo("old"), [Entry("pdq", "ab" * 32, id="a"), Entry("md5", "cd" * 16, id="a")])
    data = payload.encode(plain)
    assert b"pdq.variants" not in data  # a list without variants is written as before: old readers read it
    loaded, _ = payload.decode(data, "old")
    assert loaded.columns["pdq"].variants is None and next(loaded.entries()).variant is None

    entries = [
        Entry("pdq", "ab" * 32, id="a", variant="original"),
        Entry("pdq", "ef" * 32, id="a", variant="region:tl75"),
    ]
    loaded, _ = payload.decode(payload.encode(HashList.from_entries(ListInfo("new"), entries)), "new")
    assert [e.variant for e in loaded.entries()] == ["original", "region:tl75"]
    # Variants are one more array and one more key of a column's description. A reader skips arrays and
    # keys it does not know (it reads by name), which is how readers that predate variants read these
    # lists: shown here with a member and a key this reader does not know.
    import io

    with np.load(io.BytesIO(payload.encode(plain)), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["columns"]["pdq"]["future"] = ["something"]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    arrays["pdq.future"] = np.zeros(1, dtype=np.int32)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    loaded, _ = payload.decode(buffer.getvalue(), "future")
    assert [e.id for e in loaded.entries()] == ["a", "a"]


def test_listed_video_frames_keep_times_and_quality_and_stay_together() -> None:
    from libra_cli.hashlist import payload
    from libra_cli.hashlist.build import dedupe
    from libra_cli.hashlist.table import HashList, ListInfo
    from libra_cli.match.video_entries import entry_rows, is_frame
    from libra_cli.models import Entry

    def frame(video: str, t: float, value: str, variant: str = "original") -> Entry:
        return Entry("vpdq", value * 32, id=video, variant=variant, time=t, quality=90)

    # Two videos interleaved, sharing one frame value at the same time, plus a still entry between them.
    entries = [frame("a", 0.0, "11"), frame("b", 0.0, "11"), Entry("vpdq", "33" * 32, id="still"),
               frame("a", 1.0, "22"), frame("a", 1.0, "44", "mask-top"), frame("b", 1.0, "55")]  # fmt: skip
    kept = dedupe(entries)
    assert len(kept) == len(entries)  # frames of different videos (or variants) are never merged
    decoded, _ = payload.decode(payload.encode(HashList.from_entries(ListInfo("v"), kept)), "v")
    column = decoded.columns["vpdq"]
    assert column.times is not None and column.quality is not None
    ids = [column.ids[i] for i in range(len(column))]
    assert ids == ["a", "a", "a", "b", "b", "still"]
    assert [column.time(i) for i in range(len(column))] == [0.0, 1.0, 1.0, 0.0, 1.0, None]
    assert column.entry(2).variant == "mask-top" and column.entry(2).quality == 90
    assert entry_rows(column, 1) == (0, 3) and entry_rows(column, 4) == (3, 5)
    assert not is_frame(column, 5)
