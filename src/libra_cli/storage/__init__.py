"""Storage backends: walk targets into references, open one reference as a stream. Never write."""

from __future__ import annotations

from . import local as _local  # noqa: F401  (registers the ``file`` backend)
from . import s3 as _s3  # noqa: F401  (registers the ``s3`` backend; boto3 is imported on first use)
from .base import (
    Changed,
    Gone,
    Storage,
    StorageOptions,
    WalkError,
    WalkItem,
    WalkOptions,
    read_at_most,
    register,
    scheme_of,
    schemes,
    storage_for,
)
from .walker import Source, distinct_targets

__all__ = [
    "Changed",
    "Gone",
    "Source",
    "Storage",
    "StorageOptions",
    "WalkError",
    "WalkItem",
    "WalkOptions",
    "distinct_targets",
    "read_at_most",
    "register",
    "scheme_of",
    "schemes",
    "storage_for",
]
