"""Hash engines: where ``hash_ref`` runs. Importing this package registers ``inprocess``, ``local`` and
``threads``, and ``dask`` (which imports Dask only when it starts)."""

from __future__ import annotations

from . import dask as _dask  # noqa: F401  (registers "dask")
from . import inprocess as _inprocess  # noqa: F401  (registers "inprocess")
from . import pool as _pool  # noqa: F401  (registers "local")
from . import threads as _threads  # noqa: F401  (registers "threads")
from .base import DEFAULT_TIMEOUT, Engine, EngineOptions, engines, make_engine, register

__all__ = ["DEFAULT_TIMEOUT", "Engine", "EngineOptions", "engines", "make_engine", "register"]
