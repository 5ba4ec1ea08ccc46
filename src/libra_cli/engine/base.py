"""The hash-engine contract: references in, hash results out, each task with its own deadline.

Engines are plug-ins keyed by name: ``inprocess`` (tests, ``--workers 1``), ``local`` (a pool of
worker processes on this machine, the default) and, later, a cluster engine. The pipeline drives an
engine without knowing which it is: ``submit`` while there is ``capacity``, ``poll`` for results
(waking early when the source has new references), ``close`` at the end.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Protocol

from ..errors import ConfigError, LibraError
from ..models import HashConfig, HashResult, MediaRef

#: Default for the per-file deadline: seconds a file may go without any progress before its worker
#: is stopped. Long files send progress while they are read, so this bounds a stuck decoder, not size.
DEFAULT_TIMEOUT = 120.0


class EngineLost(LibraError):
    """The engine cannot go on mid-run (a cluster's scheduler went away): the pipeline ends the run there,
    writes the findings so far marked incomplete, and the CLI says this one sentence and exits 2."""


class Waitable(Protocol):
    def fileno(self) -> int: ...


@dataclass(frozen=True)
class EngineOptions:
    """How an engine runs: worker count, the per-file deadline, engine-specific settings."""

    workers: int = 1
    timeout: float = DEFAULT_TIMEOUT
    scheduler: str | None = None  #: a cluster engine's scheduler address
    extra: tuple[tuple[str, str], ...] = ()


class Engine(ABC):
    """Hashes references with ``hashing.hash_ref`` somewhere (this process, worker processes, a cluster)."""

    name: ClassVar[str] = ""

    def __init__(self, config: HashConfig, options: EngineOptions) -> None:
        self.config = config
        self.options = options

    def start(self) -> None:  # noqa: B027  (optional: most engines start lazily)
        """Start workers (if any). Called once before the first ``submit``."""

    @abstractmethod
    def capacity(self) -> int:
        """How many more references ``submit`` takes right now (back-pressure)."""

    @abstractmethod
    def submit(self, ref: MediaRef) -> None:
        """Queue one reference for hashing."""

    def submit_many(self, refs: Sequence[MediaRef]) -> None:
        """Queue several references (an engine that can take them at once overrides this)."""
        for ref in refs:
            self.submit(ref)

    @abstractmethod
    def pending(self) -> int:
        """References submitted whose results have not been returned yet."""

    @abstractmethod
    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        """Results ready now, waiting up to ``timeout`` seconds for one, or less if a ``wake`` is readable."""

    def close(self, abort: bool = False) -> None:  # noqa: B027  (optional: nothing to stop in-process)
        """Stop the workers: politely at the end of a run, at once (``abort``) after an error or signal."""

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close(abort=kind is not None)


EngineFactory = Callable[[HashConfig, EngineOptions], Engine]
_REGISTRY: dict[str, EngineFactory] = {}
#: Built-in engines by the module that registers them, imported when first used: a digest-only scan
#: never pays for the process pool's or Dask's imports (start-up counts for a CI gate of a few files).
_LAZY: dict[str, str] = {}


def register(name: str, factory: EngineFactory) -> None:
    """Add an engine under ``name`` (``--engine NAME``)."""
    if name in _REGISTRY:
        raise ValueError(f"engine {name!r} is registered twice")
    _REGISTRY[name] = factory


def register_lazy(name: str, module: str) -> None:
    """Name an engine whose ``module`` registers it when imported (on first ``make_engine``)."""
    _LAZY[name] = module


def engines() -> tuple[str, ...]:
    return tuple(sorted(set(_REGISTRY) | set(_LAZY)))


def make_engine(name: str, config: HashConfig, options: EngineOptions) -> Engine:
    if name not in _REGISTRY and name in _LAZY:
        importlib.import_module(_LAZY[name])
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"{name!r} is not an engine (choose from {', '.join(engines())})") from None
    return factory(config, options)
