"""The S3 backend against a real S3 endpoint on 127.0.0.1 (moto's server), over HTTP, as in production.

Nothing is mocked at the client level: boto3 signs, retries and parses real HTTP. What a reader really
fetched is counted on the wire by a TCP proxy, and misbehaving endpoints are real sockets.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from libra_cli.errors import ConfigError, FileTooLarge, StorageError
from libra_cli.models import MediaRef, Skip, StorageOptions
from libra_cli.storage import Changed, Gone, WalkError, WalkOptions, storage_for
from libra_cli.storage.s3 import MAX_BLOCK, S3Options, S3Storage, direct_getter_for
from libra_cli.storage.s3direct import plain_key
from libra_cli.storage.sources import Ignored, Named, parse_files_from, parse_since
from s3server import Dropper, MotoServer, TcpProxy, free_port, new_bucket

MiB = 1024 * 1024


def put_many(server: MotoServer, bucket: str, objects: dict[str, bytes]) -> None:
    admin = server.admin()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: admin.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()))


def count_calls(storage: S3Storage, operation: str) -> list[int]:
    """Count real requests of one operation (a botocore event hook: observes, changes nothing)."""
    calls: list[int] = []
    storage.client.meta.events.register(f"before-call.s3.{operation}", lambda **_: calls.append(1))
    return calls


@pytest.fixture
def storage(s3_server: MotoServer, s3_env: Path) -> S3Storage:
    return S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True, max_attempts=3))


@pytest.fixture
def proxied(s3_server: MotoServer, s3_env: Path) -> Iterator[tuple[S3Storage, TcpProxy]]:
    proxy = TcpProxy(s3_server.url)
    try:
        yield S3Storage(S3Options(endpoint_url=proxy.url, path_style=True, max_attempts=4)), proxy
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def many(s3_server: MotoServer) -> tuple[str, dict[str, bytes]]:
    """A bucket of 1,205 small objects (more than one 1,000-key page)."""
    bucket = new_bucket(s3_server)
    return bucket, s3_server.fill(bucket, "many/", 1205)


def refs(items: list[Any]) -> list[MediaRef]:
    return [i for i in items if isinstance(i, MediaRef)]


# ------------------------------------------------------------------ listing


def test_walk_pages_lazily_through_more_than_1000_keys(storage: S3Storage, many: tuple[str, dict[str, bytes]]) -> None:
    bucket, objects = many
    lists = count_calls(storage, "ListObjectsV2")
    walk = storage.walk(f"s3://{bucket}")
    first = next(walk)
    assert isinstance(first, MediaRef) and first.uri == f"s3://{bucket}/many/000000.bin"
    assert len(lists) == 1  # the first key came before the second page was asked for
    found = [first, *walk]
    assert len(lists) == 2
    assert [r.uri for r in refs(found)] == [f"s3://{bucket}/{k}" for k in sorted(objects)]
    ref = refs(found)[1204]
    assert ref.size == len(objects["many/001204.bin"])
    assert ref.etag == hashlib.md5(objects["many/001204.bin"]).hexdigest()
    assert ref.version_id is None and ref.mtime_ns is not None
    assert abs(ref.mtime_ns / 1e9 - time.time()) < 600
    assert storage.read_bytes(ref, 1000) == objects["many/001204.bin"]


def test_prefix_targets_name_a_folder_or_an_object(s3_server: MotoServer, storage: S3Storage) -> None:
    bucket = new_bucket(s3_server)
    keys = ["uploads", "uploads-old/c.jpg", "uploads.txt", "uploads/a.jpg", "uploads/sub/b.jpg", "other/d.jpg"]
    put_many(s3_server, bucket, {k: k.encode() for k in keys} | {"folder/": b""})

    def listed(target: str) -> list[str]:
        return [i.uri.removeprefix(f"s3://{bucket}/") for i in refs(list(storage.walk(target)))]

    assert listed(f"s3://{bucket}/uploads/") == ["uploads/a.jpg", "uploads/sub/b.jpg"]
    assert listed(f"s3://{bucket}/uploads") == ["uploads", "uploads/a.jpg", "uploads/sub/b.jpg"]
    assert listed(f"s3://{bucket}/uploads/a.jpg") == ["uploads/a.jpg"]
    assert listed(f"s3://{bucket}") == sorted(keys)
    whole = list(storage.walk(f"s3://{bucket}/"))
    assert [(s.rule, s.listed) for s in whole if isinstance(s, Skip)] == [("folder_marker", False)]
    assert list(storage.walk(f"s3://{bucket}/empty/")) == []  # an empty folder is empty, not an error
    missing = list(storage.walk(f"s3://{bucket}/nothing"))
    assert missing == [WalkError(f"s3://{bucket}/nothing", "no such object or prefix")]


def test_all_versions_lists_noncurrent_versions_and_skips_delete_markers(
    s3_server: MotoServer, storage: S3Storage
) -> None:
    bucket = new_bucket(s3_server, versioned=True)
    admin = s3_server.admin()
    v1 = admin.put_object(Bucket=bucket, Key="up/k.jpg", Body=b"first upload")["VersionId"]
    v2 = admin.put_object(Bucket=bucket, Key="up/k.jpg", Body=b"second upload")["VersionId"]
    admin.put_object(Bucket=bucket, Key="up/j.jpg", Body=b"kept")
    marker = admin.delete_object(Bucket=bucket, Key="up/k.jpg")["VersionId"]

    current = list(storage.walk(f"s3://{bucket}/up/"))
    assert [r.uri for r in refs(current)] == [f"s3://{bucket}/up/j.jpg"]  # a "deleted" key is gone here...

    versions = S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True, all_versions=True))
    items = list(versions.walk(f"s3://{bucket}/up/"))
    by_version = {r.version_id: r for r in refs(items)}
    assert {v1, v2} <= set(by_version)  # ...but its uploads linger as noncurrent versions
    assert versions.read_bytes(by_version[v1], 100) == b"first upload"
    with versions.open(by_version[v2]) as stream:
        assert stream.read() == b"second upload"
    skipped = [i for i in items if isinstance(i, Skip)]
    assert [(s.rule, s.listed, s.location) for s in skipped] == [
        ("delete_marker", False, f"s3://{bucket}/up/k.jpg?versionId={marker}")
    ]
    named = versions.stat(f"s3://{bucket}/up/k.jpg?versionId={v1}")
    assert isinstance(named, MediaRef) and named.version_id == v1 and named.size == len(b"first upload")


def test_since_counts_older_objects_as_skipped(s3_server: MotoServer, storage: S3Storage) -> None:
    bucket = new_bucket(s3_server)
    admin = s3_server.admin()
    admin.put_object(Bucket=bucket, Key="old.jpg", Body=b"old")
    boundary = int(time.time()) + 1  # S3 keeps whole seconds: wait for the next one
    time.sleep(boundary - time.time() + 0.05)
    admin.put_object(Bucket=bucket, Key="new.jpg", Body=b"new")
    since = WalkOptions(since=float(boundary))
    items = list(storage.walk(f"s3://{bucket}", since))
    assert [r.uri for r in refs(items)] == [f"s3://{bucket}/new.jpg"]
    assert items[1] == Skip(f"s3://{bucket}/old.jpg", "not modified since --since", "since", False)
    assert len(refs(list(storage.walk(f"s3://{bucket}", WalkOptions(since=parse_since("1d")))))) == 2
    old = storage.stat(f"s3://{bucket}/old.jpg", since)
    assert isinstance(old, Skip) and old.rule == "since"
    excluded = list(storage.walk(f"s3://{bucket}", WalkOptions(exclude=("old.*",))))
    assert [(i.location, i.rule) for i in excluded if isinstance(i, Skip)] == [(f"s3://{bucket}/old.jpg", "exclude")]


def test_objects_above_max_file_size_are_listed_as_skipped(s3_server: MotoServer, storage: S3Storage) -> None:
    bucket = new_bucket(s3_server)
    put_many(s3_server, bucket, {"small.jpg": b"x" * 100, "large.mp4": b"y" * 5000})
    items = list(storage.walk(f"s3://{bucket}", WalkOptions(max_file_size=1000)))
    assert [r.uri for r in refs(items)] == [f"s3://{bucket}/small.jpg"]
    (skip,) = [i for i in items if isinstance(i, Skip)]
    assert (skip.location, skip.rule, skip.listed) == (f"s3://{bucket}/large.mp4", "max_file_size", True)
    assert "5000 bytes" in skip.reason
    stat = storage.stat(f"s3://{bucket}/large.mp4", WalkOptions(max_file_size=1000))
    assert isinstance(stat, Skip) and stat.rule == "max_file_size"
    with pytest.raises(FileTooLarge):
        storage.read(MediaRef(f"s3://{bucket}/large.mp4", 5000), 1000)


# ------------------------------------------------------------------ reading


def test_small_object_is_one_get(storage: S3Storage, many: tuple[str, dict[str, bytes]]) -> None:
    bucket, objects = many
    (ref,) = refs(list(storage.walk(f"s3://{bucket}/many/000042.bin")))
    gets = count_calls(storage, "GetObject")
    assert storage.read(ref, 1 * MiB) == (objects["many/000042.bin"], ref)  # the contract's (bytes, ref)
    assert len(gets) == 0  # signed and sent directly (s3direct.py), not through boto3's call machinery
    plain = S3Storage(replace(storage.settings, direct_get=False))
    boto_gets = count_calls(plain, "GetObject")
    assert plain.read(ref, 1 * MiB) == (objects["many/000042.bin"], ref)
    assert len(boto_gets) == 1


def test_direct_gets_only_take_the_plain_success_path(s3_server: MotoServer, storage: S3Storage) -> None:
    bucket = new_bucket(s3_server, versioned=True)
    admin = s3_server.admin()
    admin.put_object(Bucket=bucket, Key="dir/a b+c.jpg", Body=b"first")
    listed = storage.stat(f"s3://{bucket}/dir/a b+c.jpg")
    assert isinstance(listed, MediaRef) and listed.version_id
    admin.put_object(Bucket=bucket, Key="dir/a b+c.jpg", Body=b"second upload")
    direct = direct_getter_for(storage.settings)
    assert direct is not None
    assert direct.get(bucket, "dir/a b+c.jpg", listed, MiB) == b"first"  # pinned to the listed version
    (current,) = refs(list(storage.walk(f"s3://{bucket}/dir/")))
    assert direct.get(bucket, "dir/a b+c.jpg", current, MiB) == b"second upload"
    stale = replace(current, etag="0" * 32)
    assert direct.get(bucket, "dir/a b+c.jpg", stale, MiB) is None  # not as listed: boto3 decides (Changed)
    with pytest.raises(Changed):
        storage.read_bytes(stale, MiB)
    assert not plain_key("a/../b.jpg") and not plain_key("a//b.jpg") and not plain_key("./x") and plain_key("a/b.jpg")
    assert direct.get(bucket, "a/../dir/a b+c.jpg", current, MiB) is None


def test_large_object_stream_is_one_pass_and_seeks_fetch_little(
    s3_server: MotoServer, proxied: tuple[S3Storage, TcpProxy]
) -> None:
    storage, proxy = proxied
    bucket = new_bucket(s3_server)
    data = random.Random(7).randbytes(24 * MiB)
    s3_server.admin().put_object(Bucket=bucket, Key="big.bin", Body=data)
    (ref,) = refs(list(storage.walk(f"s3://{bucket}/big.bin")))

    for chunk in (8 * MiB, 32 * 1024):  # a digest's chunks, and a decoder's small reads
        proxy.reset()
        digest = hashlib.sha256()
        with storage.open(ref) as stream:
            while block := stream.read(chunk):
                digest.update(block)
        assert digest.digest() == hashlib.sha256(data).digest()
        assert proxy.received <= 1.05 * len(data), f"sequential read fetched {proxy.received / len(data):.3f}x"
        assert proxy.connections <= 24

    proxy.reset()
    spots = random.Random(3).sample(range(len(data) - 4096), 6)
    with storage.open(ref) as stream:
        assert stream.seekable() and stream.readable() and not stream.writable()
        for spot in spots:
            assert stream.seek(spot) == spot
            assert stream.read(4096) == data[spot : spot + 4096]
            assert stream.tell() == spot + 4096
        stream.seek(-10, io.SEEK_END)
        assert stream.read(100) == data[-10:]
        assert stream.read(100) == b""
    assert proxy.received < 0.15 * len(data), f"six seeks fetched {proxy.received / len(data):.3f}x"


def test_video_frames_decode_through_ranged_reads(s3_server: MotoServer, proxied: tuple[S3Storage, TcpProxy]) -> None:
    av = pytest.importorskip("av")
    import numpy as np

    storage, proxy = proxied
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = 320, 240, "yuv420p", 20_000_000
        stream.codec_context.gop_size = 10
        rng = np.random.default_rng(1)
        for _ in range(100):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    video = buffer.getvalue()
    assert len(video) > 6 * MiB
    bucket = new_bucket(s3_server)
    s3_server.admin().put_object(Bucket=bucket, Key="clip.mp4", Body=video)
    (ref,) = refs(list(storage.walk(f"s3://{bucket}/clip.mp4")))
    proxy.reset()
    times = []
    with storage.open(ref) as handle, av.open(handle) as container:
        vs = container.streams.video[0]
        for second in (1, 5, 9):
            container.seek(int(second / vs.time_base), stream=vs)
            times.append(float(next(container.decode(vs)).pts * vs.time_base))
    assert times == [1.0, 5.0, 9.0]
    assert proxy.received < 0.4 * len(video), f"three frames fetched {proxy.received / len(video):.2f}x"


def test_an_object_changed_after_listing_is_an_error_not_other_bytes(s3_server: MotoServer, storage: S3Storage) -> None:
    bucket = new_bucket(s3_server)
    admin = s3_server.admin()
    admin.put_object(Bucket=bucket, Key="a.jpg", Body=b"listed bytes" * 100)
    admin.put_object(Bucket=bucket, Key="b.jpg", Body=b"listed too")
    a, b = refs(list(storage.walk(f"s3://{bucket}")))
    admin.put_object(Bucket=bucket, Key="a.jpg", Body=b"swapped after the listing" * 100)
    admin.delete_object(Bucket=bucket, Key="b.jpg")
    with pytest.raises(Changed) as changed:
        storage.read_bytes(a, MiB)
    assert str(changed.value) == "changed since it was listed; it was not read"
    with pytest.raises(Changed), storage.open(a) as stream:
        stream.read(10)
    with pytest.raises(Gone) as gone:
        storage.read_bytes(b, MiB)
    assert str(gone.value) == "deleted since it was listed"

    versioned = new_bucket(s3_server, versioned=True)
    admin.put_object(Bucket=versioned, Key="v.jpg", Body=b"the listed version")
    (by_etag,) = refs(list(storage.walk(f"s3://{versioned}")))  # ListObjectsV2 gives no version id
    by_version = storage.stat(f"s3://{versioned}/v.jpg")  # a HEAD does
    assert isinstance(by_version, MediaRef) and by_version.version_id and by_etag.version_id is None
    admin.put_object(Bucket=versioned, Key="v.jpg", Body=b"a later upload")
    assert storage.read_bytes(by_version, MiB) == b"the listed version"  # pinned: exactly what was listed
    with pytest.raises(Changed):
        storage.read_bytes(by_etag, MiB)


# ------------------------------------------------------------------ --files-from with event notifications


def test_files_from_sqs_delivered_event_notifications(s3_server: MotoServer, storage: S3Storage) -> None:
    bucket = new_bucket(s3_server)
    sqs = s3_server.admin("sqs")
    queue = sqs.create_queue(QueueName=f"events-{bucket}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    admin = s3_server.admin()
    admin.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    bodies = {"in box/my cat+1.jpg": b"cat", "in box/été (1).png": b"summer"}
    for key, body in bodies.items():
        admin.put_object(Bucket=bucket, Key=key, Body=body)
    listed = refs(list(storage.walk(f"s3://{bucket}/in box/")))  # keys with spaces, '+' and accents, as stored
    assert sorted(r.uri for r in listed) == sorted(f"s3://{bucket}/{k}" for k in bodies)
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    received.pop("ResponseMetadata")
    lines = [json.dumps(received)]  # exactly what `aws sqs receive-message` prints (here on one line)
    items = list(parse_files_from(lines))
    named = [i for i in items if isinstance(i, Named)]
    assert sorted(n.uri for n in named) == sorted(f"s3://{bucket}/{k}" for k in bodies)
    assert [i.rule for i in items if isinstance(i, Ignored)] == ["test_event"]
    for item in named:
        ref = storage.stat(item.locator)
        assert isinstance(ref, MediaRef) and ref.etag == item.etag and ref.size == item.size
        assert storage.read_bytes(ref, MiB) == bodies[item.uri.removeprefix(f"s3://{bucket}/")]


def test_files_from_s3_delivered_notification_with_versions(s3_server: MotoServer, storage: S3Storage) -> None:
    bucket = new_bucket(s3_server, versioned=True)
    admin = s3_server.admin()
    put = admin.put_object(Bucket=bucket, Key="up/new photo.jpg", Body=b"announced")
    admin.put_object(Bucket=bucket, Key="up/new photo.jpg", Body=b"overwritten since")

    def record(name: str, key: str, **obj: Any) -> dict[str, Any]:
        return {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": name,
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": {"key": key, **obj}},
        }

    event = {
        "Records": [
            record(
                "ObjectCreated:Put", "up/new+photo.jpg", size=9, eTag=put["ETag"].strip('"'), versionId=put["VersionId"]
            ),
            record("ObjectRemoved:Delete", "up/gone.jpg"),
        ]
    }
    pretty = json.dumps(event, indent=2)  # as S3 hands it to a Lambda function, pretty-printed
    text = f"s3://{bucket}/up/new photo.jpg\n{pretty}\n\nup/new photo.jpg\n"
    items = list(parse_files_from(text.splitlines(keepends=True), origin="events.json", default_bucket=bucket))
    last = 1 + len(pretty.splitlines()) + 2
    assert [(type(i).__name__, i.line) for i in items] == [("Named", 1), ("Named", 2), ("Ignored", 2), ("Named", last)]
    assert items[3] == Named(f"s3://{bucket}/up/new photo.jpg", last)
    named = [i for i in items if isinstance(i, Named)]
    current, announced = (storage.stat(i.locator) for i in named[:2])
    assert isinstance(announced, MediaRef) and isinstance(current, MediaRef)
    assert storage.read_bytes(announced, MiB) == b"announced"  # the version the event named, not the newer one
    assert storage.read_bytes(current, MiB) == b"overwritten since"
    missing = storage.stat(f"s3://{bucket}/up/never.jpg")
    assert missing == WalkError(f"s3://{bucket}/up/never.jpg", "no such object")


# ------------------------------------------------------------------ failures: one sentence each


def test_missing_bucket_is_one_walk_error_and_the_next_target_still_works(
    storage: S3Storage, many: tuple[str, dict[str, bytes]]
) -> None:
    assert list(storage.walk("s3://libra-no-such-bucket")) == [
        WalkError("s3://libra-no-such-bucket", "the bucket does not exist")
    ]
    assert list(storage.walk("s3://Not A Bucket!")) == [
        WalkError("s3://Not A Bucket!", "'Not A Bucket!' is not a valid bucket name")
    ]
    bucket, _ = many
    not_a_folder = f"s3://{bucket}/many/0000"  # a key prefix, not a folder or an object
    assert list(storage.walk(not_a_folder)) == [WalkError(not_a_folder, "no such object or prefix")]
    assert len(refs(list(storage.walk(f"s3://{bucket}/many/000001.bin")))) == 1


def test_wrong_credentials_are_one_sentence_without_the_secret(s3_server: MotoServer, s3_env: Path) -> None:
    bucket = new_bucket(s3_server)
    s3_server.admin().put_object(Bucket=bucket, Key="seven.bin", Body=b"object 7")
    iam = s3_server.admin("iam")
    user = f"scanner-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    wrong_secret = "wrong-secret-that-must-never-be-printed"
    (s3_env / "credentials").write_text(
        f"[good]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
        f"[bad]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {wrong_secret}\n"
        f"[unknown]\naws_access_key_id = AKIAUNKNOWNKEY000000\naws_secret_access_key = {wrong_secret}\n"
    )

    def backend(profile: str) -> S3Storage:
        return S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True, profile=profile, max_attempts=2))

    target = f"s3://{bucket}/seven.bin"  # moto checks signatures wrongly for a "/" in a listing prefix
    s3_server.require_auth(True)
    try:
        (ref,) = refs(list(backend("good").walk(target)))
        assert backend("good").read_bytes(ref, MiB) == b"object 7"
        bad = backend("bad")
        messages = [w.reason for w in bad.walk(target) if isinstance(w, WalkError)]
        assert messages == ["the secret access key does not match the access key ID (check the credentials)"]
        with pytest.raises(StorageError) as caught:
            bad.read_bytes(ref, MiB)
        messages.append(str(caught.value))
        stat = bad.stat(target)
        assert isinstance(stat, WalkError) and "access denied" in stat.reason
        unknown = list(backend("unknown").walk(target))
        assert unknown == [WalkError(target, "the endpoint does not know this access key ID (check the credentials)")]
        messages += [stat.reason, *(w.reason for w in unknown if isinstance(w, WalkError))]
    finally:
        s3_server.require_auth(False)
    for message in messages:
        assert wrong_secret not in message and key["SecretAccessKey"] not in message and "\n" not in message
    missing = S3Storage(S3Options(endpoint_url=s3_server.url, profile="nobody"))
    no_profile = (
        "the S3 client cannot be set up: the AWS profile 'nobody' is not in the shared config or credentials files"
    )
    assert list(missing.walk(target)) == [WalkError(target, no_profile)]
    assert missing.stat(target) == WalkError(target, no_profile)


def test_no_credentials_at_all(s3_server: MotoServer, s3_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    storage = S3Storage(S3Options(endpoint_url=s3_server.url, max_attempts=1))
    (error,) = storage.walk("s3://any-bucket")
    assert isinstance(error, WalkError) and error.reason.startswith("no AWS credentials were found")


def test_an_endpoint_that_drops_connections(s3_env: Path) -> None:
    dropper = Dropper()
    try:
        retried = S3Storage(S3Options(endpoint_url=dropper.url, path_style=True, max_attempts=2))
        assert list(retried.walk("s3://uploads/2026/")) == [
            WalkError("s3://uploads/2026/", f"{dropper.url} dropped the connection after 2 attempts")
        ]
        tried = dropper.accepted
        assert tried >= 2  # botocore retried before giving up
        storage = S3Storage(S3Options(endpoint_url=dropper.url, path_style=True, max_attempts=1))
        assert storage.stat("s3://uploads/a.jpg") == WalkError(
            "s3://uploads/a.jpg", f"{dropper.url} dropped the connection"
        )
        ref = MediaRef("s3://uploads/a.jpg", 10, etag="abc")
        with pytest.raises(StorageError) as caught:
            storage.read_bytes(ref, MiB)
        assert str(caught.value) == f"{dropper.url} dropped the connection"
        with pytest.raises(StorageError, match="dropped the connection"), storage.open(ref) as stream:
            stream.read()
        assert dropper.accepted > tried
    finally:
        dropper.close()
    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = S3Storage(S3Options(endpoint_url=closed, max_attempts=1))
    assert list(unreachable.walk("s3://uploads")) == [WalkError("s3://uploads", f"cannot connect to {closed}")]


def test_throttling_slows_the_scan_but_drops_nothing(
    proxied: tuple[S3Storage, TcpProxy], many: tuple[str, dict[str, bytes]]
) -> None:
    storage, proxy = proxied
    bucket, objects = many
    proxy.throttle(1)
    found = refs(list(storage.walk(f"s3://{bucket}/many/")))
    assert [r.uri for r in found] == [f"s3://{bucket}/{k}" for k in sorted(objects)]
    proxy.throttle(1)
    assert storage.read_bytes(found[113], MiB) == objects["many/000113.bin"]
    assert proxy.throttled == 2


def test_a_body_cut_short_is_fetched_again_then_one_sentence(
    s3_server: MotoServer, proxied: tuple[S3Storage, TcpProxy]
) -> None:
    storage, proxy = proxied
    bucket = new_bucket(s3_server)
    data = random.Random(5).randbytes(MAX_BLOCK + 1000)
    s3_server.admin().put_object(Bucket=bucket, Key="cut.bin", Body=data)
    (ref,) = refs(list(storage.walk(f"s3://{bucket}")))
    gets = count_calls(storage, "GetObject")
    proxy.truncate(1, after=5000)
    assert storage.read_bytes(ref, 2 * MAX_BLOCK) == data  # one cut body: fetched again
    assert len(gets) == 1  # the cut one was the direct GET (s3direct.py); boto3 fetched it again
    proxy.truncate(100, after=5000)
    with pytest.raises(StorageError) as caught, storage.open(ref) as stream:
        stream.seek(1000)
        stream.read()
    assert str(caught.value) == f"{proxy.url} dropped the connection mid-transfer, 3 times"


# ------------------------------------------------------------------ construction


def test_backend_is_cheap_picklable_and_shares_one_client_per_process(s3_server: MotoServer, s3_env: Path) -> None:
    code = (
        "import sys; from libra_cli.storage.s3 import S3Storage, S3Options; "
        "S3Storage(S3Options(endpoint_url='http://127.0.0.1:1')); print('boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # constructing a backend imports nothing heavy and connects nowhere

    options = S3Options(endpoint_url=s3_server.url, path_style=True, all_versions=True)
    clone: S3Storage = pickle.loads(pickle.dumps(S3Storage(options)))
    assert clone.settings == options
    same = S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True))  # all_versions is not the client's
    assert clone.client is same.client
    assert S3Storage(S3Options(endpoint_url=s3_server.url)).client is not same.client


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retry_mode": "legacy"}, "S3 retry mode 'legacy' is not one of standard, adaptive"),
        ({"max_attempts": 0}, "S3 max attempts 0 is not between 1 and 100"),
        ({"endpoint_url": "ftp://user:hunter2@host/"}, "endpoint URL 'ftp://host/' is not an http(s):// URL"),
    ],
)
def test_bad_options_are_one_sentence(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        S3Options(**kwargs)
    assert str(caught.value) == message


def test_options_from_the_scans_storage_options() -> None:
    generic = StorageOptions(
        "http://127.0.0.1:9000",
        "eu-west-1",
        "scanner",
        True,
        True,
        (("s3.retry_mode", "adaptive"), ("s3.max_attempts", "12"), ("gcs.project", "other backend")),
    )
    settings = S3Options("http://127.0.0.1:9000", "eu-west-1", "scanner", True, True, "adaptive", 12)
    assert S3Options.from_storage_options(generic) == settings
    assert S3Options.from_storage_options(settings.to_storage_options()) == settings
    backend = storage_for("s3://uploads/a.jpg", settings.to_storage_options())  # the registry builds it
    assert isinstance(backend, S3Storage) and backend.settings == settings
    assert storage_for("s3://other/b.jpg", settings.to_storage_options()) is backend  # once per process
    with pytest.raises(ConfigError) as caught:
        S3Options.from_storage_options(StorageOptions(extra=(("s3.max_attempts", "many"),)))
    assert str(caught.value) == "S3 option 's3.max_attempts' has the value 'many', not a whole number"
    with pytest.raises(ConfigError, match=r"^S3 option 's3.retries' is not one of s3.retry_mode, s3.max_attempts"):
        S3Options.from_storage_options(StorageOptions(extra=(("s3.retries", "3"),)))


def test_direct_gets_step_aside_for_a_proxy_or_a_private_ca(
    storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert direct_getter_for(storage.settings) is not None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert direct_getter_for(storage.settings) is None  # botocore's transport honours the proxy; ours would not
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/private-ca.pem")
    assert direct_getter_for(storage.settings) is not None  # a plain http:// endpoint: no certificate to check
    secure = replace(storage.settings, endpoint_url=storage.settings.endpoint_url.replace("http:", "https:"))
    assert direct_getter_for(secure) is None  # a private CA for https: botocore's transport trusts it, ours would not
    monkeypatch.delenv("AWS_CA_BUNDLE")
    assert direct_getter_for(storage.settings) is not None
