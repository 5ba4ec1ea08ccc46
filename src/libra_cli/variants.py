"""The names of hash variants, shared by the hashers that make them and the matcher that reads them.

Every perceptual hash row says what was done to the picture before hashing it (``HashValues.transforms``
on the scan side, ``Entry.variant`` on the list side). The names mean what they say:

- ``original``: the picture as it is.
- ``rot90``, ``rot180``, ``rot270``, ``flip``, ``mirror``, ``transpose``, ``transverse``: a scan's dihedral
  variants (PDQ's sign rules on one DCT); ``real-<name>``: a list's real transform of the picture.
- ``as-stored``: the pixels as the file stores them, before its EXIF orientation.
- ``crop5-center``, ``crop10-topleft``, ``scale50``, ``thumb150``, ``mark-topleft``, ``rot3``, ...: a list's
  edits of the picture (hashers/robust.py).
- ``trim``: the picture without uniform borders or a plain banner (both sides).
- ``inset``: a picture found inside the file (picture-in-picture, screenshot; scan side, deep mode).
- ``region:tl75`` ... ``region:br75``: a corner window of 75% of each side (both sides).

>>> is_region("region:tl75"), is_region("inset"), is_region("trim"), is_region("crop5-center")
(True, True, False, False)
"""

from __future__ import annotations

ORIGINAL = "original"
AS_STORED = "as-stored"
TRIM = "trim"
INSET = "inset"
REGION_PREFIX = "region:"
REAL_PREFIX = "real-"


def is_region(variant: str | None) -> bool:
    """Whether a variant hashes only part of what the file or listed picture shows (a window, an inset).

    A match through one is held to the stricter region rule (docs/matching.md).
    """
    return bool(variant) and (variant == INSET or str(variant).startswith(REGION_PREFIX))
