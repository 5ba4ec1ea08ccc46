"""Text from outside (file names, list names, ids) made safe for terminals and greppable logs.

A scanned tree may hold hostile file names, and a list may carry hostile names or ids: shown raw, a
name with an escape sequence could repaint the terminal, and one with a newline could forge a log line.
A findings file must also name each file unambiguously: ``location_text`` is a one-line text form that
maps distinct names to distinct texts and can be reversed, and ``location_bytes`` carries the raw bytes
of a name that is not UTF-8.
"""

from __future__ import annotations

import base64
import json
import re


def unicode_safe(value: str) -> str:
    """A path or message as valid Unicode: bytes that are not UTF-8 (kept by Python as lone surrogates
    in file names) become ``\\xff`` escapes, so JSON, CSV and terminals can carry it.

    >>> unicode_safe("bad\udcff.jpg")
    'bad\\xff.jpg'
    """
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a file name
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def printable(value: object) -> str:
    """Control characters (escape sequences, newlines, carriage returns) shown escaped, never acted on.

    >>> printable("evil\x1b[2Jname\n")
    'evil\\x1b[2Jname\\n'
    """
    text = "" if value is None else str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def log_value(value: object) -> str:
    """A ``key=value`` log value: bare when plain, JSON-quoted when it has spaces, quotes, ``=`` or
    control characters, so one log line is always one event.

    >>> log_value("/srv/a.jpg"), log_value("my list"), log_value("a\nb")
    ('/srv/a.jpg', '"my list"', '"a\\nb"')
    """
    text = "" if value is None else str(value)
    if text and text.isprintable() and not any(c in text for c in ' "='):
        return text
    return json.dumps(text)


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``count(1, "file")`` -> ``'1 file'``, ``count(2, "file")`` -> ``'2 files'``."""
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def one_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message as one short printable line: decoders and backends quote hostile bytes.

    >>> one_line(ValueError("bad\\nthing."))
    'bad thing'
    """
    return printable(" ".join(str(err).split()))[:limit].rstrip(".")


# Lone surrogates U+DC80..U+DCFF are how Python keeps the bytes of a file name that are not UTF-8.
_RAW_BYTE = range(0xDC80, 0xDD00)


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code in _RAW_BYTE:
        return f"\\x{code - 0xDC00:02x}"
    if char.isprintable():
        return char
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def location_text(uri: str) -> str:
    r"""A location as one printable line that names exactly one file: the reverse is ``location_from_text``.

    A backslash is written ``\\``, a byte that is not UTF-8 ``\xNN``, and a character that is not
    printable (newline, escape, right-to-left override, ...) ``\uNNNN`` (``\UNNNNNNNN`` above U+FFFF);
    everything else is itself. So the raw byte 0xFF and the four characters ``\xff`` differ.

    >>> location_text("/srv/bad\udcff.jpg"), location_text("/srv/bad\\xff.jpg")
    ('/srv/bad\\xff.jpg', '/srv/bad\\\\xff.jpg')
    >>> location_text("/srv/two\nlines.jpg")
    '/srv/two\\u000alines.jpg'
    """
    if uri.isprintable() and "\\" not in uri:
        return uri
    return "".join(_escape(char) for char in uri)


_ESCAPE = re.compile(r"\\(?:(\\)|x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8}))")


def location_from_text(text: str) -> str:
    r"""The location ``location_text`` made ``text`` from (raw bytes back as Python's lone surrogates).

    Raises ``ValueError`` for text ``location_text`` cannot produce (a stray or unknown escape).

    >>> location_from_text("/srv/bad\\xff.jpg") == "/srv/bad\udcff.jpg"
    True
    """
    out: list[str] = []
    pos = 0
    while True:
        slash = text.find("\\", pos)
        if slash < 0:
            out.append(text[pos:])
            return "".join(out)
        found = _ESCAPE.match(text, slash)
        if found is None:
            raise ValueError(f"not a location text: bad escape at offset {slash}")
        out.append(text[pos:slash])
        backslash, raw, short, wide = found.groups()
        if backslash:
            out.append("\\")
        elif raw:
            byte = int(raw, 16)
            if byte < 0x80:
                raise ValueError(f"not a location text: \\x{raw} is an ASCII byte, never escaped so")
            out.append(chr(0xDC00 + byte))
        else:
            out.append(chr(int(short or wide, 16)))
        pos = found.end()


def location_bytes(uri: str) -> str | None:
    r"""Base64 of a location's raw bytes when it is not valid UTF-8 (a file name from a foreign system),
    else ``None``: a consumer that needs the exact name decodes it instead of unescaping the text.

    >>> location_bytes("/srv/bad\udcff.jpg"), location_bytes("/srv/good.jpg")
    ('L3Nydi9iYWT/LmpwZw==', None)
    """
    try:
        uri.encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    try:
        raw = uri.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a file name
        raw = uri.encode("utf-8", "surrogatepass")
    return base64.b64encode(raw).decode("ascii")
