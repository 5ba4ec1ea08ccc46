"""Context signals: unmatched files that share a group with a confirmed match are *suspected*.

See ``docs/suspected.md``. ``ContextStage`` sits after the match stage (``pipeline.Pipeline``); it keeps
hashes, locations and metadata only, and yields suspected findings and clusters at the end of a run.
"""

from __future__ import annotations

from .groups import AccountPattern, folder_of, groups_of
from .stage import DEFAULT_GROUP_BY, GROUP_KINDS, Cluster, ContextOptions, ContextResult, ContextStage

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
