"""Hash engines: where ``hash_ref`` runs. Importing this package registers ``inprocess`` and ``local``."""

from __future__ import annotations

from . import inprocess as _inprocess  # noqa: F401  (registers "inprocess")
from . import pool as _pool  # noqa: F401  (registers "local")
from .base import DEFAULT_TIMEOUT, Engine, EngineOptions, engines, make_engine, register

__all__ = ["DEFAULT_TIMEOUT", "Engine", "EngineOptions", "engines", "make_engine", "register"]
