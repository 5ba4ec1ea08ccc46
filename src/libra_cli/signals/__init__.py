"""Signal types (hash types) and their registry. Importing this package registers the built-in ones."""

from __future__ import annotations

from . import builtin as _builtin  # noqa: F401  (registers md5 ... photodna)
from .base import (
    DigestSignal,
    Kind,
    PerceptualSignal,
    Role,
    SignalType,
    UnsupportedSignal,
    all_types,
    computable,
    find,
    get,
    import_plugins,
    names,
    note_plugin,
    plugin_modules,
    register,
)

__all__ = [
    "DigestSignal",
    "Kind",
    "PerceptualSignal",
    "Role",
    "SignalType",
    "UnsupportedSignal",
    "all_types",
    "computable",
    "find",
    "get",
    "import_plugins",
    "names",
    "note_plugin",
    "plugin_modules",
    "register",
]
