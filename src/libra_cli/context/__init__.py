"""Context signals: unmatched files that share a group with a confirmed match are *suspected*.

See ``docs/suspected.md``. ``ContextStage`` sits after the match stage (``pipeline.Pipeline``); it keeps
hashes, locations and metadata only, and yields suspected findings and clusters at the end of a run.

The stage (and the scene hashing it imports, with Pillow) loads on first use: every run parses the
grouping options, few runs ask for ``--suspected``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .groups import DEFAULT_GROUP_BY, GROUP_KINDS, AccountPattern, folder_of, groups_of

if TYPE_CHECKING:
    from .stage import Cluster, ContextOptions, ContextResult, ContextStage

_FROM_STAGE = frozenset({"Cluster", "ContextOptions", "ContextResult", "ContextStage"})

__all__ = [
    "DEFAULT_GROUP_BY",
    "GROUP_KINDS",
    "AccountPattern",
    "Cluster",
    "ContextOptions",
    "ContextResult",
    "ContextStage",
    "folder_of",
    "groups_of",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_STAGE:
        return getattr(importlib.import_module(".stage", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
