"""Hash engines: where ``hash_ref`` runs: ``inprocess``, ``local`` (worker processes), ``threads`` and
``dask``. Each engine's module is imported the first time it is made (``base.register_lazy``)."""

from __future__ import annotations

from .base import DEFAULT_TIMEOUT, Engine, EngineOptions, engines, make_engine, register, register_lazy

register_lazy("inprocess", "libra_cli.engine.inprocess")
register_lazy("local", "libra_cli.engine.pool")
register_lazy("threads", "libra_cli.engine.threads")
register_lazy("dask", "libra_cli.engine.dask")

__all__ = ["DEFAULT_TIMEOUT", "Engine", "EngineOptions", "engines", "make_engine", "register"]
