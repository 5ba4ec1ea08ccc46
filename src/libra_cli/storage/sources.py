"""What to scan when it is named rather than walked (``--files-from``), and since when (``--since``).

Event-driven scans get their work as S3 event notifications: straight from S3 (to Lambda or a file),
wrapped by SQS (``aws sqs receive-message`` output, or a Lambda SQS batch), or by SNS. Reading them
here, lazily and one line at a time, lets ``libra scan --files-from -`` sit at the end of a pipe that
never ends, while plain keys, ``s3://`` URIs and local paths work the same way for hand-made lists.

>>> lines = ['s3://uploads/a.jpg', '{"Records": [{"eventName": "ObjectRemoved:Delete",'
...          ' "s3": {"bucket": {"name": "uploads"}, "object": {"key": "b.jpg"}}}]}']
>>> [type(item).__name__ for item in parse_files_from(lines)]
['Named', 'Ignored']
>>> parse_since("24h", now=1_000_000.0)
913600.0
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from urllib.parse import unquote, unquote_plus

from ..errors import ConfigError, StorageError
from .s3 import object_uri, parse_s3_uri

#: A JSON document (one notification, one SQS batch) larger than this is refused, not buffered.
MAX_DOCUMENT = 64 * 1024 * 1024
#: SQS -> SNS -> S3 is the deepest wrapping seen in practice; a little room above it.
MAX_NESTING = 6


class FilesFromError(ConfigError):
    """A ``--files-from`` list that cannot be read or has a line libra cannot understand."""


@dataclass(frozen=True)
class Named:
    """One object or file named by a list line or an event: hand it to its backend's ``stat``.

    ``uri`` is ``s3://bucket/key`` (key decoded, never percent-encoded) or an absolute local path;
    an event also carries the version, ETag and size S3 announced.
    """

    uri: str
    line: int
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    event: str | None = None  #: e.g. ``ObjectCreated:Put``

    @property
    def locator(self) -> str:
        """What to hand to ``Storage.stat`` (and the scan's ``named`` list): the URI, with the version.

        >>> Named("s3://uploads/a.jpg", 1, version_id="3HL4kq").locator
        's3://uploads/a.jpg?versionId=3HL4kq'
        """
        return f"{self.uri}?versionId={self.version_id}" if self.version_id else self.uri


@dataclass(frozen=True)
class Ignored:
    """A notification that names nothing to scan (a removal, a test event): counted, not scanned."""

    location: str
    line: int
    reason: str
    rule: str  #: ``event_removed``, ``event_other`` or ``test_event``


FilesFromItem = Named | Ignored


def parse_files_from(
    lines: Iterable[str | bytes], *, origin: str = "-", default_bucket: str | None = None, cwd: str | None = None
) -> Iterator[FilesFromItem]:
    """Lazily turn list lines into ``Named``/``Ignored`` items; a bad line raises ``FilesFromError``.

    A line is one of:
    - an S3 event notification as JSON (one line, or pretty-printed over several): S3's own
      ``{"Records": [...]}``, an SQS message or ``receive-message`` output, an SNS envelope;
    - ``s3://bucket/key`` (``?versionId=ID`` names a version), or ``file:///abs/path``;
    - with ``default_bucket``: a key in that bucket, exactly as written;
    - without: a local path (relative to ``cwd``).
    Empty lines are skipped. A key that starts with ``{`` or ``[`` must be written as an ``s3://`` URI.

    >>> [n.uri for n in parse_files_from(["photos/a.jpg"], default_bucket="uploads")]
    ['s3://uploads/photos/a.jpg']
    """
    base = cwd or os.getcwd()
    pending: list[str] = []
    pending_size = 0
    start = 0
    number = 0
    for raw in lines:
        number += 1
        text = (raw if isinstance(raw, str) else raw.decode("utf-8", "surrogateescape")).rstrip("\r\n")
        if pending:
            pending.append(text)
            pending_size += len(text)
            if pending_size > MAX_DOCUMENT:
                raise FilesFromError(f"--files-from {origin} line {start}: a JSON document larger than 64 MiB")
            doc = _complete_json("\n".join(pending), text, f"--files-from {origin} line {start}")
            if doc is not _INCOMPLETE:
                pending = []
                yield from _from_event_doc(doc, origin, start)
            continue
        stripped = text.strip()
        if not stripped:
            continue
        if stripped[0] in "{[":
            start = number
            doc = _complete_json(stripped, stripped, f"--files-from {origin} line {start}")
            if doc is _INCOMPLETE:
                pending, pending_size = [stripped], len(stripped)
            else:
                yield from _from_event_doc(doc, origin, start)
            continue
        yield _from_plain(text, origin, number, default_bucket, base)
    if pending:
        try:
            json.loads("\n".join(pending))
        except json.JSONDecodeError as err:
            raise FilesFromError(f"--files-from {origin} line {start}: not valid JSON ({err.msg})") from None


def read_files_from(spec: str, *, default_bucket: str | None = None) -> Iterator[FilesFromItem]:
    """``parse_files_from`` over a file, a FIFO (``<(...)``) or standard input (``-``), read lazily."""
    if spec == "-":
        yield from parse_files_from(sys.stdin.buffer, origin="-", default_bucket=default_bucket)
        return
    with _open_list(spec) as handle:
        yield from parse_files_from(handle, origin=spec, default_bucket=default_bucket)


def check_files_from(spec: str) -> None:
    """Refuse a ``--files-from`` that cannot be read, before the run writes anything (``FilesFromError``).

    A regular file is opened and closed; a pipe is only looked at (opening it would wait for a writer).
    """
    if spec != "-":
        _open_list(spec, probe=True)


def _open_list(path: str, probe: bool = False) -> IO[bytes]:
    """A regular file or a pipe; never a directory or a device (``/dev/zero`` would never end)."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise FilesFromError(f"--files-from {path}: is a directory, not a list of files")
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise FilesFromError(f"--files-from {path}: is not a regular file or a pipe")
        if probe and stat.S_ISFIFO(mode):
            return io.BytesIO()
        handle = open(path, "rb")  # noqa: SIM115  # returned open, for the caller's with-block
        if probe:
            handle.close()
        return handle
    except FileNotFoundError:
        raise FilesFromError(f"--files-from {path}: no such file") from None
    except OSError as err:
        raise FilesFromError(f"--files-from {path}: cannot be read ({err.strerror})") from None


_INCOMPLETE = object()


def _complete_json(text: str, last_line: str, where: str) -> Any:
    """The parsed document, or ``_INCOMPLETE`` while a pretty-printed one is still arriving.

    JSON strings never span lines, so a parser that stops before the end of the text has met an error,
    not the end of a document that continues on the next line.
    """
    if not last_line.rstrip().endswith(("}", "]")):
        return _INCOMPLETE
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        if err.pos >= len(text.rstrip()):
            return _INCOMPLETE
        raise FilesFromError(f"{where}: not valid JSON ({err.msg})") from None


def _from_plain(text: str, origin: str, number: int, default_bucket: str | None, base: str) -> Named:
    where = f"--files-from {origin} line {number}"
    head, sep, rest = text.partition("://")
    if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head):
        scheme = head.lower()
        if scheme == "s3":
            return _named_s3(text, where, number)
        if scheme == "file":
            host, slash, path = rest.partition("/")
            if host not in ("", "localhost") or not slash:
                raise FilesFromError(f"{where}: {text!r} is not a file:/// URI with an absolute path")
            return Named(os.path.normpath("/" + unquote(path)), number)
        raise FilesFromError(f"{where}: the scheme {head!r} is not supported (s3:// or a local path)")
    if default_bucket is not None:
        return _named_s3(object_uri(default_bucket, text), where, number)
    return Named(os.path.abspath(os.path.join(base, text)), number)


def _named_s3(uri: str, where: str, number: int, **event: Any) -> Named:
    try:
        found = parse_s3_uri(uri)
    except StorageError as err:
        raise FilesFromError(f"{where}: {err}") from None
    if not found.key:
        raise FilesFromError(f"{where}: {uri!r} names a bucket, not an object")
    try:
        found.key.encode("utf-8")
    except UnicodeEncodeError:
        raise FilesFromError(f"{where}: the key is not valid UTF-8") from None
    version = event.pop("version_id", None) or found.version_id
    return Named(object_uri(found.bucket, found.key), number, version_id=version, **event)


def _from_event_doc(doc: Any, origin: str, number: int, depth: int = 0) -> Iterator[FilesFromItem]:
    """Unwrap SQS/SNS envelopes down to S3 records; anything else is one sentence."""
    where = f"--files-from {origin} line {number}"
    if depth > MAX_NESTING:
        raise FilesFromError(f"{where}: notifications nested too deeply")
    if isinstance(doc, list):
        for part in doc:
            yield from _from_event_doc(part, origin, number, depth + 1)
        return
    if not isinstance(doc, dict):
        raise FilesFromError(f"{where}: a JSON value that is not an S3 event notification")
    if isinstance(doc.get("Records"), list):
        for record in doc["Records"]:
            yield from _from_record(record, origin, number, depth)
    elif isinstance(doc.get("Messages"), list):  # aws sqs receive-message
        for message in doc["Messages"]:
            body = message.get("Body") if isinstance(message, dict) else None
            yield from _from_event_doc(_inner_json(body, where), origin, number, depth + 1)
    elif "Body" in doc and "MessageId" in doc:  # one SQS message
        yield from _from_event_doc(_inner_json(doc["Body"], where), origin, number, depth + 1)
    elif doc.get("Type") == "Notification" and "Message" in doc:  # an SNS envelope
        yield from _from_event_doc(_inner_json(doc["Message"], where), origin, number, depth + 1)
    elif doc.get("Event") == "s3:TestEvent":
        bucket = doc.get("Bucket")
        yield Ignored(f"s3://{bucket}" if isinstance(bucket, str) else origin, number, "S3's test event", "test_event")
    elif doc.get("source") == "aws.s3" and "detail-type" in doc:
        raise FilesFromError(f"{where}: EventBridge events are not supported yet (use S3 notifications to SQS)")
    elif not (set(doc) - {"ResponseMetadata"}):  # an empty receive-message answer
        return
    else:
        raise FilesFromError(f"{where}: a JSON document that is not an S3 event notification")


def _inner_json(body: Any, where: str) -> Any:
    if not isinstance(body, str):
        raise FilesFromError(f"{where}: an SQS or SNS message without a text body")
    try:
        return json.loads(body)
    except json.JSONDecodeError as err:
        raise FilesFromError(f"{where}: a message body that is not JSON ({err.msg})") from None


def _from_record(record: Any, origin: str, number: int, depth: int) -> Iterator[FilesFromItem]:
    where = f"--files-from {origin} line {number}"
    if not isinstance(record, dict):
        raise FilesFromError(f"{where}: a record that is not a JSON object")
    if isinstance(record.get("s3"), dict):
        yield _from_s3_record(record, where, number)
    elif record.get("eventSource") == "aws:sqs" and "body" in record:  # a Lambda SQS batch
        yield from _from_event_doc(_inner_json(record["body"], where), origin, number, depth + 1)
    elif isinstance(record.get("Sns"), dict):  # a Lambda SNS event
        yield from _from_event_doc(_inner_json(record["Sns"].get("Message"), where), origin, number, depth + 1)
    else:
        raise FilesFromError(f"{where}: a record that is not an S3 event")


def _from_s3_record(record: dict[str, Any], where: str, number: int) -> FilesFromItem:
    s3 = record["s3"]
    bucket = s3.get("bucket", {}).get("name") if isinstance(s3.get("bucket"), dict) else None
    obj = s3.get("object")
    name = record.get("eventName")
    if not isinstance(bucket, str) or not isinstance(obj, dict) or not isinstance(obj.get("key"), str):
        raise FilesFromError(f"{where}: an S3 event without a bucket name and object key")
    if not isinstance(name, str):
        raise FilesFromError(f"{where}: an S3 event without an eventName")
    try:  # S3 sends keys form-encoded ("red flower.jpg" arrives as "red+flower.jpg"); MinIO also encodes "/"
        key = unquote_plus(obj["key"], errors="strict")
    except UnicodeDecodeError:
        raise FilesFromError(f"{where}: an S3 event whose key is not valid percent-encoded UTF-8") from None
    kind = name.removeprefix("s3:")  # MinIO and Ceph write "s3:ObjectCreated:Put"
    uri = object_uri(bucket, key)
    if kind.startswith("ObjectCreated:"):
        size = obj.get("size")
        version = obj.get("versionId")
        etag = obj.get("eTag")
        return _named_s3(
            uri,
            where,
            number,
            version_id=version if isinstance(version, str) and version else None,
            etag=etag.strip('"') if isinstance(etag, str) and etag else None,
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            event=kind,
        )
    if kind.startswith("ObjectRemoved:"):
        return Ignored(uri, number, f"{kind}: nothing left to scan", "event_removed")
    return Ignored(uri, number, f"{kind}: not a new object", "event_other")


# ------------------------------------------------------------------ --since

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_since(text: str, *, now: float | None = None) -> float:
    """``--since`` as an epoch time: a duration back from now, or an ISO 8601 time.

    Durations: ``90m``, ``24h``, ``7d``, ``2w``, ``1d12h`` (s, m, h, d, w). Times: ``2026-05-01``,
    ``2026-05-01T12:00``, ``2026-05-01T12:00:00Z``, ``2026-05-01 12:00+02:00``; without a zone,
    this machine's local time (as ``date`` and ``find -newermt`` read it). ``@1767225600`` is epoch seconds.

    >>> parse_since("2025-01-01T00:00:00Z")
    1735689600.0
    """
    value = text.strip()
    current = time.time() if now is None else now
    if _DURATION.fullmatch(value):
        seconds = sum(float(amount) * _UNITS[unit] for amount, unit in _PART.findall(value))
        if seconds <= 0:
            raise ConfigError(f"--since {text!r} is a duration of zero: give a positive one such as 24h")
        return current - seconds
    if value.startswith("@") and re.fullmatch(r"@\d+(\.\d+)?", value):
        stamp = float(value[1:])
    else:
        try:
            stamp = datetime.fromisoformat(value).timestamp()
        except (ValueError, OverflowError, OSError):
            raise ConfigError(
                f"--since {text!r} is neither a duration (such as 24h, 7d, 90m) "
                "nor an ISO 8601 time (such as 2026-05-01T12:00:00Z)"
            ) from None
    if stamp > current:
        raise ConfigError(f"--since {text!r} is in the future, so nothing would be scanned")
    return stamp
