"""The findings schema, in one place: how a finding, an error and a skip become a record.

Every format writes the same records. A record's ``status`` says what it is: ``match`` (a listed item),
``suspected`` (context signals, never a match), ``error`` (the file could not be covered: exit code 2),
``warning`` (a problem that left the file covered, e.g. undecodable: its digests were still matched)
or ``skipped`` (seen but not looked at, and why). Later capabilities add fields here (archive members,
video times), and ``SCHEMA`` says which version a file follows (``docs/findings-format.md``).
Hex appears here, at the output edge, and nowhere earlier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from ..models import Finding, Match, MediaRef, Member, ScanError, Skip
from ..textsafe import location_bytes, location_text, unicode_safe

#: Version of the findings schema. 2: one ``findings`` array of records with a ``status``; raw-byte
#: locations; ISO times; ``transform``; ``complete``; listed skips. Fields added since, which readers
#: of version 2 may ignore: ``query_variant``, ``list_variant`` and ``video`` in matches; ``archive`` in
#: records of archive members.
SCHEMA = 2


@dataclass(frozen=True)
class ScanHeader:
    """What the findings file says about the run before any record."""

    libra_version: str
    started: str
    targets: Sequence[str]
    lists: Sequence[Mapping[str, Any]]  #: ``{"name", "entries", "sha256"}`` per list
    hash_set: Sequence[str] = ()  #: the hash types computed for every file


def iso_time(ns: int | None) -> str | None:
    """Nanoseconds since the epoch as ISO 8601 UTC with microseconds (``None`` stays ``None``)."""
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def location_fields(uri: str) -> dict[str, Any]:
    """``location`` (printable, unambiguous: two names never give one text) and, for names that are not
    UTF-8, ``location_bytes``: the base64 of their exact bytes."""
    fields: dict[str, Any] = {"location": location_text(uri)}
    raw = location_bytes(uri)
    if raw is not None:
        fields["location_bytes"] = raw
    return fields


def ref_fields(ref: MediaRef) -> dict[str, Any]:
    fields: dict[str, Any] = {**location_fields(ref.uri), "size": ref.size, "mtime": iso_time(ref.mtime_ns)}
    if ref.version_id is not None:
        fields["version_id"] = ref.version_id
    if ref.etag is not None:
        fields["etag"] = ref.etag
    return fields


def match_record(match: Match) -> dict[str, Any]:
    """A match as the findings show it: the entry's id/label/category, never the listed hash.

    ``transform`` is how the file relates to the listed picture (both sides composed); ``query_variant``
    which of the file's hashes matched, ``list_variant`` which of the listed picture's (docs/findings-format.md).
    """
    return {
        "method": match.method,
        "hash_type": match.hash_type,
        "distance": match.distance,
        "list": match.list,
        "entry": {"id": match.entry.id, "label": match.entry.label, "category": match.entry.category},
        "transform": match.transform,
        "query_variant": match.query_variant,
        "list_variant": match.list_variant,
        "frame_time": match.frame_time,
        "quality": match.quality,
        **({} if match.video is None else {"video": asdict(match.video)}),
    }


def finding_record(finding: Finding) -> dict[str, Any]:
    """One finding (``status`` ``match`` or ``suspected``)."""
    return {
        "status": "match" if finding.matches else "suspected",
        **ref_fields(finding.ref),
        "media_type": finding.media_type,
        "digests": {name: value.hex() for name, value in finding.digests.items()},
        "matches": [match_record(m) for m in finding.matches],
        "suspected": None if finding.suspected is None else dict(finding.suspected),
        "warning": None if finding.warning is None else unicode_safe(finding.warning),
        **({} if finding.member is None else {"archive": archive_record(finding.member)}),
    }


def archive_record(member: Member) -> dict[str, Any]:
    """Where an archive member is, unambiguously: the archive file, and the member names inward (a
    ``!`` inside a name would blur the ``a.zip!b.jpg`` location; these never do)."""
    return {**location_fields(member.archive), "path": [location_text(name) for name in member.path]}


def error_record(error: ScanError) -> dict[str, Any]:
    return {
        "status": "error" if error.fatal else "warning",
        **location_fields(error.location),
        "reason": unicode_safe(error.reason),
    }


def skip_record(skip: Skip) -> dict[str, Any]:
    return {
        "status": "skipped",
        **location_fields(skip.location),
        "reason": unicode_safe(skip.reason),
        "rule": skip.rule,
    }
