"""Whole-object GETs without botocore's per-call machinery: the success path of ``S3Storage.read_bytes``.

A boto3 ``get_object`` costs 1.5-3.5 ms of CPU whatever the object's size: the S3 endpoint rules are
resolved again for every key, the event hooks run, the user-agent string is rebuilt and the response
parsed. For the ~100 KiB photos a host mostly stores, that was a third of libra's CPU per image
(docs/s3.md). This module signs the same GET with Signature V4 exactly as botocore's ``S3SigV4Auth``
signs it (the same canonical request, headers and signing-key derivation; ``tests/test_s3.py`` checks
the two agree byte for byte), keeping the derived signing key for the day instead of four HMACs per
request, and sends it on one kept-alive HTTP/1.1 connection per thread, reading the response straight
into one buffer sized from the listed size (no HTTP library in between: urllib3 and ``http.client``
cost more CPU per GET than the rest of the exchange).

It learns where a bucket lives from botocore itself: one presigned URL per bucket gives the scheme,
host, path prefix (virtual-host or path-style addressing, whatever the endpoint rules chose) and the
signing region; only the key is appended per object. It handles only the plain success: a ``200``
with a ``Content-Length`` equal to the listed size and the listed ETag. Anything else (a redirect,
``403``, ``404``, ``412``, a ``5xx``, a chunked or odd response, a dropped connection, a key whose path
a server might normalise) returns ``None`` and the caller goes through boto3, which retries, follows
region redirects and turns errors into sentences exactly as before. A kept-alive connection the server
closed while idle is opened again once before that. Anonymous clients (no credentials),
``s3.direct_get: false``, and hosts that reach storage through a proxy or trust a private CA for an
``https`` endpoint (``HTTPS_PROXY``/``HTTP_PROXY``, ``AWS_CA_BUNDLE``: settings botocore honours and
this transport does not) always use boto3.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from ..models import MediaRef

#: Keys sent directly: the path is ``quote``d as botocore quotes it (UTF-8, ``/`` and ``~`` kept) and sent as
#: signed, with no URL parser in between, so any character but the controls (and lone surrogates) will do.
#: Others, and ``.``/``..`` segments or ``//`` that a server or proxy might normalise, go through boto3.
_PLAIN_KEY = re.compile(r"[^\x00-\x1f\x7f\ud800-\udfff]+")
_PROBE = "libra-direct-probe"
#: ETags sent in ``If-Match`` directly (what S3 makes: hex digits, a dash and a part count); others: boto3.
_PLAIN_ETAG = re.compile(r"[A-Za-z0-9._~+/=-]{1,200}")
#: The SHA-256 of an empty body: what botocore's S3 signer puts in ``X-Amz-Content-SHA256`` for a GET.
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: Room for the response's status line and headers, on top of the object's listed size.
HEAD_ROOM = 16 * 1024


@dataclass(frozen=True)
class BucketBase:
    """Where a bucket's objects are: ``{scheme}://{netloc}{prefix}{quoted key}``, signed for ``region``."""

    scheme: str
    netloc: str
    prefix: str
    region: str

    @functools.cached_property
    def address(self) -> tuple[str, int]:
        """(host, port) to connect to."""
        parts = urlsplit(f"{self.scheme}://{self.netloc}")
        return parts.hostname or "", parts.port or (443 if self.scheme == "https" else 80)

    @functools.cached_property
    def host(self) -> str:
        """The ``Host`` header botocore signs for this base (``_host_from_url``: no default port)."""
        host, port = self.address
        if ":" in host:
            host = f"[{host}]"
        return host if port == (443 if self.scheme == "https" else 80) else f"{host}:{port}"


def plain_key(key: str) -> bool:
    """Whether ``key`` can travel as a URL path untouched (no dot segments, no empty segments)."""
    if not _PLAIN_KEY.fullmatch(key) or key.startswith("/") or "//" in key:
        return False
    return all(part not in (".", "..") for part in key.split("/"))


def bucket_base(client: Any, bucket: str) -> BucketBase | None:
    """The bucket's base URL and signing region, from one Signature V4 presigned URL botocore makes (no
    request is sent): the URL has the endpoint and addressing the rules chose, its credential scope the region."""
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": _PROBE}, ExpiresIn=60)
    parts = urlsplit(url)
    if not parts.path.endswith("/" + _PROBE) or parts.scheme not in ("http", "https") or "@" in parts.netloc:
        return None
    scope = parse_qs(parts.query).get("X-Amz-Credential", [""])[0].split("/")
    if len(scope) != 5 or scope[3] != "s3":
        return None  # not SigV4 for s3 (an old signature version): boto3 only
    return BucketBase(parts.scheme, parts.netloc, parts.path[: -len(_PROBE)], scope[2])


class Signer:
    """Signature V4 for bodiless S3 requests, as botocore's ``S3SigV4Auth.add_auth`` makes it.

    The signing key (four chained HMACs of the secret, the day, the region and the service) is derived
    once per day, region and secret; a request then costs one SHA-256 and one HMAC. Credentials are
    read frozen for every request, so refreshed (role, SSO) credentials are picked up as botocore would.
    """

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials
        self._keys: dict[tuple[str, str, str], bytes] = {}

    def signing_key(self, secret: str, day: str, region: str) -> bytes:
        found = self._keys.get((secret, day, region))
        if found is None:
            key = ("AWS4" + secret).encode()
            for part in (day, region, "s3", "aws4_request"):
                key = hmac.digest(key, part.encode(), "sha256")
            if len(self._keys) > 16:
                self._keys.clear()  # yesterday's keys, or rotated secrets
            self._keys[(secret, day, region)] = found = key
        return found

    def headers(
        self,
        method: str,
        host: str,
        path: str,
        query: str,
        region: str,
        extra: dict[str, str],
        stamp: str | None = None,
    ) -> dict[str, str]:
        """The headers to send (``extra``, lower-case names, included and signed): ``path`` as sent (quoted),
        ``query`` canonical (``name=quoted-value`` pairs, sorted); ``stamp`` (``YYYYMMDDTHHMMSSZ``) for tests."""
        frozen = self.credentials.get_frozen_credentials()
        if stamp is None:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers = {"host": host, **extra, "x-amz-date": stamp, "x-amz-content-sha256": EMPTY_SHA256}
        if frozen.token:
            headers["x-amz-security-token"] = frozen.token
        names = sorted(headers)
        signed = ";".join(names)
        lines = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
        canonical = f"{method}\n{path}\n{query}\n{lines}\n{signed}\n{EMPTY_SHA256}"
        scope = f"{stamp[:8]}/{region}/s3/aws4_request"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}".encode()
        signature = hmac.digest(self.signing_key(frozen.secret_key, stamp[:8], region), to_sign, "sha256").hex()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={frozen.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
        )
        return headers


class _Odd(Exception):
    """A response this transport does not take (the caller closes the connection and asks boto3)."""


class _Stale(Exception):
    """A kept-alive connection that was closed before any byte of the response came back."""


def exchange(sock: socket.socket, request: bytes, size: int) -> tuple[int, dict[bytes, bytes], bytes | None, bool]:
    """Send ``request`` and read its response: (status, lower-cased headers, body, connection reusable).

    The body is read only for a ``200`` whose ``Content-Length`` is ``size`` (into one buffer of
    ``size`` plus ``HEAD_ROOM`` bytes); otherwise it is ``None`` and the connection is not reusable.
    Raises ``_Stale`` if the connection gave nothing back, ``_Odd`` for a response that is not plain
    HTTP/1.x with a length, ``OSError`` for the socket's failures.
    """
    try:
        sock.sendall(request)
    except TimeoutError:
        raise
    except OSError:
        raise _Stale() from None
    buffer = bytearray(size + HEAD_ROOM)
    view = memoryview(buffer)
    got = 0
    end = -1
    while end < 0:
        if got == len(buffer):
            raise _Odd("headers larger than the room kept for them")
        try:
            count = sock.recv_into(view[got:])
        except TimeoutError:
            raise
        except OSError:
            if got:
                raise
            raise _Stale() from None
        if not count:
            if got:
                raise _Odd("closed mid-headers")
            raise _Stale()
        end = buffer.find(b"\r\n\r\n", max(0, got - 3), got + count)
        got += count
    lines = bytes(view[:end]).split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not code.isdigit():
        raise _Odd("not an HTTP/1.x status line")
    status = int(code)
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        name = name.lower()
        if not colon or name != name.strip() or (name in headers and name in (b"content-length", b"etag")):
            raise _Odd("a malformed or repeated header")
        headers[name] = value.strip()
    length = headers.get(b"content-length", b"")
    if status != 200 or b"transfer-encoding" in headers or not length.isdigit() or int(length) != size:
        return status, headers, None, False
    start = end + 4
    total = start + size
    while got < total:
        count = sock.recv_into(view[got:total])
        if not count:
            raise _Odd("closed mid-body")
        got += count
    reusable = got == total and version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
    return status, headers, bytes(view[start:total]), reusable


class DirectGetter:
    """Signed GETs of whole objects for one client; thread-safe (a connection per thread); one per process
    (``S3Storage`` keeps it)."""

    def __init__(self, presigner: Any, credentials: Any, connect_timeout: float, read_timeout: float) -> None:
        """``presigner``: a client like the scan's but presigning with Signature V4 (``bucket_base``)."""
        self.client = presigner
        self.signer = Signer(credentials)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.bases: dict[str, BucketBase | None] = {}
        self.lock = threading.Lock()
        self._local = threading.local()
        self._tls: ssl.SSLContext | None = None

    def base(self, bucket: str) -> BucketBase | None:
        if bucket in self.bases:  # known: no lock (a dict look-up is atomic; a late give_up is seen next time)
            return self.bases[bucket]
        with self.lock:
            if bucket not in self.bases:
                try:
                    self.bases[bucket] = bucket_base(self.client, bucket)
                except Exception:  # any botocore refusal: this bucket goes through boto3
                    self.bases[bucket] = None
            return self.bases[bucket]

    def give_up(self, bucket: str) -> None:
        """Send this bucket's GETs through boto3 from now on (the direct request was refused or redirected)."""
        with self.lock:
            self.bases[bucket] = None

    def _connections(self) -> dict[tuple[str, str], socket.socket]:
        try:
            found: dict[tuple[str, str], socket.socket] = self._local.connections
        except AttributeError:
            found = self._local.connections = {}
        return found

    def _connect(self, base: BucketBase) -> socket.socket:
        sock = socket.create_connection(base.address, timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if base.scheme == "https":
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                sock = self._tls.wrap_socket(sock, server_hostname=base.address[0])
            sock.settimeout(self.read_timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        """Close this thread's connections."""
        connections = self._connections()
        for sock in connections.values():
            sock.close()
        connections.clear()

    def get(self, bucket: str, key: str, ref: MediaRef, limit: int) -> bytes | None:
        """The object's bytes if a plain signed GET returns them as listed, else ``None`` (use boto3)."""
        if not plain_key(key) or ref.size > limit or (ref.etag and not _PLAIN_ETAG.fullmatch(ref.etag)):
            return None
        base = self.base(bucket)
        if base is None:
            return None
        path = base.prefix + quote(key, safe="/~")
        query = "versionId=" + quote(ref.version_id, safe="") if ref.version_id else ""
        extra = {"if-match": f'"{ref.etag}"'} if ref.etag and not ref.version_id else {}
        host = base.host
        headers = self.signer.headers("GET", host, path, query, base.region, extra)
        target = f"{path}?{query}" if query else path
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"GET {target} HTTP/1.1\r\n{lines}\r\n".encode()
        connections = self._connections()
        slot = (base.scheme, base.netloc)
        for _ in range(2):
            sock = connections.pop(slot, None)
            reused = sock is not None
            try:
                if sock is None:
                    sock = self._connect(base)
                status, found, data, reusable = exchange(sock, request, ref.size)
            except _Stale:
                if sock is not None:
                    sock.close()
                if reused:
                    continue  # closed by the server while idle: once more, on a new connection
                self.give_up(bucket)
                return None
            except (OSError, ValueError, _Odd):  # dropped, refused, timed out, or not plain HTTP: boto3 takes it
                if sock is not None:
                    sock.close()
                self.give_up(bucket)
                return None
            break
        else:
            self.give_up(bucket)
            return None
        if reusable:
            connections[slot] = sock
        else:
            sock.close()
        if status in (301, 307, 400, 403):  # a region redirect, or the signature was refused
            self.give_up(bucket)
        if data is None:
            return None
        etag = found.get(b"etag", b"").decode("latin-1").strip('"')
        if ref.etag and etag != ref.etag:
            return None
        return data
