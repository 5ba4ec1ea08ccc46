"""``--files-from`` lines and S3 event notifications, ``--since`` values: parsed, or one sentence."""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from libra_cli.errors import ConfigError
from libra_cli.storage.sources import (
    FilesFromError,
    Ignored,
    Named,
    parse_files_from,
    parse_since,
    read_files_from,
)


def s3_record(name: str, bucket: str, key: str, **obj: Any) -> dict[str, Any]:
    """One record shaped as S3 documents it (notification-content-structure)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-05-01T12:00:00.000Z",
        "eventName": name,
        "userIdentity": {"principalId": "EXAMPLE"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "uploads",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": key, "sequencer": "0A1B2C3D4E5F678901", **obj},
        },
    }


CREATED = s3_record(
    "ObjectCreated:Put", "uploads", "in+box/red+flower%281%29.jpg", size=1024, eTag="0123abcd", versionId="v1"
)
REMOVED = s3_record("ObjectRemoved:Delete", "uploads", "old.jpg")
TAGGED = s3_record("ObjectTagging:Put", "uploads", "a.jpg")


def parse(*lines: str, **kwargs: Any) -> list[Named | Ignored]:
    return list(parse_files_from(lines, **kwargs))


def test_plain_lines_uris_keys_and_local_paths(tmp_path: Path) -> None:
    assert parse("s3://uploads/a b.jpg", "", "s3://uploads/v.jpg?versionId=3HL4kq", cwd=str(tmp_path)) == [
        Named("s3://uploads/a b.jpg", 1),
        Named("s3://uploads/v.jpg", 3, version_id="3HL4kq"),
    ]
    assert parse("2026/a.jpg", "/abs/key.jpg", default_bucket="uploads") == [
        Named("s3://uploads/2026/a.jpg", 1),
        Named("s3://uploads//abs/key.jpg", 2),  # with a default bucket every plain line is a key, as written
    ]
    assert parse("photos/a.jpg", "/srv/b.jpg", "file:///srv/c%20d.jpg", cwd=str(tmp_path)) == [
        Named(str(tmp_path / "photos" / "a.jpg"), 1),
        Named("/srv/b.jpg", 2),
        Named("/srv/c d.jpg", 3),
    ]
    assert parse("s3://uploads/crlf.jpg\r\n") == [Named("s3://uploads/crlf.jpg", 1)]


def test_s3_event_as_delivered_and_as_sqs_and_sns_wrap_it() -> None:
    event = {"Records": [CREATED, REMOVED, TAGGED]}
    expected = [
        Named(
            "s3://uploads/in box/red flower(1).jpg",
            1,
            version_id="v1",
            etag="0123abcd",
            size=1024,
            event="ObjectCreated:Put",
        ),
        Ignored("s3://uploads/old.jpg", 1, "ObjectRemoved:Delete: nothing left to scan", "event_removed"),
        Ignored("s3://uploads/a.jpg", 1, "ObjectTagging:Put: not a new object", "event_other"),
    ]
    assert parse(json.dumps(event)) == expected
    message = {"MessageId": "m1", "ReceiptHandle": "r", "MD5OfBody": "x", "Body": json.dumps(event)}
    assert parse(json.dumps({"Messages": [message]})) == expected  # aws sqs receive-message
    assert parse(json.dumps(message)) == expected  # one SQS message
    lambda_sqs = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": json.dumps(event)}]}
    assert parse(json.dumps(lambda_sqs)) == expected
    sns = {"Type": "Notification", "MessageId": "n1", "Message": json.dumps(event)}
    assert parse(json.dumps({"Messages": [{"MessageId": "m2", "Body": json.dumps(sns)}]})) == expected
    assert parse(json.dumps({"Records": [{"EventSource": "aws:sns", "Sns": sns}]})) == expected
    assert parse(json.dumps([event])) == expected
    assert parse(json.dumps({"ResponseMetadata": {"HTTPStatusCode": 200}})) == []  # an empty queue


def test_minio_style_events_and_the_s3_test_event() -> None:
    minio = s3_record("s3:ObjectCreated:CompleteMultipartUpload", "media", "users%2FABC%2Fclip.mp4", size=9)
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-05-01T12:00:00Z", "Bucket": "media"}
    assert parse(
        json.dumps({"EventName": "s3:ObjectCreated:CompleteMultipartUpload", "Records": [minio]}),
        json.dumps(test_event),
    ) == [
        Named("s3://media/users/ABC/clip.mp4", 1, size=9, event="ObjectCreated:CompleteMultipartUpload"),
        Ignored("s3://media", 2, "S3's test event", "test_event"),
    ]


def test_pretty_printed_documents_between_plain_lines() -> None:
    pretty = json.dumps({"Records": [CREATED]}, indent=4).splitlines()
    items = parse("s3://uploads/first.jpg", *pretty, "s3://uploads/last.jpg")
    assert [(type(i).__name__, i.line) for i in items] == [("Named", 1), ("Named", 2), ("Named", len(pretty) + 2)]
    assert items[1] == Named(
        "s3://uploads/in box/red flower(1).jpg",
        2,
        version_id="v1",
        etag="0123abcd",
        size=1024,
        event="ObjectCreated:Put",
    )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["s3://uploads/a.jpg", '{"Records": [1, }'], "--files-from list.txt line 2: not valid JSON (Expecting value)"),
        (["{", '  "Records": ['], "--files-from list.txt line 1: not valid JSON (Expecting value)"),
        (['{"hello": "world"}'], "--files-from list.txt line 1: a JSON document that is not an S3 event notification"),
        (
            ['{"Records": [{"eventSource": "aws:sqs", "body": "not json"}]}'],
            "--files-from list.txt line 1: a message body that is not JSON (Expecting value)",
        ),
        (
            ['{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {}}}]}'],
            "--files-from list.txt line 1: an S3 event without a bucket name and object key",
        ),
        (
            ['{"source": "aws.s3", "detail-type": "Object Created", "detail": {}}'],
            "--files-from list.txt line 1: EventBridge events are not supported yet (use S3 notifications to SQS)",
        ),
        (
            ["gs://bucket/a.jpg"],
            "--files-from list.txt line 1: the scheme 'gs' is not supported (s3:// or a local path)",
        ),
        (["s3://uploads"], "--files-from list.txt line 1: 's3://uploads' names a bucket, not an object"),
        (
            ["s3://no_such bucket/a.jpg"],
            "--files-from list.txt line 1: s3://no_such bucket/a.jpg: 'no_such bucket' is not a valid bucket name",
        ),
        (
            ["file://server/share/a.jpg"],
            "--files-from list.txt line 1: 'file://server/share/a.jpg' is not a file:/// URI with an absolute path",
        ),
    ],
)
def test_bad_lines_are_one_sentence_naming_the_line(lines: list[str], message: str) -> None:
    with pytest.raises(FilesFromError) as caught:
        list(parse_files_from(lines, origin="list.txt"))
    assert str(caught.value) == message


def test_key_bytes_that_are_not_utf8() -> None:
    assert parse_files_from([b"/srv/caf\xe9.jpg\n"]).__next__() == Named(os.fsdecode(b"/srv/caf\xe9.jpg"), 1)
    with pytest.raises(FilesFromError, match="line 1: the key is not valid UTF-8"):
        list(parse_files_from([b"caf\xe9.jpg\n"], default_bucket="uploads"))


def test_read_files_from_a_file_a_pipe_and_refuses_a_directory(tmp_path: Path) -> None:
    listing = tmp_path / "keys.txt"
    listing.write_text("a.jpg\nb.jpg\n")
    assert [n.uri for n in read_files_from(str(listing), default_bucket="up")] == ["s3://up/a.jpg", "s3://up/b.jpg"]
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "w") as pipe:
            pipe.write(json.dumps({"Records": [CREATED]}) + "\n")

    thread = threading.Thread(target=writer)
    thread.start()
    items = list(read_files_from(str(fifo)))
    thread.join(5)
    assert [i.uri for i in items if isinstance(i, Named)] == ["s3://uploads/in box/red flower(1).jpg"]
    with pytest.raises(FilesFromError, match=r"is a directory, not a list of files$"):
        list(read_files_from(str(tmp_path)))
    with pytest.raises(FilesFromError, match=r"^--files-from /dev/zero: is not a regular file or a pipe$"):
        list(read_files_from("/dev/zero"))
    with pytest.raises(FilesFromError, match=r"no such file$"):
        list(read_files_from(str(tmp_path / "missing.txt")))


def test_since_durations_and_times() -> None:
    now = 1_800_000_000.0
    assert parse_since("24h", now=now) == now - 86400
    assert parse_since("7d", now=now) == now - 7 * 86400
    assert parse_since("90m", now=now) == now - 5400
    assert parse_since("1d12h", now=now) == now - 1.5 * 86400
    assert parse_since("2w", now=now) == now - 14 * 86400
    assert parse_since("1.5h", now=now) == now - 5400
    assert parse_since("2026-05-01T12:00:00Z", now=now) == 1777636800.0
    assert parse_since("2026-05-01T14:00:00+02:00", now=now) == 1777636800.0
    assert parse_since("2026-05-01 12:00", now=now) == datetime(2026, 5, 1, 12, 0).timestamp()  # local time
    assert parse_since("2026-05-01", now=now) == datetime(2026, 5, 1).timestamp()
    assert parse_since("@1777636800", now=now) == 1777636800.0


NEITHER = "is neither a duration (such as 24h, 7d, 90m) nor an ISO 8601 time (such as 2026-05-01T12:00:00Z)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "yesterday",
            f"--since 'yesterday' {NEITHER}",
        ),
        (
            "24",
            f"--since '24' {NEITHER}",
        ),
        (
            "2026-13-01",
            f"--since '2026-13-01' {NEITHER}",
        ),
        ("0h", "--since '0h' is a duration of zero: give a positive one such as 24h"),
        ("2030-01-01T00:00:00Z", "--since '2030-01-01T00:00:00Z' is in the future, so nothing would be scanned"),
    ],
)
def test_bad_since_is_one_sentence(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_since(text, now=1_800_000_000.0)
    assert str(caught.value) == message
