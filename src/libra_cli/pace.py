"""``--max-rate``: a cap on files per second or bytes per second, for scans that run in the daytime.

The cap is applied where work is handed to the hash engine: a file is submitted only when the pace
allows it, so the workers (whichever engine runs them) read no faster than the cap, on average, from
the first file on. The walk and matching are not slowed; nothing is buffered beyond the walk's bounded
queue. Files matched from stored hashes without being read do not count against the cap.

>>> Rate.parse("200"), Rate.parse("50M")
(Rate(files=200.0, bytes=None), Rate(files=None, bytes=52428800.0))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .engine import Engine
from .engine.base import Waitable
from .errors import ConfigError
from .models import HashResult, MediaRef
from .settings import parse_size

#: The largest cap that means anything (beyond it, a typo).
MAX_FILES_PER_SECOND = 1_000_000.0


@dataclass(frozen=True)
class Rate:
    """At most ``files`` files and ``bytes`` bytes per second (``None``: no cap of that kind)."""

    files: float | None = None
    bytes: float | None = None

    @property
    def capped(self) -> bool:
        return self.files is not None or self.bytes is not None

    @classmethod
    def parse(cls, value: Any) -> Rate:
        """``100`` (files per second), ``50M`` (bytes per second: a size with a unit), or a list of both."""
        items = list(value) if isinstance(value, list | tuple) else [value]
        files: float | None = None
        size: float | None = None
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | float | str):
                raise ConfigError(f"--max-rate must be files per second (100) or bytes per second (50M), not {item!r}")
            text = str(item).strip().removesuffix("/s")
            try:
                number = float(text)
            except ValueError:
                try:
                    size = float(parse_size(text))  # a unit: bytes per second
                except ConfigError:
                    raise ConfigError(
                        f"--max-rate must be files per second (100) or bytes per second (50M), not {item!r}"
                    ) from None
                if size <= 0:
                    raise ConfigError(f"--max-rate {item!r} must be more than 0") from None
                continue
            if not 0 < number <= MAX_FILES_PER_SECOND:
                raise ConfigError(
                    f"--max-rate {item!r} must be between 0 and {MAX_FILES_PER_SECOND:g} files per second"
                )
            files = number
        return cls(files, size)

    def cost(self, size: int) -> float:
        """Seconds one file of ``size`` bytes takes from the budget: the larger of the two caps' shares."""
        return max(1.0 / self.files if self.files else 0.0, size / self.bytes if self.bytes else 0.0)


class Pace:
    """Spaces submissions so that their rate stays under ``rate``: each one waits for the last one's cost.

    >>> pace = Pace(Rate(files=10))
    >>> pace.delay()
    0.0
    >>> pace.took(1000)
    >>> 0.09 < pace.delay() <= 0.1
    True
    """

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._next = clock()

    def delay(self) -> float:
        """Seconds until the next file may be submitted (0: now)."""
        return max(0.0, self._next - self.clock())

    def took(self, size: int) -> None:
        """A file of ``size`` bytes was submitted."""
        self._next = max(self._next, self.clock()) + self.rate.cost(size)


class PacedEngine(Engine):
    """An engine wrapper that has no capacity while the pace says wait, and sleeps no longer than that."""

    def __init__(self, inner: Engine, pace: Pace) -> None:
        super().__init__(inner.config, inner.options)
        self.inner = inner
        self.pace = pace

    def start(self) -> None:
        self.inner.start()

    def capacity(self) -> int:
        return self.inner.capacity() if self.pace.delay() <= 0 else 0

    def submit(self, ref: MediaRef) -> None:
        self.pace.took(ref.size)
        self.inner.submit(ref)

    def pending(self) -> int:
        return self.inner.pending()

    def poll(self, timeout: float, wake: Sequence[Waitable] = ()) -> list[HashResult]:
        wait = self.pace.delay()
        if wait <= 0:
            return self.inner.poll(timeout, wake)
        if self.inner.pending() == 0 and not wake:
            time.sleep(min(timeout, wait))  # nothing in flight, nothing to wake for: the pace is the wait
            return []
        return self.inner.poll(min(timeout, wait), wake)

    def close(self, abort: bool = False) -> None:
        self.inner.close(abort)


def paced(factory: Callable[[], Engine], rate: Rate) -> Callable[[], Engine]:
    """``factory`` unchanged without a cap, else one whose engine is wrapped in a ``PacedEngine``."""
    if not rate.capped:
        return factory
    return lambda: PacedEngine(factory(), Pace(rate))
