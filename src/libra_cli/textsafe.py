"""Text from outside (file names, list names, ids) made safe for terminals and greppable logs.

A scanned tree may hold hostile file names, and a list may carry hostile names or ids: shown raw, a
name with an escape sequence could repaint the terminal, and one with a newline could forge a log line.
"""

from __future__ import annotations

import json


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
