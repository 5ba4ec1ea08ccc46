"""Whole-object GETs without botocore's per-call machinery: the success path of ``S3Storage.read_bytes``.

A boto3 ``get_object`` costs 1.5-3.5 ms of CPU whatever the object's size: the S3 endpoint rules are
resolved again for every key, the event hooks run, the user-agent string is rebuilt and the response
parsed. For the ~100 KiB photos a host mostly stores, that was a third of libra's CPU per image
(docs/s3.md). This module signs the same GET with botocore's own SigV4 signer (``S3SigV4Auth``: no
cipher or signature of ours) and sends it on a kept-alive urllib3 pool (the HTTP library botocore uses).

It learns where a bucket lives from botocore itself: one presigned URL per bucket gives the scheme,
host, path prefix (virtual-host or path-style addressing, whatever the endpoint rules chose) and the
signing region; only the key is appended per object. It handles only the plain success: a ``200``
whose ETag is the listed one. Anything else (a redirect, ``403``, ``404``, ``412``, a ``5xx``, a
dropped connection, a key whose path urllib3 might normalise) returns ``None`` and the caller goes
through boto3, which retries, follows region redirects and turns errors into sentences exactly as
before. Anonymous clients (no credentials), ``s3.direct_get: false``, and hosts that reach storage
through a proxy or trust a private CA (``HTTPS_PROXY``/``HTTP_PROXY``, ``AWS_CA_BUNDLE``: settings
botocore honours and urllib3 alone would not) always use boto3.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from ..models import MediaRef

#: Keys sent directly: characters that need no escaping beyond ``quote`` and that no URL parser rewrites.
#: Others (``..`` segments, ``//``, control characters) go through boto3.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9!_.*'()/ ~=+,;:@$&-]+")
_PROBE = "libra-direct-probe"


@dataclass(frozen=True)
class BucketBase:
    """Where a bucket's objects are: ``{scheme}://{netloc}{prefix}{quoted key}``, signed for ``region``."""

    scheme: str
    netloc: str
    prefix: str
    region: str


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
    if not parts.path.endswith("/" + _PROBE):
        return None
    scope = parse_qs(parts.query).get("X-Amz-Credential", [""])[0].split("/")
    if len(scope) != 5 or scope[3] != "s3":
        return None  # not SigV4 for s3 (an old signature version): boto3 only
    return BucketBase(parts.scheme, parts.netloc, parts.path[: -len(_PROBE)], scope[2])


class DirectGetter:
    """Signed GETs of whole objects for one client; thread-safe; one per process (``S3Storage`` keeps it)."""

    def __init__(self, presigner: Any, credentials: Any, connect_timeout: float, read_timeout: float) -> None:
        """``presigner``: a client like the scan's but presigning with Signature V4 (``bucket_base``)."""
        import urllib3

        self.client = presigner
        self.credentials = credentials
        self.pool = urllib3.PoolManager(
            num_pools=16,
            maxsize=8,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        )
        self.bases: dict[str, BucketBase | None] = {}
        self.lock = threading.Lock()

    def base(self, bucket: str) -> BucketBase | None:
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

    def get(self, bucket: str, key: str, ref: MediaRef, limit: int) -> bytes | None:
        """The object's bytes if a plain signed GET returns them as listed, else ``None`` (use boto3)."""
        if not plain_key(key):
            return None
        base = self.base(bucket)
        if base is None:
            return None
        from botocore.auth import S3SigV4Auth  # type: ignore[import-untyped,unused-ignore]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped,unused-ignore]

        url = f"{base.scheme}://{base.netloc}{base.prefix}{quote(key, safe='/~')}"
        if ref.version_id:
            url += "?versionId=" + quote(ref.version_id, safe="")
        headers = {"If-Match": f'"{ref.etag}"'} if ref.etag and not ref.version_id else {}
        request = AWSRequest(method="GET", url=url, headers=headers)
        S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3", base.region).add_auth(request)
        try:
            response = self.pool.request(
                "GET", url, headers=dict(request.headers.items()), preload_content=False, redirect=False
            )
        except Exception:  # a dropped or refused connection: boto3 retries it, and takes this bucket from now on
            self.give_up(bucket)
            return None
        if response.status in (301, 307, 400, 403):  # a region redirect, or the signature was refused
            self.give_up(bucket)
        data: bytes | None = None
        try:
            etag = (response.headers.get("ETag") or "").strip('"')
            length = int(response.headers.get("Content-Length", "-1"))
            listed = not (ref.etag and etag != ref.etag) and length == ref.size
            if response.status == 200 and listed and 0 <= length <= limit:
                body: bytes = response.read(limit + 1)
                data = body if len(body) == length else None
        except Exception:
            data = None
        if data is None:
            response.close()  # an unread or odd body: the connection is not reused
        else:
            response.release_conn()
        return data
