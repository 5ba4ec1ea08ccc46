"""The hasher plug-in contract: an abstract base class plus a registry keyed by name.

A new hash algorithm is one module with one ``register(...)`` line. Every hasher carries known
examples (input -> expected hash) so one parametrised test can check the whole registry, the way
python-threatexchange's ``get_examples()`` does.

>>> get("sha256").kind
'exact'
>>> [h.name for h in hashers("perceptual")]  # doctest: +SKIP
['pdq', 'phash', 'dhash']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from PIL import Image

from ..errors import ConfigError
from ..models import PerceptualHash

Kind = Literal["exact", "perceptual"]


@dataclass(frozen=True)
class Example:
    """A known input and the hash it must give. ``make`` builds the input (bytes or an image)."""

    label: str
    make: Callable[[], bytes | Image.Image]
    expected: str


class Digest(Protocol):
    """The part of ``hashlib``'s interface that exact hashers need."""

    def update(self, data: bytes | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


class Hasher(ABC):
    """One hash algorithm. ``name`` is what hash lists and findings call it."""

    name: ClassVar[str]
    kind: ClassVar[Kind]

    @abstractmethod
    def examples(self) -> Sequence[Example]:
        """Known input -> expected hash pairs (at least one)."""

    @abstractmethod
    def hash_example(self, example: Example) -> str:
        """The hash this hasher gives for ``example``'s input, as lowercase hex."""


class ExactHasher(Hasher):
    """A cryptographic digest of the file's bytes."""

    kind: ClassVar[Kind] = "exact"

    @abstractmethod
    def new(self) -> Digest:
        """A fresh incremental digest object."""

    def hash_example(self, example: Example) -> str:
        data = example.make()
        if not isinstance(data, bytes):
            raise TypeError(f"{self.name} examples must be bytes")
        digest = self.new()
        digest.update(data)
        return digest.hexdigest()


class PerceptualHasher(Hasher):
    """A hash of what an image looks like, compared by Hamming distance.

    ``hash_image`` receives the upright 8-bit grey image from ``media.image.decode``.
    """

    kind: ClassVar[Kind] = "perceptual"

    @abstractmethod
    def hash_image(self, img: Image.Image) -> list[PerceptualHash]:
        """The hash of ``img`` (variant ``original``)."""

    def hash_example(self, example: Example) -> str:
        from PIL import Image

        img = example.make()
        if not isinstance(img, Image.Image):
            raise TypeError(f"{self.name} examples must be images")
        return self.hash_image(img.convert("L"))[0].value


_REGISTRY: dict[str, Hasher] = {}
#: Modules of the built-in perceptual hashers, imported on first need (they pull in image libraries).
_LAZY = ("libra_cli.hashers.pdq", "libra_cli.hashers.imagehash_family")


def _load_builtin() -> None:
    import importlib

    for module in _LAZY:
        importlib.import_module(module)
_H = TypeVar("_H", bound=Hasher)


def register(hasher: _H) -> _H:
    """Add ``hasher`` under its name; a second hasher with the same name is a programming error."""
    if hasher.name in _REGISTRY:
        raise ValueError(f"hasher {hasher.name!r} is registered twice")
    _REGISTRY[hasher.name] = hasher
    return hasher


def get(name: str) -> Hasher:
    """The hasher called ``name`` (``ConfigError`` naming it if there is none)."""
    if name not in _REGISTRY:
        _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"{name!r} is not a known hash type (known: {known})") from None


def hashers(kind: Kind | None = None) -> list[Hasher]:
    """Registered hashers, in registration order, optionally of one kind."""
    _load_builtin()
    return [h for h in _REGISTRY.values() if kind is None or h.kind == kind]


def exact(name: str) -> ExactHasher:
    """The exact hasher ``name`` (``ConfigError`` if it is unknown or not exact)."""
    hasher = get(name)
    if not isinstance(hasher, ExactHasher):
        raise ConfigError(f"{name!r} is a perceptual hash, not an exact digest")
    return hasher


def perceptual(name: str) -> PerceptualHasher:
    """The perceptual hasher ``name`` (``ConfigError`` if it is unknown or not perceptual)."""
    hasher = get(name)
    if not isinstance(hasher, PerceptualHasher):
        raise ConfigError(f"{name!r} is an exact digest, not a perceptual hash")
    return hasher
