"""``libra report aggregate``: a shareable, location-free summary of findings files for a hotline or regulator.

Counts per list, category, hash type, signal and day, of matched and suspected files. Never a path, an
account name, a folder or a cluster key; hashes of suspected files only when asked (``with_hashes``).
Counts below ``min_count`` are left out (and counted as suppressed), so a small count cannot point at
one user. A location seen in several findings files (nightly runs) is counted once per statistic.

>>> summary = aggregate(["findings-2026-12-01.json"], min_count=5)  # doctest: +SKIP
>>> summary["matched"], summary["by_category"]  # doctest: +SKIP
(12, {'A': 9})
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .errors import ConfigError
from .findings.schema import SCHEMA

#: Version of the aggregate document (docs/commands/report.md).
AGGREGATE_SCHEMA = 1
#: Digests of suspected files given with ``with_hashes``.
SHARED_DIGESTS = ("md5", "sha1", "sha256")


def _records(path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(scan start, record)`` for every finding of a JSON or NDJSON findings file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(1 << 16)
            handle.seek(0)
            if head.startswith('{"type": "scan"'):
                started = ""
                for number, line in enumerate(handle, 1):
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError:
                        raise ConfigError(f"{path!r} line {number} is not JSON (a truncated findings file?)") from None
                    if item.get("type") == "scan":
                        started = str(item.get("started") or "")
                    elif item.get("type") == "finding":
                        yield started, item
                return
            if not head.startswith('{\n  "schema"'):
                raise ConfigError(f"{path!r} is not a libra findings file in json or ndjson format")
            try:
                doc = json.load(handle)
            except json.JSONDecodeError:
                raise ConfigError(f"{path!r} is not complete JSON (a findings file still being written?)") from None
    except OSError as err:
        raise ConfigError(f"cannot read findings file {path!r}: {err.strerror or err}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("findings"), list):
        raise ConfigError(f"{path!r} is not a libra findings file of schema {SCHEMA}")
    started = str(doc.get("started") or "")
    for record in doc["findings"]:
        if isinstance(record, dict) and record.get("status") in ("match", "suspected"):
            yield started, record


def _key(record: Mapping[str, Any]) -> str:
    """A location's identity for de-duplication, never output."""
    raw = str(record.get("location_bytes") or record.get("location") or "")
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def aggregate(paths: Sequence[str], *, min_count: int = 1, with_hashes: bool = False) -> dict[str, Any]:
    """The location-free summary of ``paths`` (JSON or NDJSON findings files)."""
    if min_count < 1:
        raise ConfigError(f"--min-count must be at least 1, not {min_count}")
    if not paths:
        raise ConfigError("no findings file given: name one or more FINDINGS files")
    seen: dict[str, set[str]] = {}
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("list", "category", "hash_type", "signal", "day")}
    totals: Counter[str] = Counter()
    hashes: dict[str, dict[str, object]] = {}

    def once(stat: str, key: str) -> bool:
        bucket = seen.setdefault(stat, set())
        if key in bucket:
            return False
        bucket.add(key)
        return True

    for path in paths:
        for started, record in _records(path):
            status = str(record.get("status"))
            key = _key(record)
            if once(status, key):
                totals[status] += 1
            day = started[:10] or "unknown"
            if once(f"day:{day}:{status}", key):
                counts["day"][f"{day} {status}"] += 1
            if status == "match":
                for match in record.get("matches") or []:
                    entry = match.get("entry") or {}
                    for stat, value in (
                        ("list", match.get("list")),
                        ("category", entry.get("category") or "none"),
                        ("hash_type", match.get("hash_type")),
                        ("signal", match.get("method")),
                    ):
                        if once(f"{stat}:{value}", key):
                            counts[stat][str(value)] += 1
            else:
                suspected = record.get("suspected") or {}
                for signal in suspected.get("signals") or ["colocation"]:
                    if once(f"signal:{signal}", key):
                        counts["signal"][str(signal)] += 1
                digests = record.get("digests") or {}
                if with_hashes and digests.get("sha256"):
                    hashes.setdefault(
                        str(digests["sha256"]),
                        {name: digests.get(name) for name in SHARED_DIGESTS} | {"score": suspected.get("score")},
                    )
    suppressed = 0

    def shown(counter: Counter[str]) -> dict[str, int]:
        nonlocal suppressed
        kept = {k: v for k, v in sorted(counter.items()) if v >= min_count}
        suppressed += len(counter) - len(kept)
        return kept

    by_day: dict[str, dict[str, int]] = {}
    for label, value in shown(counts["day"]).items():
        day, _, status = label.partition(" ")
        by_day.setdefault(day, {})["matched" if status == "match" else "suspected"] = value
    out: dict[str, Any] = {
        "schema": AGGREGATE_SCHEMA,
        "findings_files": len(paths),
        "min_count": min_count,
        "matched": _floor(totals["match"], min_count),
        "suspected": _floor(totals["suspected"], min_count),
        "by_list": shown(counts["list"]),
        "by_category": shown(counts["category"]),
        "by_hash_type": shown(counts["hash_type"]),
        "by_signal": shown(counts["signal"]),
        "by_day": by_day,
    }
    suppressed += sum(1 for name in ("matched", "suspected") if out[name] is None)
    out["suppressed"] = suppressed
    if with_hashes:  # not when the count itself is held back: the list would say it
        out["suspected_hashes"] = [] if out["suspected"] is None else [hashes[k] for k in sorted(hashes)]
    return out


def _floor(value: int, min_count: int) -> int | None:
    """A total as shared: zero stays zero (nothing to hide), a small count is withheld (``None``)."""
    return value if value == 0 or value >= min_count else None
