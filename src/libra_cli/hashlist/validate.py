"""Validate list values at the boundary and return them normalised (lowercase hex of the right length).

>>> normalise("md5", " D41D8CD98F00B204E9800998ECF8427E ")
'd41d8cd98f00b204e9800998ecf8427e'
"""

from __future__ import annotations

import string

from .. import signals

_HEX = frozenset(string.hexdigits)

#: Names other tools use for libra's hash types (python-threatexchange, VICS, hashdeep, ClamAV).
ALIASES = {
    "md-5": "md5",
    "sha-1": "sha1",
    "sha-256": "sha256",
    "video_md5": "md5",
    "photo_md5": "md5",
    "pdq_hash": "pdq",
    "phash64": "phash",
}


def shown(text: str, limit: int = 80) -> str:
    """``repr`` of a value for an error sentence, cut short: a source line may be megabytes long."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


class InvalidValue(ValueError):
    """A value that is not a valid hash of its type; ``str()`` is the sentence without a location."""


def hash_type_name(text: str) -> str:
    """Normalise a hash-type name (``'SHA-1'`` -> ``'sha1'``); ``InvalidValue`` for an unknown one."""
    name = text.strip().lower()
    name = ALIASES.get(name, name)
    if signals.find(name) is None:
        known = ", ".join(sorted(signals.names()))
        raise InvalidValue(f"{shown(text.strip())} is not a hash type libra knows ({known})")
    return name


def normalise(hash_type: str, value: str) -> str:
    """Return ``value`` as lowercase hex of the size ``hash_type`` needs, or raise ``InvalidValue``.

    Unsupported types (PhotoDNA) are kept as given, stripped: libra carries and counts them but cannot
    compute them, so it does not pretend to know their encoding.
    """
    text = value.strip()
    signal = signals.get(hash_type)
    if signal.kind == "unsupported":
        if not text:
            raise InvalidValue(f"an empty {hash_type} value is not valid")
        return text
    kind = "digest" if signal.kind == "digest" else "hash"
    width = signal.nbytes * 2
    if len(text) != width or not _HEX.issuperset(text):
        raise InvalidValue(f"{shown(text)} is not a valid {hash_type} {kind}")
    return text.lower()


def digest_type_for_length(hex_value: str) -> str | None:
    """Guess an exact digest type from a hex length (32 md5, 40 sha1, 64 sha256) for formats that do not say."""
    return {32: "md5", 40: "sha1", 64: "sha256"}.get(len(hex_value.strip()))
