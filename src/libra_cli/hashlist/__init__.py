"""Hash lists: encrypted at rest with age, signed by their publisher with Ed25519, loaded lean.

The public API ``libra scan`` and other callers use:

>>> ids = resolve_identities(["host.key"])                     # or LIBRA_IDENTITY            # doctest: +SKIP
>>> keys = load_publisher_keys(["ncmec.pub"])                                                 # doctest: +SKIP
>>> hashlist = load_hashlist("ncmec.libra", identities=ids, publisher_keys=keys)             # doctest: +SKIP
"""

from __future__ import annotations

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
