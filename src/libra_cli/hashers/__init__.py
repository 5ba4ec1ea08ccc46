"""Hash algorithms, registered by name: exact digests and perceptual hashes.

Importing this package registers the exact digests; the perceptual hashers (which import image
libraries) register when first asked for (``get``, ``hashers``), so a process that only digests files
(the parent of a scan, a worker with an MD5-only list) never loads them.
"""

from __future__ import annotations

from . import exact as _exact  # noqa: F401  (registers md5, sha1, sha256, blake3)
from .base import ExactHasher, Example, Hasher, PerceptualHasher, exact, get, hashers, perceptual, register
from .exact import digest_all

__all__ = [
    "ExactHasher",
    "Example",
    "Hasher",
    "PerceptualHasher",
    "digest_all",
    "exact",
    "get",
    "hashers",
    "perceptual",
    "register",
]
