"""S3-compatible object storage: list buckets lazily, read objects by ranged GETs, never write.

Providers keep uploads in object stores (AWS S3, MinIO, Ceph RGW, R2, Wasabi, B2). The bucket scanners
they know copy every object to /tmp first, which libra must never do. This backend lists one page at a
time (a bucket of 100 million keys is never held in memory), reads small objects in one GET and large
ones through a seekable stream of ranged GETs pinned to the version that was listed, and turns every
botocore/urllib3 failure into one plain ``StorageError`` sentence that never echoes a credential.

>>> storage = S3Storage(S3Options(endpoint_url="http://127.0.0.1:9000", path_style=True))
>>> for item in storage.walk("s3://uploads/2026/", WalkOptions(max_file_size=1 << 30)):  # doctest: +SKIP
...     print(item)
MediaRef(uri='s3://uploads/2026/a.jpg', size=48213, mtime_ns=..., etag='9b2c...', version_id=None)

Importing this module registers it as the ``s3`` backend, so ``storage_for("s3://...", options)``
builds it from the scan's frozen, picklable ``StorageOptions`` once per process; its boto3 client is
made lazily, on first use, once per process and distinct settings.
"""

from __future__ import annotations

import calendar
import email.utils
import fnmatch
import functools
import io
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, BinaryIO, ClassVar, Protocol
from urllib.parse import urlsplit

from ..errors import ConfigError, FileTooLarge, StorageError
from ..models import MediaRef, Skip
from .base import Changed, Gone, Storage, StorageOptions, WalkError, WalkItem, WalkOptions, register
from .s3direct import DirectGetter

RETRY_MODES = ("standard", "adaptive")

#: First ranged GET after an open or a seek; doubled while reads stay sequential, up to the cap.
MIN_BLOCK = 256 * 1024
#: The read-ahead bound: at most this many bytes of one object are held by a stream at a time.
MAX_BLOCK = 8 * 1024 * 1024
#: A body that breaks off mid-transfer is fetched again this many times before it is an error.
BODY_ATTEMPTS = 3

_BUCKET = re.compile(r"[A-Za-z0-9._-]{1,255}")
_VERSION_SUFFIX = re.compile(r"\?versionId=([^/?&\s]+)\Z")


class StorageOptionsLike(Protocol):
    """What ``S3Options.from_storage_options`` reads from the scan's ``StorageOptions``."""

    @property
    def endpoint_url(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def profile(self) -> str | None: ...
    @property
    def path_style(self) -> bool: ...
    @property
    def all_versions(self) -> bool: ...
    @property
    def extra(self) -> tuple[tuple[str, str], ...]: ...


#: ``StorageOptions.extra`` keys (after ``s3.``) and their types.
_EXTRA: dict[str, Any] = {
    "retry_mode": str,
    "max_attempts": int,
    "connect_timeout": float,
    "read_timeout": float,
    "direct_get": lambda text: str(text).strip().lower() not in ("0", "false", "no", "off"),
}


@dataclass(frozen=True)
class S3Options:
    """How to reach the object store. Frozen and picklable: every worker builds its backend from it.

    ``None`` means boto3's own default: the credential chain (environment, shared config and
    ``profile``, instance/container roles), ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``, the region
    from the profile or ``AWS_REGION``.
    """

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    path_style: bool = False
    all_versions: bool = False
    retry_mode: str = "standard"
    max_attempts: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    #: Whole-object GETs signed and sent without botocore's per-call machinery (``s3direct.py``); boto3
    #: still handles every error, redirect and retry.
    direct_get: bool = True

    def __post_init__(self) -> None:
        if self.retry_mode not in RETRY_MODES:
            raise ConfigError(f"S3 retry mode {self.retry_mode!r} is not one of {', '.join(RETRY_MODES)}")
        if not 1 <= self.max_attempts <= 100:
            raise ConfigError(f"S3 max attempts {self.max_attempts!r} is not between 1 and 100")
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"endpoint URL {_safe_url(self.endpoint_url)!r} is not an http(s):// URL")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigError("S3 connect and read timeouts must be positive numbers of seconds")

    @classmethod
    def from_storage_options(cls, options: StorageOptionsLike) -> S3Options:
        """From the scan's generic ``StorageOptions``; S3-only settings ride in ``extra`` as ``s3.*`` keys.

        >>> class Opts:  # the lead's StorageOptions has these fields
        ...     endpoint_url, region, profile, path_style, all_versions = None, "eu-west-1", None, False, True
        ...     extra = (("s3.retry_mode", "adaptive"), ("s3.max_attempts", "12"))
        >>> S3Options.from_storage_options(Opts()).max_attempts
        12
        """
        found: dict[str, Any] = {}
        for key, value in options.extra:
            if not key.startswith("s3."):
                continue  # another backend's option
            name = key[3:]
            kind = _EXTRA.get(name)
            if kind is None:
                raise ConfigError(f"S3 option {key!r} is not one of {', '.join('s3.' + k for k in _EXTRA)}")
            try:
                found[name] = kind(value)
            except ValueError:
                what = {int: "a whole number", float: "a number"}.get(kind, "text")
                raise ConfigError(f"S3 option {key!r} has the value {value!r}, not {what}") from None
        return cls(
            endpoint_url=options.endpoint_url,
            region=options.region,
            profile=options.profile,
            path_style=options.path_style,
            all_versions=options.all_versions,
            **found,
        )

    def to_storage_options(self) -> StorageOptions:
        """The scan's generic options for these settings (what ``storage_for`` caches backends by)."""
        defaults = S3Options()
        extra = tuple(
            (f"s3.{name}", str(getattr(self, name)))
            for name in _EXTRA
            if getattr(self, name) != getattr(defaults, name)
        )
        return StorageOptions(self.endpoint_url, self.region, self.profile, self.path_style, self.all_versions, extra)

    def client_key(self) -> tuple[object, ...]:
        """What distinguishes one client from another (the walk-only fields do not)."""
        return (
            self.endpoint_url,
            self.region,
            self.profile,
            self.path_style,
            self.retry_mode,
            self.max_attempts,
            self.connect_timeout,
            self.read_timeout,
        )


@dataclass(frozen=True)
class S3Location:
    """A parsed ``s3://bucket/key`` (``key`` may be a prefix or empty)."""

    bucket: str
    key: str
    version_id: str | None = None


def parse_s3_uri(uri: str) -> S3Location:
    """Split an ``s3://`` URI; a trailing ``?versionId=ID`` names one version.

    >>> parse_s3_uri("s3://uploads/2026/a b.jpg?versionId=3HL4kq")
    S3Location(bucket='uploads', key='2026/a b.jpg', version_id='3HL4kq')
    """
    head, sep, rest = uri.partition("://")
    if not sep or head.lower() != "s3":
        raise StorageError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = rest.partition("/")
    version = None
    found = _VERSION_SUFFIX.search(key)
    if found:
        version, key = found.group(1), key[: found.start()]
    if not _BUCKET.fullmatch(bucket):
        raise StorageError(f"{uri}: {bucket!r} is not a valid bucket name")
    return S3Location(bucket, key, version)


def object_uri(bucket: str, key: str) -> str:
    """The ``uri`` of a ``MediaRef``: the key as it is, never percent-encoded."""
    return f"s3://{bucket}/{key}"


def _safe_url(url: str) -> str:
    """An endpoint URL without user:password@ or query, fit to print."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparsable URL)"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _mtime_ns(value: object) -> int | None:
    if not isinstance(value, datetime):
        return None
    seconds = calendar.timegm(value.utctimetuple() if value.tzinfo else value.timetuple())
    return seconds * 1_000_000_000 + value.microsecond * 1000


def _etag(value: object) -> str | None:
    return value.strip('"') if isinstance(value, str) and value else None


# ------------------------------------------------------------------ clients: one per process


_CLIENTS: dict[tuple[object, ...], tuple[int, Any]] = {}
_CLIENTS_LOCK = threading.Lock()
_SESSIONS: dict[tuple[object, ...], Any] = {}  #: the boto3 session behind each cached client (credentials)
_DIRECT: dict[tuple[object, ...], tuple[int, DirectGetter | None, tuple[str | None, ...]]] = {}


def parse_timestamp(value: str) -> datetime:
    """S3's timestamps, fast: ISO 8601 in listings, RFC 7231 in headers (botocore's parser as a fallback).

    botocore parses each with dateutil, which made a 1,000-key page cost more CPU than its HTTP request.

    >>> parse_timestamp("2026-05-01T12:00:00.000Z") == parse_timestamp("Fri, 01 May 2026 12:00:00 GMT")
    True
    """
    try:
        parsed = datetime.fromisoformat(value) if value[:4].isdigit() else email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        from botocore.utils import parse_timestamp as slow  # type: ignore[import-untyped,unused-ignore]

        parsed = slow(value)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _new_client(options: S3Options, *, sigv4: bool = False) -> tuple[Any, Any]:
    """A boto3 S3 client for ``options`` and its session; ``sigv4``: presigned URLs use Signature V4 too
    (they name the regional endpoint and signing region that requests use: what ``s3direct`` learns)."""
    import boto3.session  # type: ignore[import-untyped,unused-ignore]  # lazy: importing boto3 costs ~0.2 s
    import botocore.session  # type: ignore[import-untyped,unused-ignore]
    from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]

    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    session = boto3.session.Session(botocore_session=core, profile_name=options.profile, region_name=options.region)
    config = Config(
        retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},  # the first try included
        s3={"addressing_style": "path" if options.path_style else "auto"},
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        user_agent_extra="libra",
        # Objects are hashed, never stored: the CRC of a whole object would be computed for nothing.
        response_checksum_validation="when_required",
        request_checksum_calculation="when_required",
        **({"signature_version": "s3v4"} if sigv4 else {}),
    )
    return session.client("s3", endpoint_url=options.endpoint_url, config=config), session


#: The environment variables ``_needs_botocore_transport`` depends on (``urllib.request.getproxies`` reads
#: every ``*_proxy`` variable, but only these name a proxy an S3 request could take).
_TRANSPORT_VARIABLES = (
    *(name for base in ("http_proxy", "https_proxy", "all_proxy") for name in (base, base.upper())),
    "AWS_CA_BUNDLE",
    "REQUEST_METHOD",
)


def _needs_botocore_transport(options: S3Options) -> bool:
    """A proxy, or a private CA bundle for an ``https`` endpoint, in the environment: botocore's transport
    honours them, ours would not. (A CA bundle means nothing to a plain ``http://`` endpoint.)"""
    import urllib.request

    if urllib.request.getproxies():
        return True
    secure = not (options.endpoint_url or "").lower().startswith("http://")
    return secure and bool(os.environ.get("AWS_CA_BUNDLE"))


def _transport_fingerprint() -> tuple[str | None, ...]:
    """What ``_needs_botocore_transport`` read from the environment, cheaply (a few look-ups, not a scan of
    every variable as ``getproxies`` makes: that cost 0.3 ms per GET)."""
    environ = os.environ
    return tuple(environ.get(name) for name in _TRANSPORT_VARIABLES)


def direct_getter_for(options: S3Options) -> DirectGetter | None:
    """The process's ``DirectGetter`` for ``options``; ``None`` when turned off or the client is anonymous."""
    if not options.direct_get:
        return None
    key = options.client_key()
    pid = os.getpid()
    fingerprint = _transport_fingerprint()
    cached = _DIRECT.get(key)
    if cached is not None and cached[0] == pid and cached[2] == fingerprint:
        return cached[1]
    if _needs_botocore_transport(options):
        with _CLIENTS_LOCK:
            _DIRECT[key] = (pid, None, fingerprint)
        return None
    client_for(options)  # the session (credentials) comes with the scan's client
    with _CLIENTS_LOCK:
        session = _SESSIONS.get(key)
        credentials = session.get_credentials() if session is not None else None
        getter = None
        if credentials is not None:
            try:
                presigner = _new_client(options, sigv4=True)[0]
            except Exception:  # the main client works, so this would not fail; if it does, boto3 only
                presigner = None
            if presigner is not None:
                getter = DirectGetter(presigner, credentials, options.connect_timeout, options.read_timeout)
        _DIRECT[key] = (pid, getter, fingerprint)
        return getter


def client_for(options: S3Options) -> Any:
    """The process's boto3 S3 client for ``options``, built on first use (again after a fork).

    Raises ``StorageError`` (unknown profile, bad region...) with one sentence.
    """
    key = options.client_key()
    pid = os.getpid()
    with _CLIENTS_LOCK:
        cached = _CLIENTS.get(key)
        if cached is not None and cached[0] == pid:
            return cached[1]
        try:
            client, session = _new_client(options)
        except Exception as err:
            raise StorageError(f"the S3 client cannot be set up: {explain(err, options)}") from None
        _CLIENTS[key] = (pid, client)
        _SESSIONS[key] = session
        return client


def reset_clients() -> None:
    """Forget every cached client (after credentials were rotated in the environment; tests)."""
    with _CLIENTS_LOCK:
        _CLIENTS.clear()
        _SESSIONS.clear()
        _DIRECT.clear()


# ------------------------------------------------------------------ errors: one plain sentence

_CLIENT_CODES: dict[str, str] = {
    "NoSuchBucket": "the bucket does not exist",
    "NoSuchKey": "no such object",
    "404": "no such object",
    "NotFound": "no such object",
    "NoSuchVersion": "no such version of the object",
    "AccessDenied": "access denied (the credentials need s3:ListBucket and s3:GetObject, see docs/s3.md)",
    "403": "access denied (the credentials need s3:GetObject, see docs/s3.md)",
    "Forbidden": "access denied (the credentials need s3:GetObject, see docs/s3.md)",
    "AllAccessDisabled": "all access to the bucket is disabled",
    "AccountProblem": "the account behind the credentials cannot be used",
    "InvalidAccessKeyId": "the endpoint does not know this access key ID (check the credentials)",
    "SignatureDoesNotMatch": "the secret access key does not match the access key ID (check the credentials)",
    "ExpiredToken": "the session token has expired (refresh the credentials)",
    "TokenRefreshRequired": "the session token has expired (refresh the credentials)",
    "InvalidToken": "the session token is not valid (check the credentials)",
    "RequestTimeTooSkewed": "this machine's clock differs too much from the endpoint's (fix the clock)",
    "PreconditionFailed": "changed since it was listed",
    "412": "changed since it was listed",
    "InvalidRange": "changed since it was listed (a range past its end)",
    "416": "changed since it was listed (a range past its end)",
    "InvalidObjectState": "archived (Glacier or Deep Archive storage class): restore it to scan it",
    "PermanentRedirect": "the bucket is in another region (set --region)",
    "301": "the bucket is in another region (set --region)",
    "AuthorizationHeaderMalformed": "the bucket is in another region (set --region)",
    "InvalidBucketName": "not a valid bucket name",
    "MethodNotAllowed": "a delete marker, not an object",
    "405": "a delete marker, not an object",
}
_THROTTLED = frozenset(
    {"SlowDown", "503", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}
)


_GONE = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
_CHANGED = frozenset({"PreconditionFailed", "412", "InvalidRange", "416"})


def _error_code(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "") or "")
    return ""


def endpoint_name(options: S3Options | None) -> str:
    """The endpoint as a sentence may name it (never with credentials in it)."""
    return _safe_url(options.endpoint_url) if options and options.endpoint_url else "the S3 endpoint"


def explain(err: BaseException, options: S3Options | None = None) -> str:
    """One plain sentence (without the location) for any boto3/botocore/urllib3/socket failure.

    Built from error codes and exception types only: nothing the endpoint or the credential chain
    said is repeated, so no access key, secret or token can end up in a log or a findings file.
    """
    bx = _botocore()
    attempts = options.max_attempts if options else None
    tries = f" after {attempts} attempts" if attempts and attempts > 1 else ""
    endpoint = endpoint_name(options)
    if isinstance(err, bx.ClientError):
        response = err.response if isinstance(err.response, dict) else {}
        code = str(response.get("Error", {}).get("Code", "") or "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _CLIENT_CODES:
            return _CLIENT_CODES[code]
        if code in _THROTTLED or status == 503:
            return f"the endpoint kept throttling requests (SlowDown){tries}"
        if isinstance(status, int) and status >= 500:
            return f"the endpoint failed with HTTP {status}{tries}"
        return f"the endpoint refused the request ({code or 'no error code'}, HTTP {status or '?'})"
    if isinstance(err, bx.NoCredentialsError):
        return "no AWS credentials were found (environment, shared config or --profile, instance or container role)"
    if isinstance(err, bx.PartialCredentialsError):
        return "the AWS credentials are incomplete (an access key ID without its secret, or the reverse)"
    if isinstance(err, bx.ProfileNotFound):
        profile = options.profile if options else None
        return f"the AWS profile {profile!r} is not in the shared config or credentials files"
    if isinstance(err, bx.InvalidRegionError):
        return f"{options.region if options else None!r} is not a valid region name"
    if isinstance(err, bx.SSLError):
        return f"the TLS connection to {endpoint} failed (certificate or protocol)"
    if isinstance(err, bx.ConnectTimeoutError | bx.EndpointConnectionError):
        return f"cannot connect to {endpoint}{tries}"
    if isinstance(err, bx.ReadTimeoutError):
        return f"{endpoint} stopped answering (read timeout){tries}"
    if isinstance(err, bx.ConnectionClosedError | bx.ResponseStreamingError | bx.IncompleteReadError):
        return f"{endpoint} dropped the connection{tries}"
    if isinstance(err, bx.HTTPClientError | bx.ConnectionError):
        return f"the connection to {endpoint} failed{tries}"
    if isinstance(err, bx.ParamValidationError):
        return "the bucket name or key is not valid for S3"
    if isinstance(err, bx.CredentialRetrievalError | bx.NoAuthTokenError | bx.TokenRetrievalError):
        return "the AWS credentials cannot be loaded (credential process, SSO or role)"
    if isinstance(err, bx.BotoCoreError):
        return f"the S3 client failed ({type(err).__name__})"
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(err, Urllib3Error):
        return f"{endpoint} dropped the connection"
    if isinstance(err, OSError):
        return f"the connection to {endpoint} failed ({err.strerror or type(err).__name__})"
    return f"the S3 client failed ({type(err).__name__})"


@functools.cache
def _botocore() -> Any:
    """``botocore.exceptions``, imported on first need (botocore ships no type information)."""
    from botocore import exceptions  # type: ignore[import-untyped,unused-ignore]

    return exceptions


@functools.cache
def _client_errors() -> tuple[type[BaseException], ...]:
    """Everything a list, head or get may raise: botocore's errors, urllib3's, and the socket's."""
    from urllib3.exceptions import HTTPError as Urllib3Error

    bx = _botocore()
    return (bx.BotoCoreError, bx.ClientError, Urllib3Error, OSError)


# ------------------------------------------------------------------ the backend


class S3Storage(Storage):
    """Buckets and objects through boto3. Read-only: it only ever lists, heads and gets.

    Built from the scan's ``StorageOptions`` by ``storage_for`` (S3-only settings ride in ``extra``),
    or directly from ``S3Options``. Construction is free (no client, no import of boto3); the client is
    made on first use, once per process.
    """

    scheme: ClassVar[str] = "s3"

    def __init__(self, options: StorageOptions | S3Options | None = None) -> None:
        if isinstance(options, S3Options):
            self.settings = options
            super().__init__(options.to_storage_options())
        else:
            generic = options or StorageOptions()
            self.settings = S3Options.from_storage_options(generic)
            super().__init__(generic)

    @property
    def client(self) -> Any:
        """This process's boto3 client for these options (created on first use)."""
        return client_for(self.settings)

    def error(self, err: BaseException) -> StorageError:
        """The ``StorageError`` for a failed list or head: one sentence, without the location."""
        return StorageError(explain(err, self.settings))

    def read_error(self, err: BaseException) -> StorageError:
        """The error for a failed GET of a listed object: ``Gone``, ``Changed`` or a ``StorageError``."""
        code = _error_code(err)
        if code in _GONE:
            return Gone("deleted since it was listed")
        if code in _CHANGED:
            return Changed("changed since it was listed; it was not read")
        return self.error(err)

    # -------------------------------------------------------------- walk

    def walk(self, target: str, options: WalkOptions | None = None) -> Iterator[WalkItem]:
        """Every object under ``target`` (``s3://bucket`` or ``s3://bucket/prefix``), page by page.

        ``s3://b/uploads/`` lists keys that start with ``uploads/``; ``s3://b/uploads`` lists the object
        ``uploads`` and the keys under ``uploads/``, as a local path names a file or a folder (never
        ``uploads.txt``). A listing that cannot start or cannot go on is one ``WalkError``; a
        trailing-slash prefix with nothing under it is simply empty. Of ``options``, ``exclude``,
        ``max_file_size`` and ``since`` apply (the filesystem and symlink rules mean nothing here).
        """
        options = options or WalkOptions()
        try:
            where = parse_s3_uri(target)
        except StorageError as err:
            yield WalkError(target, _reason(err, target))
            return
        exact = where.key if where.key and not where.key.endswith("/") else None
        seen = 0
        try:
            for obj, is_marker in self._listing(where.bucket, where.key):
                key = obj.get("Key")
                if not isinstance(key, str):
                    continue
                if exact is not None and key != exact and not key.startswith(exact + "/"):
                    continue
                seen += 1
                yield self._item(where.bucket, obj, is_marker, options)
        except StorageError as err:
            after = f" (the listing stopped after {seen} objects)" if seen else ""
            yield WalkError(target, _reason(err, target) + after)
            return
        if exact is not None and seen == 0:
            yield WalkError(target, "no such object or prefix")

    def _listing(self, bucket: str, prefix: str) -> Iterator[tuple[dict[str, Any], bool]]:
        """(object, is_delete_marker) in listing order, one page in memory at a time."""
        errors = _client_errors()
        try:
            client = self.client
            if self.settings.all_versions:
                pages = iter(client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix))
            else:
                pages = iter(client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix))
        except errors as err:
            raise self.error(err) from None
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except errors as err:
                raise self.error(err) from None
            if self.settings.all_versions:
                for version in page.get("Versions", ()):
                    yield version, False
                for marker in page.get("DeleteMarkers", ()):
                    yield marker, True
            else:
                for obj in page.get("Contents", ()):
                    yield obj, False

    def _item(self, bucket: str, obj: dict[str, Any], is_marker: bool, options: WalkOptions) -> WalkItem:
        key = obj["Key"]
        uri = object_uri(bucket, key)
        version = obj.get("VersionId") if self.settings.all_versions else None
        where = f"{uri}?versionId={version}" if version else uri
        if is_marker:
            return Skip(
                where, "a delete marker: the key was deleted (its older versions are listed)", "delete_marker", False
            )
        mtime_ns = _mtime_ns(obj.get("LastModified"))
        size = int(obj.get("Size", 0))
        ref = MediaRef(uri, size, mtime_ns, etag=_etag(obj.get("ETag")), version_id=version)
        return self._checked(ref, where, options)

    def _checked(self, ref: MediaRef, where: str, options: WalkOptions) -> WalkItem:
        """The walk's filters, in the local backend's order: exclude, size, since."""
        key = ref.uri.partition("://")[2].partition("/")[2]
        if options.exclude and _excluded(ref.uri, key, options.exclude):
            return Skip(where, "excluded (--exclude)", "exclude", listed=False)
        if ref.size == 0 and ref.uri.endswith("/"):
            return Skip(where, "a folder marker (an empty object whose key ends in '/')", "folder_marker", False)
        if options.max_file_size is not None and ref.size > options.max_file_size:
            return Skip(where, f"larger than --max-file-size ({ref.size} bytes)", "max_file_size", True)
        if options.since is not None and (ref.mtime_ns is None or ref.mtime_ns < options.since * 1e9):
            return Skip(where, "not modified since --since", "since", listed=False)
        return ref

    # -------------------------------------------------------------- stat

    def stat(self, uri: str, options: WalkOptions | None = None, version_id: str | None = None) -> WalkItem:
        """One named object (``--files-from``, an event): a HEAD, with the same filters as ``walk``.

        ``version_id`` (or a ``?versionId=`` suffix) names one version; the ref is pinned to the
        version (or else the ETag) the HEAD saw.
        """
        try:
            where = parse_s3_uri(uri)
        except StorageError as err:
            return WalkError(uri, _reason(err, uri))
        version = version_id or where.version_id
        if not where.key:
            return WalkError(uri, "names a bucket, not an object")
        name = object_uri(where.bucket, where.key)
        args: dict[str, str] = {"Bucket": where.bucket, "Key": where.key}
        if version:
            args["VersionId"] = version
        location = f"{name}?versionId={version}" if version else name
        try:
            head = self.client.head_object(**args)
        except StorageError as err:  # the client could not be set up
            return WalkError(location, str(err))
        except _client_errors() as err:
            return WalkError(location, str(self.error(err)))
        ref = MediaRef(
            name,
            int(head.get("ContentLength", 0)),
            _mtime_ns(head.get("LastModified")),
            etag=_etag(head.get("ETag")),
            version_id=head.get("VersionId") or version,
        )
        return self._checked(ref, f"{name}?versionId={ref.version_id}" if version else name, options or WalkOptions())

    # -------------------------------------------------------------- read

    def pin(self, ref: MediaRef) -> dict[str, str]:
        """GET arguments that return exactly the listed bytes: the version if known, else If-Match."""
        where = parse_s3_uri(ref.uri)
        args = {"Bucket": where.bucket, "Key": where.key}
        if ref.version_id:
            args["VersionId"] = ref.version_id
        elif ref.etag:
            args["IfMatch"] = f'"{ref.etag}"'
        return args

    def read(self, ref: MediaRef, limit: int) -> tuple[bytes, MediaRef]:
        """All bytes of a small object in one GET (pinned, so the ref stays as listed); ``FileTooLarge`` above
        ``limit``."""
        return self.read_bytes(ref, limit), ref

    def read_bytes(self, ref: MediaRef, limit: int) -> bytes:
        """``read`` without the reference: the bytes of the listed version, in one GET."""
        if ref.size > limit:
            raise FileTooLarge(f"larger than the {limit}-byte in-memory limit")
        args = self.pin(ref)
        direct = direct_getter_for(self.settings)
        if direct is not None:
            fast = direct.get(args["Bucket"], args["Key"], ref, limit)
            if fast is not None:
                return fast
        errors = _client_errors()
        for attempt in range(1, BODY_ATTEMPTS + 1):
            try:
                response = self.client.get_object(**args)
            except errors as err:
                raise self.read_error(err) from None
            body = response["Body"]
            try:
                self._check_version(ref, response)
                length = int(response.get("ContentLength", -1))
                if length > limit:
                    raise FileTooLarge(f"larger than the {limit}-byte in-memory limit")
                data: bytes = body.read(limit + 1)
            except errors as err:
                if attempt == BODY_ATTEMPTS:
                    raise self.read_error(err) from None
                continue
            finally:
                body.close()
            if len(data) > limit:
                raise FileTooLarge(f"larger than the {limit}-byte in-memory limit")
            if length >= 0 and len(data) != length:
                if attempt == BODY_ATTEMPTS:
                    raise self._cut_short()
                continue
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def open(self, ref: MediaRef) -> BinaryIO:
        """A seekable, read-only stream of ranged GETs over the listed version; never a local copy."""
        raw = RangedReader(self, ref)
        return io.BufferedReader(raw, buffer_size=64 * 1024)

    def get_range(self, ref: MediaRef, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (inclusive) of the listed version, in one ranged GET."""
        args = self.pin(ref)
        args["Range"] = f"bytes={start}-{end}"
        want = end - start + 1
        errors = _client_errors()
        for attempt in range(1, BODY_ATTEMPTS + 1):
            try:
                response = self.client.get_object(**args)
            except errors as err:
                raise self.read_error(err) from None
            body = response["Body"]
            try:
                self._check_version(ref, response)
                data: bytes = body.read(want + 1)
            except errors as err:
                if attempt == BODY_ATTEMPTS:
                    raise self.read_error(err) from None
                continue
            finally:
                body.close()
            if len(data) == want:
                return data
            if attempt == BODY_ATTEMPTS:
                raise self._cut_short()
        raise AssertionError("unreachable")  # pragma: no cover

    def _cut_short(self) -> StorageError:
        where = endpoint_name(self.settings)
        return StorageError(f"{where} dropped the connection mid-transfer, {BODY_ATTEMPTS} times")

    def _check_version(self, ref: MediaRef, response: dict[str, Any]) -> None:
        """A store that ignores If-Match, or a size that moved, still cannot hand back other bytes."""
        etag = _etag(response.get("ETag"))
        if ref.etag and etag and etag != ref.etag:
            raise Changed("changed since it was listed; it was not read")
        total = _range_total(response.get("ContentRange"))
        if total is not None and total != ref.size:
            raise Changed(f"changed since it was listed (now {total} bytes); it was not read")


def _excluded(uri: str, key: str, patterns: tuple[str, ...]) -> bool:
    """``--exclude`` globs match the key's last part or the whole ``s3://`` URI (``*`` also matches ``/``)."""
    name = key.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(uri, p) for p in patterns)


def _range_total(content_range: object) -> int | None:
    if isinstance(content_range, str) and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    return None


def _reason(err: StorageError, location: str) -> str:
    """A ``StorageError`` message without its leading ``location:`` (a ``WalkError`` names it apart)."""
    text = str(err)
    prefix = f"{location}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


class RangedReader(io.RawIOBase):
    """A seekable raw stream over one object version, fetched by ranged GETs into one bounded window.

    Reads that follow on double the next GET (``MIN_BLOCK`` up to ``MAX_BLOCK``), so reading a whole
    object costs about one pass in a handful of requests; a seek elsewhere starts again at
    ``MIN_BLOCK``, so a decoder that jumps between a few frames fetches only around them.
    """

    def __init__(self, storage: S3Storage, ref: MediaRef) -> None:
        super().__init__()
        self._storage = storage
        self._ref = ref
        self._size = ref.size
        self._pos = 0
        self._window = b""
        self._window_start = 0
        self._block = MIN_BLOCK
        self.requests = 0  #: ranged GETs made so far
        self.fetched = 0  #: bytes received so far

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self.closed:
            raise ValueError("seek on a closed S3 stream")
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence!r}")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("read from a closed S3 stream")
        view = memoryview(buffer).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        end = self._window_start + len(self._window)
        if not self._window_start <= self._pos < end:
            self._fill(len(view))
        offset = self._pos - self._window_start
        count = min(len(view), len(self._window) - offset)
        view[:count] = memoryview(self._window)[offset : offset + count]
        self._pos += count
        return count

    def readall(self) -> bytes:
        """The rest of the object: what the window holds, then one GET for the remainder."""
        if self._pos >= self._size:
            return b""
        parts: list[bytes] = []
        end = self._window_start + len(self._window)
        if self._window_start <= self._pos < end:
            parts.append(self._window[self._pos - self._window_start :])
            self._pos = end
        if self._pos < self._size:
            parts.append(self._get(self._pos, self._size - 1))
            self._pos = self._size
        return b"".join(parts)

    def _fill(self, want: int) -> None:
        sequential = bool(self._window) and self._pos == self._window_start + len(self._window)
        self._block = min(self._block * 2, MAX_BLOCK) if sequential else MIN_BLOCK
        length = min(max(self._block, want), MAX_BLOCK)
        last = min(self._pos + length, self._size) - 1
        self._window = b""  # let the old window go before the new one arrives: one window at a time
        self._window = self._get(self._pos, last)
        self._window_start = self._pos

    def _get(self, start: int, end: int) -> bytes:
        data = self._storage.get_range(self._ref, start, end)
        self.requests += 1
        self.fetched += len(data)
        return data

    def close(self) -> None:
        self._window = b""
        super().close()


register("s3", S3Storage)
