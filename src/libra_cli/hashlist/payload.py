"""The decrypted payload: a numpy ``.npz`` archive holding the columns of a ``HashList`` as they live in memory.

Loading is a handful of array reads (no per-entry Python objects), so millions of entries load in seconds
and in memory close to their raw size. ``allow_pickle=False`` always: a payload is data, never code.
The payload is only ever built and read in memory; it never touches disk.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import signals
from ..errors import HashListError, NotAHashList
from .table import Codes, HashColumn, HashList, ListInfo, VarStrings

#: Version of the payload layout, independent of the container's format version.
PAYLOAD_VERSION = 1
_META = "meta"
#: A compressed payload may inflate to at most this many times its own size (libra writes stored members;
#: hash values do not compress, so a real list is far below this, and a zip bomb is refused before inflating).
MAX_EXPANSION = 16
_MIN_BUDGET = 64 << 20
_CHUNK = 1 << 20


def _blob(strings: VarStrings) -> npt.NDArray[np.uint8]:
    return np.frombuffer(strings.blob, dtype=np.uint8)


def encode(hashlist: HashList, header: Mapping[str, Any] | None = None) -> bytes:
    """Serialise ``hashlist`` (and the public header it will travel under, to bind the two)."""
    info = hashlist.info
    arrays: dict[str, npt.NDArray[Any]] = {}
    columns: dict[str, Any] = {}
    for hash_type, column in hashlist.columns.items():
        columns[hash_type] = {
            "count": len(column),
            "labels": list(column.labels.table),
            "categories": list(column.categories.table),
            "sources": list(column.sources.table),
            "raw": column.raw_values is not None,
        }
        if column.variants is not None:  # optional: readers that predate it ignore both
            columns[hash_type]["variants"] = list(column.variants.table)
            arrays[f"{hash_type}.variants"] = column.variants.codes.astype(np.int32, copy=False)
        if column.times is not None:  # optional, like variants: listed video frames' times
            columns[hash_type]["times"] = True
            arrays[f"{hash_type}.times"] = np.ascontiguousarray(column.times, dtype=np.float32)
        if column.quality is not None:
            columns[hash_type]["quality"] = True
            arrays[f"{hash_type}.quality"] = np.ascontiguousarray(column.quality, dtype=np.uint8)
        arrays[f"{hash_type}.values"] = np.ascontiguousarray(column.values, dtype=np.uint8)
        arrays[f"{hash_type}.allow"] = np.ascontiguousarray(column.allow, dtype=np.bool_)
        arrays[f"{hash_type}.ids_blob"] = _blob(column.ids)
        arrays[f"{hash_type}.ids_offsets"] = column.ids.offsets.astype(np.int64, copy=False)
        arrays[f"{hash_type}.labels"] = column.labels.codes.astype(np.int32, copy=False)
        arrays[f"{hash_type}.categories"] = column.categories.codes.astype(np.int32, copy=False)
        arrays[f"{hash_type}.sources"] = column.sources.codes.astype(np.int32, copy=False)
        if column.raw_values is not None:
            arrays[f"{hash_type}.raw_blob"] = _blob(column.raw_values)
            arrays[f"{hash_type}.raw_offsets"] = column.raw_values.offsets.astype(np.int64, copy=False)
    meta = {
        "libra_payload": PAYLOAD_VERSION,
        "name": info.name,
        "publisher": info.publisher,
        "created": info.created,
        "description": info.description,
        "header": dict(header or {}),
        "columns": columns,
    }
    arrays[_META] = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    out = io.BytesIO()
    np.savez(out, allow_pickle=False, **arrays)
    return out.getvalue()


def is_payload(data: bytes) -> bool:
    """Whether decrypted ``data`` is libra's own payload (else it is a plain source for the importers)."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return f"{_META}.npy" in archive.namelist()
    except Exception:  # a damaged zip fails in many ways (zip, zlib, names); it is then not a payload
        return False


class _Reader:
    """Typed, checked access to the arrays of one payload; every mismatch is one ``HashListError``."""

    def __init__(self, archive: Any, origin: str) -> None:
        self.archive = archive
        self.origin = origin

    def fail(self, what: str) -> HashListError:
        return HashListError(f"hashlist {self.origin}: its contents are malformed ({what})")

    def array(self, key: str, dtype: Any, shape: tuple[int, ...]) -> Any:
        try:
            value = self.archive[key]
        except KeyError:
            raise self.fail(f"missing {key}") from None
        if value.dtype != np.dtype(dtype) or (shape and value.shape != shape):
            raise self.fail(f"{key} has shape {value.shape} {value.dtype}")
        return value

    def strings(self, prefix: str, count: int) -> VarStrings:
        """A ``VarStrings`` whose every item slices whole UTF-8 characters out of its blob (checked here,
        in bounded memory, so a matched row can never fail to decode in the middle of a scan)."""
        blob = self.array(f"{prefix}_blob", np.uint8, ())
        offsets = self.array(f"{prefix}_offsets", np.int64, (count + 1,))
        if blob.ndim != 1:
            raise self.fail(f"{prefix}_blob is not a flat array")
        ends = np.where(offsets < 0, -(offsets + 1), offsets)  # a negative start marks None: -(pos + 1)
        if ends[0] != 0 or ends[-1] != len(blob) or bool((ends[1:] < ends[:-1]).any()):
            raise self.fail(f"{prefix} offsets are out of order or point past the end")
        inner = ends[(ends > 0) & (ends < len(blob))]
        if bool(((blob[inner] & 0xC0) == 0x80).any()):
            raise self.fail(f"{prefix} offsets split a character")
        data = blob.tobytes()
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for start in range(0, len(data), _CHUNK):
                decoder.decode(data[start : start + _CHUNK])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise self.fail(f"{prefix} is not UTF-8 text") from None
        return VarStrings(data, offsets)

    def codes(self, key: str, count: int, table: Any) -> Codes:
        if not isinstance(table, list) or not all(isinstance(t, str) for t in table):
            raise self.fail(f"the table of {key} is not a list of strings")
        codes = self.array(key, np.int32, (count,))
        if count and (int(codes.max()) >= len(table) or int(codes.min()) < -1):
            raise self.fail(f"{key} codes point outside their table")
        return Codes(codes, table)


class _Views:
    """Zero-copy access to the stored (uncompressed) ``.npy`` members of an in-memory ``.npz``.

    Each stored array is a read-only ``np.frombuffer`` view into the decrypted bytes, so loading needs no
    second copy of the list: peak memory stays near the payload's size. A compressed member (another
    producer's ``np.savez_compressed``) is inflated, but only up to ``MAX_EXPANSION`` times the payload's
    size in all: a payload may be hostile (anyone can encrypt to a host's public recipient), and neither a
    declared shape nor a declared size is trusted before it is checked against the other. ``np.load`` is
    never used: it allocates whatever shape a header declares. Anything unusual raises ``ValueError``.
    """

    def __init__(self, data: bytes) -> None:
        self.arrays: dict[str, Any] = {}
        budget = max(MAX_EXPANSION * len(data), _MIN_BUDGET)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                if not member.filename.endswith(".npy") or member.flag_bits & 0x1:
                    raise ValueError(member.filename)
                buffer: bytes = data
                if member.compress_type == zipfile.ZIP_STORED:
                    local = data[member.header_offset : member.header_offset + 30]
                    if len(local) != 30 or local[:4] != b"PK\x03\x04":
                        raise ValueError(member.filename)
                    start = member.header_offset + 30 + int.from_bytes(local[26:28], "little")
                    start += int.from_bytes(local[28:30], "little")
                else:
                    budget -= member.file_size
                    if budget < 0:
                        raise ValueError(f"{member.filename} inflates beyond {MAX_EXPANSION}x the payload")
                    buffer, start = archive.read(member), 0
                head = io.BytesIO(buffer[start : start + 4096])
                version = np.lib.format.read_magic(head)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
                else:
                    raise ValueError(member.filename)
                if dtype.hasobject or dtype.itemsize == 0 or any(d < 0 for d in shape):
                    raise ValueError(member.filename)
                count = math.prod(shape)  # a Python int: no overflow to a small, matching size
                if head.tell() + count * dtype.itemsize != member.file_size:
                    raise ValueError(member.filename)
                view = np.frombuffer(buffer, dtype=dtype, count=count, offset=start + head.tell())
                self.arrays[member.filename[: -len(".npy")]] = view.reshape(shape, order="F" if fortran else "C")

    def __getitem__(self, key: str) -> Any:
        return self.arrays[key]

    def __enter__(self) -> _Views:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _open(data: bytes, origin: str) -> _Views:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns of odd (Python 2) headers; libra never writes them
            return _Views(data)
    except Exception:  # hostile bytes fail in many ways (zip, npy header, zlib, warning): one sentence
        raise HashListError(f"hashlist {origin}: its contents are not a libra payload") from None


def _count(spec: Mapping[str, Any], hash_type: str, reader: _Reader) -> int:
    count = spec.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count < 2**40:
        raise reader.fail(f"the entry count of {hash_type} is {count!r}")
    return count


def read_meta(data: bytes, origin: str) -> dict[str, Any]:
    """Only the ``meta`` record of a payload (a keyword list is all meta: ``hashlist/keywords.py``)."""
    if not is_payload(data):
        raise HashListError(f"hashlist {origin}: its decrypted contents are not a libra payload")
    with _open(data, origin) as archive:
        reader = _Reader(archive, origin)
        try:
            meta = json.loads(reader.array(_META, np.uint8, ()).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise reader.fail("metadata is not JSON") from None
    if not isinstance(meta, dict):
        raise HashListError(f"hashlist {origin}: its contents are not a libra payload")
    return meta


def decode(data: bytes, origin: str) -> tuple[HashList, dict[str, Any]]:
    """Rebuild the ``HashList`` from payload bytes; also return the header the payload was bound to.

    Arrays are read-only views into ``data`` where possible (see ``_Views``). ``ListInfo`` carries only
    what the payload says (name, publisher, …); the loader adds the rest.
    """
    archive = _open(data, origin)
    with archive:
        reader = _Reader(archive, origin)
        try:
            meta = json.loads(reader.array(_META, np.uint8, ()).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise reader.fail("metadata is not JSON") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("columns"), dict):
            raise reader.fail("metadata has no columns")
        if meta.get("kind", "hashes") != "hashes":  # a keyword list (hashlist/keywords.py) is not a hash list
            raise NotAHashList(f"hashlist {origin}: is a keyword list, not a hash list (give it with --keywords)")
        version = meta.get("libra_payload")
        if version != PAYLOAD_VERSION:
            raise HashListError(
                f"hashlist {origin}: its contents use payload version {version!r}; "
                f"this libra reads version {PAYLOAD_VERSION} (upgrade libra)"
            )
        columns: dict[str, HashColumn] = {}
        for hash_type, spec in sorted(meta["columns"].items()):
            signal = signals.find(hash_type)
            if signal is None:
                raise reader.fail(f"unknown hash type {hash_type[:40]!r}")
            if not isinstance(spec, dict):
                raise reader.fail(f"the description of {hash_type} is not an object")
            count = _count(spec, hash_type, reader)
            raw = signal.kind == "unsupported"
            width = signal.nbytes
            columns[hash_type] = HashColumn(
                hash_type=hash_type,
                values=reader.array(f"{hash_type}.values", np.uint8, (count, width)),
                allow=reader.array(f"{hash_type}.allow", np.bool_, (count,)),
                ids=reader.strings(f"{hash_type}.ids", count),
                labels=reader.codes(f"{hash_type}.labels", count, spec.get("labels", [])),
                categories=reader.codes(f"{hash_type}.categories", count, spec.get("categories", [])),
                sources=reader.codes(f"{hash_type}.sources", count, spec.get("sources", [])),
                raw_values=reader.strings(f"{hash_type}.raw", count) if raw else None,
                variants=reader.codes(f"{hash_type}.variants", count, spec["variants"]) if "variants" in spec else None,
                times=reader.array(f"{hash_type}.times", np.float32, (count,)) if spec.get("times") else None,
                quality=reader.array(f"{hash_type}.quality", np.uint8, (count,)) if spec.get("quality") else None,
            )
    info = ListInfo(
        name=str(meta.get("name", "")),
        publisher=str(meta.get("publisher", "")),
        created=str(meta.get("created", "")),
        description=str(meta.get("description", "")),
    )
    header = meta.get("header")
    return HashList(info, columns), header if isinstance(header, dict) else {}
