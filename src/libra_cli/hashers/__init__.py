"""Hash algorithms, registered by name: exact digests and perceptual hashes.

Importing this package registers every built-in hasher.
"""

from __future__ import annotations

from . import exact as _exact  # noqa: F401  (registers md5, sha1, sha256, blake3)
from . import imagehash_family as _imagehash_family  # noqa: F401  (registers phash, dhash)
from . import pdq as _pdq  # noqa: F401  (registers pdq)
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
