"""The signal-type contract: one class per hash type owning every fact about it, in one registry.

python-threatexchange's ``SignalType`` idea: a hash type's name, size, default threshold, quality
floor, index family, the media it applies to and how its values are written in lists live in one
place. The matcher, list validation, importers, the worker and the findings read them from here, so
adding a hash type is one module plus one ``register`` call (from outside the package too: see
``plugin_modules``).

>>> get("pdq").bits, get("pdq").default_threshold, get("vpdq").family
(256, 31, 'pdq')
"""

from __future__ import annotations

import re
import sys
from abc import ABC
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from ..hashers.base import Hasher

Kind = Literal["digest", "perceptual", "unsupported"]
#: ``match``: a hit is a finding. ``corroborate``: a hit only strengthens a finding another signal made.
#: ``context``: computed for the suspected signals only (``--suspected``), never indexed, never a match.
Role = Literal["match", "corroborate", "context"]

_HEX = re.compile(r"[0-9a-f]*")


class SignalType(ABC):
    """One hash type. Subclasses set the class attributes; instances are registered once."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
    nbytes: ClassVar[int] = 0  #: size of one value in bytes (0 for unsupported types)
    family: ClassVar[str] = ""  #: values of one family share an index (PDQ of a still and of a frame)
    default_threshold: ClassVar[int] = 0  #: inclusive Hamming radius of a match (0 for digests)
    quality_floor: ClassVar[int | None] = None  #: hashes of lower quality never match
    media: ClassVar[frozenset[str]] = frozenset({"image", "video", "other"})  #: kinds of file it applies to
    role: ClassVar[Role] = "match"
    #: Name of the hasher (``libra_cli.hashers``) that computes it, if libra can.
    hasher_name: ClassVar[str | None] = None

    def hasher(self) -> Hasher | None:
        """What computes it (``None`` when libra cannot). A plug-in may return its own hasher here."""
        if self.hasher_name is None:
            return None
        from ..hashers import get as get_hasher  # heavy (decoders): only where hashing happens

        return get_hasher(self.hasher_name)

    def can_compute(self) -> bool:
        """Whether ``hasher`` gives a hasher, answered without importing it (decoders are heavy)."""
        return self.hasher_name is not None or type(self).hasher is not SignalType.hasher

    @property
    def bits(self) -> int:
        return self.nbytes * 8

    @property
    def index_family(self) -> str:
        return self.family or self.name

    def parse(self, text: str) -> bytes:
        """A list value in its text form (hex) to raw bytes; ``ValueError`` naming it if malformed."""
        value = text.strip().lower()
        if len(value) != self.nbytes * 2 or not _HEX.fullmatch(value):
            what = "digest" if self.kind == "digest" else "hash"
            raise ValueError(f"{text!r} is not a valid {self.name} {what} ({self.nbytes * 2} hex digits)")
        return bytes.fromhex(value)

    def max_threshold(self) -> int:
        """The largest meaningful threshold: half the bits (beyond it, everything matches its inverse)."""
        return max(0, self.bits // 2 - 1)


class DigestSignal(SignalType):
    """An exact digest of the file's bytes: what most industry lists carry."""

    kind: ClassVar[Kind] = "digest"


class PerceptualSignal(SignalType):
    """A hash of what a picture looks like, compared by Hamming distance."""

    kind: ClassVar[Kind] = "perceptual"
    media: ClassVar[frozenset[str]] = frozenset({"image"})


class UnsupportedSignal(SignalType):
    """A type lists may carry but libra cannot compute (kept, counted, reported as unsupported)."""

    kind: ClassVar[Kind] = "unsupported"
    media: ClassVar[frozenset[str]] = frozenset()

    def parse(self, text: str) -> bytes:
        return text.strip().encode()


_REGISTRY: dict[str, SignalType] = {}
_PLUGIN_MODULES: list[str] = []


def register(signal: SignalType) -> SignalType:
    """Add ``signal`` under its name. One from outside ``libra_cli`` is also imported by every worker."""
    if signal.name in _REGISTRY:
        raise ValueError(f"signal type {signal.name!r} is registered twice")
    _REGISTRY[signal.name] = signal
    note_plugin(type(signal).__module__)
    return signal


def note_plugin(module: str) -> None:
    """Remember a module that registers plug-ins, so worker processes import it too."""
    if not module.startswith("libra_cli") and module != "__main__" and module not in _PLUGIN_MODULES:
        _PLUGIN_MODULES.append(module)


def plugin_modules() -> tuple[str, ...]:
    """Modules outside the package that registered plug-ins in this process (sent to workers)."""
    return tuple(_PLUGIN_MODULES)


def import_plugins(modules: Sequence[str]) -> None:
    """In a worker: import the parent's plug-in modules (each registers itself on import)."""
    import importlib

    for module in modules:
        if module not in sys.modules:
            importlib.import_module(module)


def get(name: str) -> SignalType:
    """The signal type ``name``; ``KeyError`` if there is none (callers turn it into their own error)."""
    return _REGISTRY[name]


def find(name: str) -> SignalType | None:
    return _REGISTRY.get(name)


def all_types() -> list[SignalType]:
    """Every registered signal type, in registration order."""
    return list(_REGISTRY.values())


def names(kind: Kind | None = None) -> tuple[str, ...]:
    """Names of the registered types, optionally of one kind, in registration order."""
    return tuple(s.name for s in _REGISTRY.values() if kind is None or s.kind == kind)


def computable(name: str) -> bool:
    """True when libra can compute ``name`` (a digest or perceptual type with a hasher)."""
    signal = _REGISTRY.get(name)
    return signal is not None and signal.kind != "unsupported" and signal.can_compute()
