"""The CLI's view of list loading: the library's ``load_lists`` (kept here for the command modules)."""

from __future__ import annotations

from ..lists import load_lists

__all__ = ["load_lists"]
