"""The direct GET path (``storage/s3direct.py``): its signature is botocore's, byte for byte; keys of every
kind travel signed as moto checks them; a kept-alive connection the server dropped is opened again; any
response that is not the plain success is left to boto3.

The HTTP exchange is fed real bytes over real sockets (a socket pair, a forwarding proxy, moto's server);
nothing in the client is mocked.
"""

from __future__ import annotations

import datetime
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from libra_cli.errors import StorageError
from libra_cli.models import MediaRef
from libra_cli.storage.s3 import S3Options, S3Storage, direct_getter_for
from libra_cli.storage.s3direct import HEAD_ROOM, Signer, _Odd, _Stale, exchange, plain_key
from s3server import MotoServer, new_bucket, read_request

MiB = 1024 * 1024


def count_gets(storage: S3Storage) -> list[int]:
    """boto3 GetObject calls (a botocore event hook: observes, changes nothing)."""
    calls: list[int] = []
    storage.client.meta.events.register("before-call.s3.GetObject", lambda **_: calls.append(1))
    return calls


# ------------------------------------------------------------------ the signature


@pytest.mark.parametrize(
    ("path", "query", "extra", "token"),
    [
        ("/bucket/2026/a.jpg", "", {"if-match": '"9b2c0e5f"'}, None),
        ("/bucket/d%C3%BCr/a%20b%2Bc%3D%26%3B%2C%40%24.jpg", "", {"if-match": '"0f-3"'}, "session/token+=="),
        ("/bucket/k~x%21%27%28%29%2A.jpg", "versionId=3HL4kqtJlcpXroDTDmJ%2Brmsr", {}, None),
        ("/", "", {}, None),
    ],
)
def test_the_signature_is_botocores_byte_for_byte(
    path: str, query: str, extra: dict[str, str], token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = Credentials("AKIATESTLIBRA0000001", "libra-test-secret", token)
    now = datetime.datetime(2026, 5, 1, 23, 59, 58)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    for host, url in (
        ("127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("s3.eu-west-1.amazonaws.com", "https://s3.eu-west-1.amazonaws.com"),
    ):
        request = AWSRequest(method="GET", url=url + path + (f"?{query}" if query else ""), headers=dict(extra))
        botocore.auth.S3SigV4Auth(credentials.get_frozen_credentials(), "s3", "eu-west-1").add_auth(request)
        ours = Signer(credentials).headers("GET", host, path, query, "eu-west-1", extra, stamp="20260501T235958Z")
        theirs = {name.lower(): value for name, value in request.headers.items()}
        theirs.setdefault("host", host)  # botocore signs the URL's host; the HTTP library adds the header
        assert ours == theirs


def test_the_signing_key_is_derived_once_per_day_and_region() -> None:
    from botocore.credentials import Credentials

    signer = Signer(Credentials("AKIATESTLIBRA0000001", "libra-test-secret"))
    first = signer.headers("GET", "h", "/b/k", "", "us-east-1", {}, stamp="20260501T000000Z")
    assert len(signer._keys) == 1
    signer.headers("GET", "h", "/b/k", "", "us-east-1", {}, stamp="20260501T235959Z")
    assert len(signer._keys) == 1
    later = signer.headers("GET", "h", "/b/k", "", "us-east-1", {}, stamp="20260502T000000Z")
    other = signer.headers("GET", "h", "/b/k", "", "eu-west-1", {}, stamp="20260502T000000Z")
    assert len(signer._keys) == 3
    assert len({first["authorization"], later["authorization"], other["authorization"]}) == 3


KEYS = [
    "plain/a.jpg",
    "dir with spaces/photo (1).jpg",
    "ünïcödé/фото/写真.jpg",
    "emoji/😀 🎉.png",
    "specials/a+b=c&d;e,f@g$h:i!j'k(l)m*n~o.jpg",
    "percent/100%25 and %20.jpg",
    "hash#and?question.jpg",
    "tab\tin/key.jpg",
    "a//double/slash.jpg",
    "dots/../up.jpg",
    "./dot.jpg",
    "trailing.",
]


def test_keys_of_every_kind_are_read_as_listed_directly_where_plain(s3_server: MotoServer, s3_env: Path) -> None:
    """Each key's bytes, as listed: the direct path's quoting names the right object (no boto3 GET for a
    plain key); the keys it leaves to boto3 (``//``, dot segments, a tab) are still read."""
    bucket = new_bucket(s3_server)
    admin = s3_server.admin()
    bodies = {key: f"body of {key!r}".encode() * 50 for key in KEYS}
    for key, body in bodies.items():
        admin.put_object(Bucket=bucket, Key=key, Body=body)
    storage = S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True, max_attempts=2))
    found = [r for r in storage.walk(f"s3://{bucket}") if isinstance(r, MediaRef)]
    assert sorted(r.uri for r in found) == sorted(f"s3://{bucket}/{k}" for k in KEYS)
    gets = count_gets(storage)
    for ref in found:
        name = ref.uri.split("/", 3)[3]
        before = len(gets)
        assert storage.read_bytes(ref, MiB) == bodies[name], name
        assert len(gets) - before == int(not plain_key(name)), name
    assert sum(plain_key(k) for k in KEYS) == 8
    getter = direct_getter_for(storage.settings)
    assert getter is not None and getter.bases[bucket] is not None  # never refused: still direct


def test_moto_accepts_the_direct_signature(s3_server: MotoServer, s3_env: Path) -> None:
    """With moto checking signatures against an IAM user's secret. (moto checks a percent-encoded path
    wrongly, boto3's own signature too: such keys are covered by the byte-for-byte test above.)"""
    bucket = new_bucket(s3_server)
    admin = s3_server.admin()
    keys = ["plain/a.jpg", "trailing.", "x-y_z.~1.JPG"]
    for key in keys:
        admin.put_object(Bucket=bucket, Key=key, Body=key.encode() * 10)
    iam = s3_server.admin("iam")
    user = f"scanner-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    (s3_env / "credentials").write_text(
        f"[good]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
        f"[bad]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = not-the-secret\n"
    )
    good = S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True, profile="good", max_attempts=2))
    found = sorted((r for r in good.walk(f"s3://{bucket}") if isinstance(r, MediaRef)), key=lambda r: r.uri)
    gets = count_gets(good)
    bad = S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True, profile="bad", max_attempts=2))
    s3_server.require_auth(True)
    try:
        assert [good.read_bytes(r, MiB) for r in found] == [k.encode() * 10 for k in sorted(keys)]
        assert gets == []  # every signature held: no fall-back to boto3
        with pytest.raises(StorageError, match="secret access key does not match"):
            bad.read_bytes(found[0], MiB)  # refused directly (403), then by boto3: one sentence
    finally:
        s3_server.require_auth(False)
    getter = direct_getter_for(bad.settings)
    assert getter is not None and getter.bases[bucket] is None  # a refused signature: boto3 from then on


def test_a_version_is_read_directly_with_its_query_signed(s3_server: MotoServer, s3_env: Path) -> None:
    bucket = new_bucket(s3_server, versioned=True)
    admin = s3_server.admin()
    admin.put_object(Bucket=bucket, Key="v/ünï b.jpg", Body=b"first")
    admin.put_object(Bucket=bucket, Key="v/ünï b.jpg", Body=b"second, longer")
    storage = S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True, all_versions=True))
    versions = [r for r in storage.walk(f"s3://{bucket}/v/") if isinstance(r, MediaRef)]
    assert len(versions) == 2 and all(r.version_id for r in versions)
    gets = count_gets(storage)
    assert sorted(storage.read_bytes(r, MiB) for r in versions) == [b"first", b"second, longer"]
    assert gets == []


# ------------------------------------------------------------------ connections


class Forgetful:
    """A proxy that answers one request per connection and then closes it, having removed the server's
    ``Connection: close``: a kept-alive connection the server drops while it is idle."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as server:
            request = read_request(client)
            if request is None:
                return
            server.sendall(request)
            response = b""
            while chunk := server.recv(65536):
                response += chunk
            head, _, body = response.partition(b"\r\n\r\n")
            head = b"\r\n".join(h for h in head.split(b"\r\n") if h.lower() != b"connection: close")
            client.sendall(head + b"\r\n\r\n" + body)


@pytest.fixture
def forgetful(s3_server: MotoServer, s3_env: Path) -> Iterator[Forgetful]:
    proxy = Forgetful(s3_server.url)
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_connection_dropped_while_idle_is_opened_again(s3_server: MotoServer, forgetful: Forgetful) -> None:
    bucket = new_bucket(s3_server)
    admin = s3_server.admin()
    for i in range(4):
        admin.put_object(Bucket=bucket, Key=f"k{i}.bin", Body=bytes([i]) * 5000)
    storage = S3Storage(S3Options(endpoint_url=forgetful.url, path_style=True, max_attempts=2))
    found = [r for r in storage.walk(f"s3://{bucket}") if isinstance(r, MediaRef)]
    gets = count_gets(storage)
    accepted = forgetful.accepted
    for i, ref in enumerate(found):
        time.sleep(0.05)  # let the proxy close the connection behind the response
        assert storage.read_bytes(ref, MiB) == bytes([i]) * 5000
    assert gets == []  # each stale connection was noticed and replaced, never a fall-back to boto3
    assert forgetful.accepted - accepted == len(found)


def test_the_direct_path_reuses_one_connection_per_thread(s3_server: MotoServer, s3_env: Path) -> None:
    bucket = new_bucket(s3_server)
    admin = s3_server.admin()
    for i in range(3):
        admin.put_object(Bucket=bucket, Key=f"k{i}.bin", Body=b"x" * 100)
    storage = S3Storage(S3Options(endpoint_url=s3_server.url, path_style=True))
    found = [r for r in storage.walk(f"s3://{bucket}") if isinstance(r, MediaRef)]
    getter = direct_getter_for(storage.settings)
    assert getter is not None
    results: dict[int, list[bytes]] = {}

    def read(n: int) -> None:
        results[n] = [storage.read_bytes(ref, MiB) for ref in found]
        getter.close()

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(got == [b"x" * 100] * 3 for got in results.values()) and len(results) == 4


# ------------------------------------------------------------------ the exchange, on real bytes


def respond(*parts: bytes, pause: float = 0.0) -> tuple[socket.socket, threading.Thread]:
    """A socket pair: the far end reads the request, writes ``parts`` (pausing between them) and closes."""
    near, far = socket.socketpair()
    near.settimeout(5)

    def write() -> None:
        far.recv(65536)  # the request
        for part in parts:
            far.sendall(part)
            time.sleep(pause)
        far.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return near, thread


def test_exchange_reads_a_plain_200_even_split_at_every_boundary() -> None:
    head = b'HTTP/1.1 200 OK\r\nETag: "abc"\r\nContent-Length: 10\r\nX-Amz-Id: 1\r\n\r\n'
    raw = head + b"0123456789"
    for cut in (len(head) - 4, len(head) - 3, len(head) - 2, len(head) - 1, len(head), 3):
        sock, _ = respond(raw[:cut], raw[cut:], pause=0.02)
        status, headers, body, reusable = exchange(sock, b"GET / HTTP/1.1\r\n\r\n", 10)
        assert (status, headers[b"etag"], body, reusable) == (200, b'"abc"', b"0123456789", True), cut
        sock.close()
    sock, _ = respond(*(bytes([b]) for b in raw), pause=0.001)  # one byte at a time
    assert exchange(sock, b"GET / HTTP/1.1\r\n\r\n", 10)[2] == b"0123456789"
    sock.close()


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789", (200, b"0123456789", False)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", (200, b"0123456789", False)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789extra", (200, b"0123456789", False)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789x", (200, None, False)),  # not the listed size
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n", (200, None, False)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n0123456789", (200, None, False)),
        (b"HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\n\r\n", (412, None, False)),
        (b"HTTP/1.1 503 Slow Down\r\nContent-Length: 3\r\n\r\nxyz", (503, None, False)),
    ],
)
def test_exchange_takes_only_the_plain_success(response: bytes, expected: tuple[int, bytes | None, bool]) -> None:
    sock, _ = respond(response)
    status, _, body, reusable = exchange(sock, b"GET / HTTP/1.1\r\n\r\n", 10)
    assert (status, body, reusable) == expected
    sock.close()


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        ((), _Stale),  # closed before answering: a kept-alive connection the server dropped
        ((b"HTTP/1.1 200 OK\r\nContent-Le",), _Odd),  # closed mid-headers
        ((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",), _Odd),  # closed mid-body
        ((b"ICY 200 OK\r\n\r\n",), _Odd),
        ((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 11\r\n\r\n0123456789",), _Odd),
        ((b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n",), _Odd),
        ((b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * (HEAD_ROOM + 100) + b"\r\n\r\n",), _Odd),
    ],
)
def test_exchange_refuses_what_is_not_plain_http(parts: tuple[bytes, ...], error: type[Exception]) -> None:
    sock, thread = respond(*parts)
    with pytest.raises(error):
        exchange(sock, b"GET / HTTP/1.1\r\n\r\n", 10)
    thread.join()
    sock.close()


def test_exchange_times_out_as_an_os_error() -> None:
    near, far = socket.socketpair()
    near.settimeout(0.2)
    try:
        with pytest.raises(TimeoutError):
            exchange(near, b"GET / HTTP/1.1\r\n\r\n", 10)
    finally:
        near.close()
        far.close()
