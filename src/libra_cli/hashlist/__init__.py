"""Hash lists: encrypted at rest with age, signed by their publisher with Ed25519, loaded lean.

The public API ``libra scan`` and other callers use:

>>> ids = resolve_identities(["host.key"])                     # or LIBRA_IDENTITY            # doctest: +SKIP
>>> keys = load_publisher_keys(["ncmec.pub"])                                                 # doctest: +SKIP
>>> hashlist = load_hashlist("ncmec.libra", identities=ids, publisher_keys=keys)             # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import BuildReport, build_hashlist, dedupe, merge_hashlists, pack_hashlist, write_hashlist
    from .container import FORMAT_VERSION
    from .diff import ListDiff, diff_hashlists
    from .importers import ImportReport, import_source, import_text
    from .keys import (
        IDENTITY_ENV,
        fingerprint,
        generate_identity,
        generate_signing_key,
        load_identities,
        load_publisher_keys,
        load_recipients,
        load_signing_key,
        passphrase_from_env,
        resolve_identities,
    )
    from .load import inspect, load_hashlist
    from .table import Codes, HashColumn, HashList, ListInfo, VarStrings

#: Where each public name lives: a module is imported when one of its names is first used, so
#: loading a list (``libra scan``) never imports the list-building, import and diff modules.
_WHERE: dict[str, str] = {
    "BuildReport": "build",
    "build_hashlist": "build",
    "dedupe": "build",
    "merge_hashlists": "build",
    "pack_hashlist": "build",
    "write_hashlist": "build",
    "FORMAT_VERSION": "container",
    "ListDiff": "diff",
    "diff_hashlists": "diff",
    "ImportReport": "importers",
    "import_source": "importers",
    "import_text": "importers",
    "IDENTITY_ENV": "keys",
    "fingerprint": "keys",
    "generate_identity": "keys",
    "generate_signing_key": "keys",
    "load_identities": "keys",
    "load_publisher_keys": "keys",
    "load_recipients": "keys",
    "load_signing_key": "keys",
    "passphrase_from_env": "keys",
    "resolve_identities": "keys",
    "inspect": "load",
    "load_hashlist": "load",
    "Codes": "table",
    "HashColumn": "table",
    "HashList": "table",
    "ListInfo": "table",
    "VarStrings": "table",
}

__all__ = [
    "FORMAT_VERSION",
    "IDENTITY_ENV",
    "BuildReport",
    "Codes",
    "HashColumn",
    "HashList",
    "ImportReport",
    "ListDiff",
    "ListInfo",
    "VarStrings",
    "build_hashlist",
    "dedupe",
    "diff_hashlists",
    "fingerprint",
    "generate_identity",
    "generate_signing_key",
    "import_source",
    "import_text",
    "inspect",
    "load_hashlist",
    "load_identities",
    "load_publisher_keys",
    "load_recipients",
    "load_signing_key",
    "merge_hashlists",
    "pack_hashlist",
    "passphrase_from_env",
    "resolve_identities",
    "write_hashlist",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
