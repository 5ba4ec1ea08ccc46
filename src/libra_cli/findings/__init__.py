"""Findings writers (json, csv, ndjson), registered by format name, and the one findings schema."""

from __future__ import annotations

from . import csv_writer as _csv  # noqa: F401  (registers "csv")
from . import json_writer as _json  # noqa: F401  (registers "json")
from . import ndjson_writer as _ndjson  # noqa: F401  (registers "ndjson")
from .base import FindingsWriter, formats, is_findings_file, make_writer, open_output, output_identity, register
from .schema import SCHEMA, ScanHeader, error_record, finding_record, iso_time, skip_record

__all__ = [
    "SCHEMA",
    "FindingsWriter",
    "ScanHeader",
    "error_record",
    "finding_record",
    "formats",
    "is_findings_file",
    "iso_time",
    "make_writer",
    "open_output",
    "output_identity",
    "register",
    "skip_record",
]
