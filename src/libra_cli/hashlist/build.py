"""Make lists: import sources, deduplicate, encrypt with age, sign with Ed25519, write atomically.

>>> hashlist, report = build_hashlist(["ncmec.csv"], name="ncmec")              # doctest: +SKIP
>>> write_hashlist(hashlist, "ncmec.libra", recipients=[r], sign_key=key)       # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import pyrage
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import HashListError, KeyFileError
from ..models import Entry
from . import container, payload
from .importers import ImportReport, import_source
from .keys import Recipient
from .table import HashList, ListInfo


@dataclass
class BuildReport:
    """What a build or merge did: per-source formats and counts, skipped lines, duplicates, conflicts."""

    imports: ImportReport = field(default_factory=ImportReport)
    duplicates: int = 0
    allow_conflicts: int = 0


def now_utc() -> str:
    """Creation time as ISO 8601 UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def dedupe(entries: Iterable[Entry], report: BuildReport | None = None) -> list[Entry]:
    """One entry per ``(hash_type, value)``, first seen first; a listed video's frames stay apart per
    video, time and variant (two videos may share a frame, and the video rule needs each timeline whole).

    A duplicate fills fields the first one left empty. If duplicates disagree on ``allow``, the entry
    blocks (allow = False): a conflict must never hide a match.
    """
    report = report if report is not None else BuildReport()
    kept: list[Entry] = []
    index: dict[tuple[object, ...], int] = {}
    for entry in entries:
        key: tuple[object, ...] = (entry.hash_type, entry.value)
        if entry.time is not None:
            key = (*key, entry.id, entry.time, entry.variant)
        at = index.get(key)
        if at is None:
            index[key] = len(kept)
            kept.append(entry)
            continue
        report.duplicates += 1
        first = kept[at]
        allow = first.allow and entry.allow
        if first.allow != entry.allow:
            report.allow_conflicts += 1
        kept[at] = replace(
            first,
            id=first.id or entry.id,
            label=first.label or entry.label,
            category=first.category or entry.category,
            source=first.source or entry.source,
            allow=allow,
            variant=first.variant or entry.variant,
        )
    return kept


def build_hashlist(
    sources: Sequence[str],
    *,
    name: str,
    publisher: str = "",
    description: str = "",
    skip_invalid: bool = False,
    created: str | None = None,
    expires: str = "",
) -> tuple[HashList, BuildReport]:
    """Import ``sources`` (formats detected by content), validate and deduplicate them into a ``HashList``.

    ``expires`` (ISO 8601, see ``expiry.parse_expiry``) goes into the signed public header when written.
    """
    if not sources:
        raise HashListError("no sources given: name at least one file to import")
    report = BuildReport()

    def entries() -> Iterable[Entry]:
        for path in sources:
            yield from import_source(path, skip_invalid=skip_invalid, report=report.imports)

    kept = dedupe(entries(), report)
    if not kept:
        raise HashListError(f"the sources ({', '.join(os.path.basename(s) for s in sources)}) hold no valid entries")
    info = ListInfo(
        name=name, publisher=publisher, created=created or now_utc(), description=description, expires=expires
    )
    return HashList.from_entries(info, kept), report


def merge_hashlists(
    lists: Sequence[HashList], *, name: str, publisher: str = "", description: str = "", expires: str = ""
) -> tuple[HashList, BuildReport]:
    """Union of ``lists``; an entry without a source is marked with the name of the list it came from."""
    report = BuildReport()

    def entries() -> Iterable[Entry]:
        for hashlist in lists:
            for entry in hashlist.entries():
                yield entry if entry.source else replace(entry, source=hashlist.info.name or None)

    info = ListInfo(name=name, publisher=publisher, created=now_utc(), description=description, expires=expires)
    return HashList.from_entries(info, dedupe(entries(), report)), report


def check_encryption(recipients: Sequence[Recipient], passphrase: str | None) -> None:
    """Recipients or a passphrase, exactly one kind (age allows one or the other, not both)."""
    if recipients and passphrase:
        raise KeyFileError("choose --recipient or --passphrase-env, not both (age cannot mix them)")
    if not recipients and not passphrase:
        raise KeyFileError(
            "no recipient: give --recipient age1… (or --recipients-file, or --passphrase-env VAR); "
            "libra never writes an unencrypted list"
        )


def encrypt(data: bytes, recipients: Sequence[Recipient], passphrase: str | None) -> bytes:
    """age-encrypt ``data`` to recipients or to a passphrase (age allows one or the other, not both)."""
    check_encryption(recipients, passphrase)
    try:
        if passphrase:
            return bytes(pyrage.passphrase.encrypt(data, passphrase))
        return bytes(pyrage.encrypt(data, list(recipients)))
    except pyrage.EncryptError as err:
        raise KeyFileError(f"age could not encrypt the list ({err})") from None


def pack_hashlist(
    hashlist: HashList,
    *,
    recipients: Sequence[Recipient] = (),
    passphrase: str | None = None,
    sign_key: Ed25519PrivateKey | None = None,
) -> bytes:
    """The complete ``.libra`` file bytes for ``hashlist``."""
    header = container.public_header(hashlist.info.created or now_utc(), sign_key, hashlist.info.expires or None)
    ciphertext = encrypt(payload.encode(hashlist, header), recipients, passphrase)
    return container.pack(ciphertext, header, sign_key)


def write_atomic(path: str, data: bytes) -> None:
    """Write beside the target under a temporary name, then rename: readers never see half a file.

    A target that exists but is not a regular file (``/dev/null``, a named pipe) is written through:
    renaming onto it would replace the device. On any failure or interrupt the temporary file goes.
    """
    if os.path.exists(path) and not os.path.isfile(path):
        try:
            with open(path, "wb") as special:
                special.write(data)
        except OSError as err:
            raise HashListError(f"hashlist {path}: cannot be written ({err.strerror or err})") from None
        return
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    created = False
    try:
        with open(temp, "xb") as handle:
            created = True
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException as err:
        if created:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        if isinstance(err, OSError):
            raise HashListError(f"hashlist {path}: cannot be written ({err.strerror or err})") from None
        raise


def write_hashlist(
    hashlist: HashList,
    path: str,
    *,
    recipients: Sequence[Recipient] = (),
    passphrase: str | None = None,
    sign_key: Ed25519PrivateKey | None = None,
) -> str:
    """Encrypt, sign and atomically write ``hashlist`` to ``path``; return the file's SHA-256."""
    data = pack_hashlist(hashlist, recipients=recipients, passphrase=passphrase, sign_key=sign_key)
    write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()
