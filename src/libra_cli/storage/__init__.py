"""Storage backends: walk targets into references, read one reference's bytes. Never write."""

from __future__ import annotations

from . import local as _local  # noqa: F401  (registers the ``file`` backend)
from .base import Skipped, Storage, WalkError, WalkItem, WalkOptions, open_ref, read_ref, register, storage_for
from .walker import Walker

__all__ = [
    "Skipped",
    "Storage",
    "WalkError",
    "WalkItem",
    "WalkOptions",
    "Walker",
    "open_ref",
    "read_ref",
    "register",
    "storage_for",
]
