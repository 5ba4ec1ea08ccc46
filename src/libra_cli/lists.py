"""Loading the lists a scan names: keys from files or the environment, never from the command line.

A ``--list`` value may be a folder: every ``*.libra`` file in it is loaded (sorted by name), the way
clamscan's ``--database=DIR`` reads a signature folder. A list past its expiry date still loads (a stale
list finds less, never more) and is warned about.

A list with its publisher's key pinned beside it (``NAME.pub`` next to ``NAME.libra``, as ``hashlist update``
reads it) must be signed by that key, whatever other keys are given: a list swapped for one signed by
someone else is refused before anything is scanned. Other lists are checked against ``--publisher-key``
(config ``publisher_keys``) when given; a list checked against no key at all loads with one warning.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from .errors import ConfigError, NotAHashList, SignatureError
from .hashlist import load_hashlist
from .hashlist.expiry import expired_lists, is_expired
from .hashlist.keys import load_publisher_keys, passphrase_from_env, resolve_identities
from .hashlist.locate import expand_list_paths, looks_like_list
from .hashlist.table import HashList
from .hashlist.update import pinned_key_path

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from .context.keywords import KeywordList
    from .hashlist.keys import Identity
from .textsafe import log_value

log = logging.getLogger("libra")

__all__ = ["expand_list_paths", "expired_lists", "load_lists", "looks_like_list", "warn_unverified"]


def load_keyword_lists(
    paths: Sequence[str],
    *,
    identities: Sequence[str] = (),
    passphrase_env: str | None = None,
    publisher_keys: Sequence[str] = (),
) -> list[KeywordList]:
    """Decrypt (in memory) and verify every keyword list (``hashlist/keywords.py``) with the lists' keys."""

    keys = resolve_identities(identities)
    passphrase = passphrase_from_env(passphrase_env)
    publishers = load_publisher_keys(publisher_keys) if publisher_keys else []
    loaded = []
    for path in paths:
        found = _pinned(path, publishers, functools.partial(_keywords, path, keys, passphrase))
        log.info("keyword list loaded name=%s keywords=%d", log_value(found.name), len(found))
        loaded.append(found)
    return loaded


def _keywords(
    path: str, identities: Sequence[Identity], passphrase: str | None, trusted: Sequence[Ed25519PublicKey]
) -> KeywordList:
    from .hashlist.keywords import load_keywords

    return load_keywords(path, identities=identities, passphrase=passphrase, publisher_keys=trusted)


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
    named = {os.path.realpath(p) for p in paths if not os.path.isdir(p)}
    keys = resolve_identities(identities)
    passphrase = passphrase_from_env(passphrase_env)
    publishers = load_publisher_keys(publisher_keys) if publisher_keys else []
    loaded = []
    for path in files:
        try:
            hashlist = _load_pinned(path, keys, passphrase, publishers)
        except NotAHashList:
            if os.path.realpath(path) in named:
                raise
            # A keyword list kept in the list folder (/etc/libra/lists): not a hash list, so not loaded as one.
            log.info("keyword list in a list folder skipped path=%s hint=%s", log_value(path),
                     log_value("give it with --keywords"))  # fmt: skip
            continue
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
    if files and not loaded:
        raise ConfigError(f"the lists given hold no hash list, only keyword lists ({', '.join(paths)})")
    return loaded


def warn_unverified(lists: Sequence[HashList]) -> None:
    """One warning per list no publisher key vouched for (unsigned, or signed with no pin or key to check the
    signer against). Called once a scan is otherwise ready, so a mistyped option is still one sentence alone."""
    for hashlist in lists:
        info = hashlist.info
        if info.signature_status != "verified":
            log.warning(
                "list not verified against a publisher key name=%s path=%s signature=%s hint=%s",
                log_value(info.name),
                log_value(info.path),
                info.signature_status,
                log_value(
                    "ask the publisher for a signed list"
                    if info.signature_status == "unsigned"
                    else f"pin its publisher's key at {pinned_key_path(info.path)} or give --publisher-key"
                ),
            )


def load_verified(
    path: str, identities: Sequence[Identity], passphrase: str | None, publishers: Sequence[Ed25519PublicKey]
) -> HashList:
    """One list, verified against its pinned ``NAME.pub`` when there is one, else against ``publishers``."""
    return _load_pinned(path, identities, passphrase, publishers)


def _load_pinned(
    path: str, identities: Sequence[Identity], passphrase: str | None, publishers: Sequence[Ed25519PublicKey]
) -> HashList:
    """Load ``path``, verified against its pinned ``NAME.pub`` when there is one, else against ``publishers``."""
    return _pinned(path, publishers, lambda trusted: load_hashlist(
        path, identities=identities, passphrase=passphrase, publisher_keys=trusted
    ))  # fmt: skip


T = TypeVar("T")


def _pinned(path: str, publishers: Sequence[Ed25519PublicKey], load: Callable[[Sequence[Ed25519PublicKey]], T]) -> T:
    """``load`` with the keys that must vouch for ``path``: its pinned ``NAME.pub`` when there is one (whatever
    other keys were given), else ``publishers``. Hash lists and keyword lists alike."""
    pin = pinned_key_path(path)
    if not os.path.isfile(pin):
        return load(publishers)
    try:
        return load(load_publisher_keys([pin]))
    except SignatureError as err:
        raise SignatureError(f"{err}; its publisher key is pinned in {pin}") from None
