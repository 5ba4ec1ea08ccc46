"""Loading the lists a run names: keys from files or the environment, never from the command line.

>>> lists = load_lists(["/etc/libra/lists/ncmec.libra"], identities=["/etc/libra/host.key"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .hashlist import load_hashlist
from .hashlist.keys import load_publisher_keys, passphrase_from_env, resolve_identities
from .hashlist.table import HashList
from .textsafe import log_value

log = logging.getLogger("libra")


def load_lists(
    paths: Sequence[str],
    *,
    identities: Sequence[str] = (),
    passphrase_env: str | None = None,
    publisher_keys: Sequence[str] = (),
) -> list[HashList]:
    """Decrypt (in memory, in this process) and verify every list; the first failure stops with one sentence."""
    keys = resolve_identities(identities)
    passphrase = passphrase_from_env(passphrase_env)
    publishers = load_publisher_keys(publisher_keys) if publisher_keys else []
    loaded = []
    for path in paths:
        hashlist = load_hashlist(path, identities=keys, passphrase=passphrase, publisher_keys=publishers)
        log.info(
            "list loaded name=%s entries=%d signature=%s signer=%s",
            log_value(hashlist.info.name),
            len(hashlist),
            hashlist.info.signature_status,
            log_value(hashlist.info.signer or "-"),
        )
        loaded.append(hashlist)
    return loaded
