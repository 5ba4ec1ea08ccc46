"""A real S3 endpoint on 127.0.0.1 for tests, and two misbehaving networks to point the client at.

- ``MotoServer``: moto's S3 server in its own process, on a free port, with its own TMPDIR (moto spools
  large objects to disk; the scanner's TMPDIR must stay empty, and this keeps the two apart).
- ``TcpProxy``: forwards to the server and counts the bytes that come back (what a ranged reader really
  fetched, HTTP headers included); it can also answer connections with ``503 SlowDown`` (throttling)
  or cut a response short (a connection dropped mid-body).
- ``Dropper``: accepts every connection and closes it at once (an endpoint that drops connections).

Run as a script (``python tests/s3server.py --port 5000``) it is moto's server plus one test-only route,
``POST /_libra/fill?bucket=B&prefix=P&count=N``, that creates N small objects inside the server process:
1,205 PUTs over HTTP would cost the tests 10 s, and the 100,000-key benchmark far more. Everything the
code under test does still goes over HTTP.

The fixtures ``s3_server`` (one server per session) and ``s3_env`` (clean AWS environment, static test
credentials, a scanner TMPDIR that must still be empty at the end) are exposed through conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "AKIATESTLIBRA0000001"
SECRET_KEY = "libra-test-secret-key-never-printed"
REGION = "us-east-1"


def fill_body(i: int) -> bytes:
    return f"object {i}".encode()


def new_bucket(server: MotoServer, versioned: bool = False) -> str:
    """A bucket of its own for one test (versioned when asked)."""
    name = f"libra-{uuid.uuid4().hex[:12]}"
    admin = server.admin()
    admin.create_bucket(Bucket=name)
    if versioned:
        admin.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def read_request(client: socket.socket) -> bytes | None:
    """A request's bytes up to the end of its headers (``None`` if the client left first)."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = client.recv(65536)
        if not chunk:
            return None
        request += chunk
    return request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """moto's server in a subprocess; ``url`` is its endpoint."""

    process: subprocess.Popen[bytes]
    url: str
    tmpdir: Path

    @classmethod
    def start(cls, workdir: Path) -> MotoServer:
        tmpdir = workdir / "server-tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = {**os.environ, "TMPDIR": str(tmpdir)}
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "INITIAL_NO_AUTH_ACTION_COUNT"):
            env.pop(name, None)
        log = open(workdir / "moto.log", "wb")  # noqa: SIM115 - the server writes to it until stopped
        process = subprocess.Popen(
            [sys.executable, __file__, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
        log.close()
        server = cls(process, f"http://127.0.0.1:{port}", tmpdir)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(server.url + "/moto-api/", timeout=2):
                    return server
            except OSError as err:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    log_text = (workdir / "moto.log").read_text()[-2000:]
                    raise RuntimeError(f"moto server did not start: {log_text}") from err
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _post(self, path: str, body: bytes = b"") -> None:
        request = urllib.request.Request(
            self.url + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def fill(self, bucket: str, prefix: str, count: int) -> dict[str, bytes]:
        """Create ``count`` objects ``{prefix}{i:06d}.bin`` in the server process; returns key -> body."""
        query = urllib.parse.urlencode({"bucket": bucket, "prefix": prefix, "count": count})
        self._post(f"/_libra/fill?{query}")
        return {f"{prefix}{i:06d}.bin": fill_body(i) for i in range(count)}

    def require_auth(self, on: bool) -> None:
        """Make the server check signatures against its IAM users (``on``) or accept anything."""
        self._post("/moto-api/reset-auth", b"0" if on else b"inf")

    def admin(self, service: str = "s3") -> Any:
        """A boto3 client for setting up test data (never the code under test)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


class TcpProxy:
    """127.0.0.1 port forwarder that counts the bytes flowing back from the server.

    ``throttle(n)``: the next ``n`` connections get ``503 SlowDown`` instead of being forwarded.
    ``truncate(n, after)``: the next ``n`` forwarded responses are cut after ``after`` bytes.
    """

    SLOW_DOWN = (
        b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
    )
    SLOW_DOWN_BODY = (
        b"<?xml version='1.0' encoding='UTF-8'?>"
        b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
    )

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.received = 0
        self.connections = 0
        self.throttled = 0
        self._throttle = 0
        self._truncate = 0
        self._truncate_after = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.received = 0
            self.connections = 0

    def throttle(self, count: int) -> None:
        with self._lock:
            self._throttle = count

    def truncate(self, count: int, after: int) -> None:
        with self._lock:
            self._truncate, self._truncate_after = count, after

    def close(self) -> None:
        self._stopped = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            throttle = self._throttle > 0
            if throttle:
                self._throttle -= 1
                self.throttled += 1
            cut = self._truncate_after if self._truncate > 0 and not throttle else None
            if cut is not None:
                self._truncate -= 1
        with client:
            if throttle:
                if read_request(client) is None:
                    return
                client.sendall(self.SLOW_DOWN % (len(self.SLOW_DOWN_BODY), self.SLOW_DOWN_BODY))
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                return
            with server:
                up = threading.Thread(target=self._pump, args=(client, server, False, None), daemon=True)
                up.start()
                self._pump(server, client, True, cut)
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
                up.join(5)

    def _pump(self, source: socket.socket, sink: socket.socket, count: bool, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if limit is not None:
                    chunk = chunk[: max(0, limit - sent)]
                sink.sendall(chunk)
                sent += len(chunk)
                if count:
                    with self._lock:
                        self.received += len(chunk)
                if limit is not None and sent >= limit:
                    break
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class Dropper:
    """An endpoint that accepts every TCP connection and closes it without a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.accepted = 0
        self._stopped = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stopped = True
        self._listener.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto S3 server for the session (buckets are named per test)."""
    server = MotoServer.start(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean AWS environment with the test credentials, and an empty scanner TMPDIR checked at the end.

    Yields the folder holding the (initially empty) shared config and credentials files.
    """
    from libra_cli.storage.s3 import reset_clients

    aws = tmp_path / "aws"
    aws.mkdir()
    scanner_tmp = tmp_path / "scanner-tmp"
    scanner_tmp.mkdir()
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("TMPDIR", str(scanner_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(scanner_tmp))
    reset_clients()
    yield aws
    reset_clients()
    left = sorted(p.name for p in scanner_tmp.iterdir())
    assert left == [], f"the scanner wrote to its TMPDIR: {left}"


def _serve(port: int, keep_alive: bool = False) -> None:
    """moto's server (as ``python -m moto.server``) plus the ``/_libra/fill`` route.

    ``keep_alive`` serves through tornado instead of werkzeug, whose development server closes the
    connection after every response (real S3 keeps it open; the benchmark wants that).
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/_libra/fill":
            return moto_app(environ, start_response)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        bucket, prefix, count = query["bucket"][0], query.get("prefix", [""])[0], int(query["count"][0])
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for i in range(count):
            backend.put_object(bucket, f"{prefix}{i:06d}.bin", fill_body(i))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    os.environ.setdefault("MOTO_PORT", str(port))
    if not keep_alive:
        run_simple("127.0.0.1", port, app, threaded=True)
        return
    from concurrent.futures import ThreadPoolExecutor

    import tornado.httpserver
    import tornado.ioloop
    import tornado.wsgi

    container = tornado.wsgi.WSGIContainer(app, executor=ThreadPoolExecutor(8))
    server = tornado.httpserver.HTTPServer(container, max_body_size=1 << 31, max_buffer_size=1 << 31)
    server.listen(port, "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="moto's S3 server for libra's tests and benchmarks")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keep-alive", action="store_true", help="serve through tornado (HTTP keep-alive)")
    args = parser.parse_args()
    _serve(args.port, args.keep_alive)
