"""The CLI's view of list loading: the library's functions (``libra_cli.lists``), for the command modules."""

from __future__ import annotations

from ..lists import expand_list_paths, expired_lists, load_lists, looks_like_list

__all__ = ["expand_list_paths", "expired_lists", "load_lists", "looks_like_list"]
