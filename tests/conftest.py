"""Shared fixtures: the benign sample photos shipped in tests/data/photos/."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
PHOTOS = DATA / "photos"


@pytest.fixture
def photos() -> Path:
    """Folder of benign public-domain/CC0 photos (see tests/data/photos/LICENSES.md)."""
    return PHOTOS


from s3server import s3_env, s3_server  # noqa: E402,F401  (the S3 test endpoint, tests/test_s3*.py)
