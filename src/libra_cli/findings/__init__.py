"""Findings writers (json, csv, ndjson), registered by format name."""

from __future__ import annotations

from . import csv_writer as _csv  # noqa: F401  (registers "csv")
from . import json_writer as _json  # noqa: F401  (registers "json")
from . import ndjson_writer as _ndjson  # noqa: F401  (registers "ndjson")
from .base import (
    FindingsWriter,
    ScanHeader,
    finding_to_dict,
    formats,
    make_writer,
    open_output,
    output_identity,
    register,
)

__all__ = [
    "FindingsWriter",
    "ScanHeader",
    "finding_to_dict",
    "formats",
    "make_writer",
    "open_output",
    "output_identity",
    "register",
]
