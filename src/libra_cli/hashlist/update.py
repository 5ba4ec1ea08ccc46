"""Installing a new version of a list the way freshclam does: verify, refuse a downgrade, keep one for rollback,
swap atomically.

A new version is written beside the installed list under a temporary name (fsynced), checked there — its
signature must verify against the publisher key *pinned* for that list (``NAME.pub`` beside ``NAME.libra``,
or a key the host gives or configures; never the key the new file carries), and its signed creation time
must not be older than the installed one's — and only then renamed over the installed list. The installed
version is first hard-linked to ``NAME.libra.previous``, so ``rollback`` can put it back.

Scans that already loaded the list keep it: a scan holds the list in memory once loaded, and the loader
reads from one open file from the signature check to the decryption (``load.py``), so a rename during a
load still hands it the old version whole — on POSIX an open file keeps its inode after a rename.

>>> keys = pinned_key_files("/etc/libra/lists/ncmec.libra", given=[], configured=[])    # doctest: +SKIP
>>> update_list("/etc/libra/lists/ncmec.libra", "https://hotline.example/ncmec.libra",
...             publisher_keys=load_publisher_keys(keys))                                # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import HashListError, LibraError, SignatureError
from ..textsafe import printable
from . import container
from .fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, fetch_to, is_url, shown_url
from .keys import Identity
from .load import load_hashlist
from .locate import LIST_SUFFIX

PREVIOUS_SUFFIX = ".previous"


class DowngradeError(HashListError):
    """A new version that is older than (or as old as) the installed one."""


def previous_path(target: str) -> str:
    """Where the version replaced by the last update is kept: ``NAME.libra.previous``."""
    return target + PREVIOUS_SUFFIX


def pinned_key_path(target: str) -> str:
    """The publisher key pinned beside a list: ``/etc/libra/lists/ncmec.libra`` -> ``/etc/libra/lists/ncmec.pub``."""
    stem = target[: -len(LIST_SUFFIX)] if target.endswith(LIST_SUFFIX) else target
    return stem + ".pub"


def pinned_key_files(target: str, given: Sequence[str], configured: Sequence[str]) -> list[str]:
    """The publisher key files a new version of ``target`` must verify against, first match wins:
    keys given on the command line, ``NAME.pub`` beside the list, the config's ``publisher_keys``.

    Never the key inside the new file: that proves only that the file is intact, not who made it.
    """
    if given:
        return list(given)
    beside = pinned_key_path(target)
    if os.path.isfile(beside):
        return [beside]
    if configured:
        return list(configured)
    raise SignatureError(
        f"no publisher key is pinned for {container.list_name(target)}: put the publisher's public key at "
        f"{beside} or give --publisher-key"
    )


def resolve_target(name_or_path: str, configured_lists: Sequence[str]) -> str:
    """The installed list a ``hashlist update``/``rollback`` argument means.

    A path (anything with a ``/`` or ending in ``.libra``) is taken as is, so a first install names the path.
    A bare name (``ncmec``) is looked up among the config's ``lists``: a file ``ncmec.libra``, or
    ``ncmec.libra`` inside a listed folder.
    """
    if os.sep in name_or_path or name_or_path.endswith(LIST_SUFFIX):
        return name_or_path
    wanted = name_or_path + LIST_SUFFIX
    folders = [p for p in configured_lists if os.path.isdir(p)]
    for path in [p for p in configured_lists if not os.path.isdir(p)]:
        if os.path.basename(path) == wanted:
            return path
    for folder in folders:
        candidate = os.path.join(folder, wanted)
        if os.path.exists(candidate) or len(folders) == 1:
            return candidate
    raise HashListError(
        f"no list named {name_or_path!r} among the configured lists; give its path (e.g. /etc/libra/lists/{wanted})"
    )


@dataclass(frozen=True)
class UpdateResult:
    """What ``update_list`` did. ``status`` is ``installed`` (first version), ``updated`` or ``unchanged``."""

    path: str
    status: str
    created: str | None
    replaced_created: str | None
    signer: str
    sha256: str
    expires: str | None
    decrypt_checked: bool


@dataclass(frozen=True)
class RollbackResult:
    """What ``rollback_list`` did: the version now installed, and the one moved to ``NAME.libra.previous``."""

    path: str
    created: str | None
    replaced_created: str | None


def _fsync_dir(directory: str) -> None:
    """Make a rename durable: a crash right after must not bring the old name back."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory; the rename itself is still atomic
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(directory: str, name: str) -> Iterator[None]:
    """One update or rollback at a time per folder (an advisory lock on the folder itself: no lock file)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HashListError(
                f"another update or rollback of a list in {directory} is running; {name} was not changed"
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _temp_name(directory: str, base: str, kind: str) -> str:
    return os.path.join(directory, f".{base}.{secrets.token_hex(4)}.{kind}")


def _keep(existing: str, keep_as: str, directory: str, base: str) -> None:
    """Atomically make ``keep_as`` a copy of ``existing`` (a hard link where the filesystem has them)."""
    temp = _temp_name(directory, base, "keep")
    try:
        try:
            os.link(existing, temp)
        except OSError:  # no hard links here (some network or FUSE filesystems): copy, then sync
            shutil.copyfile(existing, temp)
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(temp, keep_as)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _folder(target: str) -> str:
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise HashListError(f"hashlist {target}: its folder {directory} does not exist")
    return directory


def _installed(target: str) -> container.Container | None:
    """The installed version's parsed header, or ``None`` when there is none (or it is too damaged to read)."""
    if not os.path.exists(target):
        return None
    try:
        return container.read(target)
    except HashListError:
        return None  # a damaged installed list must not block its repair; nothing in it can be compared


def _check_not_older(new: container.Container, old: container.Container, base: str) -> None:
    new_time = container.parse_time(new.created)
    old_time = container.parse_time(old.created)
    if old_time is None:
        return  # an installed version without a creation time cannot be compared (lists made by libra carry one)
    if new_time is None:
        raise DowngradeError(
            f"hashlist {base} (new version): carries no creation time, so it cannot be checked against a downgrade"
        )
    if new_time < old_time:
        raise DowngradeError(
            f"hashlist {base} (new version): was created {new.created}, before the installed version "
            f"({old.created}); refusing a downgrade (use 'libra hashlist rollback' to go back on purpose)"
        )
    if new_time == old_time:
        raise DowngradeError(
            f"hashlist {base} (new version): has the installed version's creation time ({old.created}) but "
            "different contents; refusing it"
        )


def _check_not_expired(new: container.Container, display: str, now: datetime | None) -> None:
    moment = container.parse_time(new.expires) if new.expires else None
    if moment is not None and moment <= (now or datetime.now(timezone.utc)):
        raise HashListError(
            f"hashlist {display}: expired on {new.expires}, so it would be stale once installed; refusing it "
            "(ask the publisher for a current version, or give --force to install it anyway)"
        )


def _check_same_name(
    name: str, target: str, identities: Sequence[Identity], passphrase: str | None, display: str
) -> None:
    """Refuse a new version whose list name is not the installed version's (when the installed one can be read)."""
    try:
        installed = load_hashlist(target, identities=identities, passphrase=passphrase).info.name
    except LibraError:
        return  # an installed list this host cannot read (or a damaged one) has no name to compare
    if installed != name:
        raise HashListError(
            f"hashlist {display}: is the list {printable(name)!r}, but {container.list_name(target)} holds the list "
            f"{printable(installed)!r}; refusing to replace one list with another (give --force if that is meant)"
        )


def update_list(
    target: str,
    source: str,
    *,
    publisher_keys: Sequence[Ed25519PublicKey],
    identities: Sequence[Identity] = (),
    passphrase: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    cafile: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> UpdateResult:
    """Install the list at ``source`` (a file or an ``https://`` URL) as ``target`` if it verifies against
    ``publisher_keys`` and is not older than the installed version; keep the installed one for rollback.

    A new version past its expiry date (at ``now``) is refused: it would be stale the moment it is installed.
    With ``identities`` or ``passphrase`` the new version is also decrypted (in memory) before it is
    installed, so a list this host cannot read never replaces one it can, and a list with another name than
    the installed one's (another publisher's list, fetched from the wrong address) never replaces it. The
    name is inside the encrypted contents, so without a key it cannot be compared. ``force`` installs an
    expired or differently named list anyway (never one with a bad signature, nor a downgrade). On any
    failure ``target`` and its ``.previous`` are untouched and the temporary file is gone.
    """
    if not publisher_keys:
        raise SignatureError(f"no publisher key is pinned for {container.list_name(target)}; refusing to update it")
    base = container.list_name(target)
    display = f"{base} (new version)"
    directory = _folder(target)
    temp = _temp_name(directory, base, "part")
    try:
        with _locked(directory, base):
            with open(temp, "xb") as out:
                fetch_to(source, out, timeout=timeout, max_bytes=max_bytes, cafile=cafile)
                out.flush()
                os.fsync(out.fileno())
            if container.sniff(temp) != "libra":
                raise SignatureError(f"hashlist {display}: is a plain age file, which carries no publisher signature")
            new = container.read(temp, display=display)
            signer = container.verify(new, publisher_keys) or ""
            old = _installed(target)
            if old is not None and old.sha256 == new.sha256:
                return UpdateResult(
                    target, "unchanged", new.created, old.created, signer, new.sha256, new.expires, False
                )
            if old is not None:
                _check_not_older(new, old, base)
            if not force:
                _check_not_expired(new, display, now)
            checked = bool(identities or passphrase)
            if checked:
                loaded = load_hashlist(
                    temp, identities=identities, passphrase=passphrase, publisher_keys=publisher_keys, display=display
                )
                if old is not None and not force:
                    _check_same_name(loaded.info.name, target, identities, passphrase, display)
                del loaded
            existed = os.path.exists(target)
            if existed:
                with contextlib.suppress(OSError):
                    info = os.stat(target)
                    os.chmod(temp, info.st_mode & 0o7777)
                    if os.geteuid() == 0:
                        os.chown(temp, info.st_uid, info.st_gid)
                _keep(target, previous_path(target), directory, base)
            os.replace(temp, target)
            _fsync_dir(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    status = "updated" if existed else "installed"
    replaced = old.created if old is not None else None
    return UpdateResult(target, status, new.created, replaced, signer, new.sha256, new.expires, checked)


def rollback_list(target: str) -> RollbackResult:
    """Swap ``target`` and ``target.previous`` atomically (run again to undo). The swap is two renames and a
    link, each atomic: a scan starting at any moment opens one complete version or the other."""
    base = container.list_name(target)
    previous = previous_path(target)
    if not os.path.isfile(previous):
        raise HashListError(f"hashlist {base}: has no previous version to roll back to ({previous} does not exist)")
    directory = _folder(target)
    with _locked(directory, base):
        restored = container.read(previous, display=f"{base}{PREVIOUS_SUFFIX}")
        current = _installed(target)
        if os.path.exists(target):
            hold = _temp_name(directory, base, "keep")
            try:
                _keep(target, hold, directory, base)
                os.replace(previous, target)
                os.replace(hold, previous)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(hold)
        else:
            os.replace(previous, target)
        _fsync_dir(directory)
    return RollbackResult(target, restored.created, current.created if current is not None else None)


__all__ = [
    "PREVIOUS_SUFFIX",
    "DowngradeError",
    "RollbackResult",
    "UpdateResult",
    "is_url",
    "pinned_key_files",
    "pinned_key_path",
    "previous_path",
    "resolve_target",
    "rollback_list",
    "shown_url",
    "update_list",
]
