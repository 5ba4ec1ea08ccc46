"""Loading the lists a scan names: keys from files or the environment, never from the command line.

A ``--list`` value may be a folder: every ``*.libra`` file in it is loaded (sorted by name), the way
clamscan's ``--database=DIR`` reads a signature folder. A list past its expiry date still loads (a stale
list finds less, never more) and is warned about.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from .hashlist import load_hashlist
from .hashlist.expiry import expired_lists, is_expired
from .hashlist.keys import load_publisher_keys, passphrase_from_env, resolve_identities
from .hashlist.locate import expand_list_paths, looks_like_list
from .hashlist.table import HashList

if TYPE_CHECKING:
    from .context.keywords import KeywordList
from .textsafe import log_value

log = logging.getLogger("libra")

__all__ = ["expand_list_paths", "expired_lists", "load_lists", "looks_like_list"]


def load_keyword_lists(
    paths: Sequence[str],
    *,
    identities: Sequence[str] = (),
    passphrase_env: str | None = None,
    publisher_keys: Sequence[str] = (),
) -> list[KeywordList]:
    """Decrypt (in memory) and verify every keyword list (``hashlist/keywords.py``) with the lists' keys."""
    from .hashlist.keywords import load_keywords

    keys = resolve_identities(identities)
    passphrase = passphrase_from_env(passphrase_env)
    publishers = load_publisher_keys(publisher_keys) if publisher_keys else []
    loaded = []
    for path in paths:
        found = load_keywords(path, identities=keys, passphrase=passphrase, publisher_keys=publishers)
        log.info("keyword list loaded name=%s keywords=%d", log_value(found.name), len(found))
        loaded.append(found)
    return loaded


def load_lists(
    paths: Sequence[str],
    *,
    identities: Sequence[str] = (),
    passphrase_env: str | None = None,
    publisher_keys: Sequence[str] = (),
    now: datetime | None = None,
) -> list[HashList]:
    """Decrypt (in memory) and verify every list; the first failure stops with one sentence.

    ``paths`` may name folders (see ``expand_list_paths``). Each expired list is logged as a warning
    (``list expired name=… expires=…``); ``expired_lists(loaded)`` gives one sentence each for a summary.
    """
    files = expand_list_paths(paths)
    keys = resolve_identities(identities)
    passphrase = passphrase_from_env(passphrase_env)
    publishers = load_publisher_keys(publisher_keys) if publisher_keys else []
    loaded = []
    for path in files:
        hashlist = load_hashlist(path, identities=keys, passphrase=passphrase, publisher_keys=publishers)
        log.info(
            "list loaded name=%s entries=%d signature=%s signer=%s expires=%s",
            log_value(hashlist.info.name),
            len(hashlist),
            hashlist.info.signature_status,
            log_value(hashlist.info.signer or "-"),
            log_value(hashlist.info.expires or "-"),
        )
        if is_expired(hashlist.info, now):
            log.warning(
                "list expired name=%s path=%s expires=%s hint=%s",
                log_value(hashlist.info.name),
                log_value(path),
                log_value(hashlist.info.expires),
                log_value("install a newer version: libra hashlist update"),
            )
        loaded.append(hashlist)
    return loaded
