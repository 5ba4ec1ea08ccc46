"""Getting a new version of a list: from a local file, or over ``https://`` with the standard library only.

The bytes go straight into a file the caller opened beside the installed list (never into a shared temp
folder), with a size cap, a timeout and no plain ``http`` (not even after a redirect). A list is encrypted
and signed, so TLS is not what makes it trustworthy (the signature check is), but https keeps who fetches
which list private and stops a network attacker from cutting updates short with garbage.

>>> with open(".ncmec.libra.part", "xb") as out:                                   # doctest: +SKIP
...     fetch_to("https://lists.example.org/ncmec.libra", out, max_bytes=1 << 30)
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPMessage
from typing import IO, BinaryIO

from .. import __version__
from ..errors import HashListError
from ..fileio import open_regular

DEFAULT_TIMEOUT = 60.0
#: A list of tens of millions of entries stays far below this.
DEFAULT_MAX_BYTES = 4 << 30
_CHUNK = 1 << 20


def is_url(source: str) -> bool:
    """Whether ``--from`` names something to download rather than a local file."""
    return "://" in source


def shown_url(url: str) -> str:
    """A URL fit for an error line and a log: no user or password, no query (either may hold a token)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "?…" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")) + query


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to ``https://`` only: a redirect must never downgrade the transport."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() != "https":
            raise HashListError(f"{shown_url(req.full_url)} redirects to {shown_url(newurl)}, which is not https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _copy_capped(source: BinaryIO, out: BinaryIO, max_bytes: int, what: str) -> int:
    total = 0
    while chunk := source.read(_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise HashListError(f"{what} is larger than {max_bytes} bytes (the size cap); refusing it")
        out.write(chunk)
    return total


def _context(cafile: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as err:
        raise HashListError(f"CA file {cafile}: cannot be used ({getattr(err, 'strerror', None) or err})") from None


def download(
    url: str,
    out: BinaryIO,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    cafile: str | None = None,
) -> int:
    """Write the body at ``url`` (https only) into ``out``; return its size. Every failure is one sentence."""
    shown = shown_url(url)
    if urllib.parse.urlsplit(url).scheme.lower() != "https":
        raise HashListError(f"{shown}: only https:// URLs are fetched (or give a local file)")
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.HTTPSHandler(context=_context(cafile)),
        _HttpsOnlyRedirects(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.HTTPDefaultErrorHandler(),
    ):
        opener.add_handler(handler)
    request = urllib.request.Request(url, headers={"User-Agent": f"libra/{__version__}"})
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise HashListError(f"{shown} is larger than {max_bytes} bytes (the size cap); refusing it")
            return _copy_capped(response, out, max_bytes, shown)
    except urllib.error.HTTPError as err:
        raise HashListError(f"{shown}: the server answered HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            why = f"its TLS certificate does not verify ({reason.verify_message})"
        elif isinstance(reason, TimeoutError):
            why = f"no answer within {timeout:g} s"
        else:
            why = f"unreachable ({getattr(reason, 'strerror', None) or reason})"
        raise HashListError(f"{shown}: {why}") from None
    except TimeoutError:
        raise HashListError(f"{shown}: the download stalled for more than {timeout:g} s") from None
    except (OSError, ssl.SSLError) as err:
        raise HashListError(f"{shown}: the download failed ({getattr(err, 'strerror', None) or err})") from None


def fetch_to(
    source: str,
    out: BinaryIO,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    cafile: str | None = None,
) -> int:
    """Copy ``source`` (an ``https://`` URL or a local file) into ``out``; return the number of bytes."""
    if is_url(source):
        return download(source, out, timeout=timeout, max_bytes=max_bytes, cafile=cafile)
    with open_regular(source, "new list", "hash list", HashListError) as handle:
        try:
            return _copy_capped(handle, out, max_bytes, f"new list {source}")
        except OSError as err:
            raise HashListError(f"new list {source}: cannot be read ({err.strerror})") from None
