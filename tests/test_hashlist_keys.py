"""Key files: made private, never overwritten, read with errors that name the file and never the key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from libra_cli.errors import KeyFileError
from libra_cli.hashlist import (
    generate_identity,
    generate_signing_key,
    load_identities,
    load_publisher_keys,
    load_recipients,
    load_signing_key,
    passphrase_from_env,
    resolve_identities,
)


def test_identity_is_private_in_age_keygen_format_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "host.key"
    recipient = generate_identity(str(path))
    assert recipient.startswith("age1")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert lines[1] == f"# public key: {recipient}" and lines[2].startswith("AGE-SECRET-KEY-1")
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        generate_identity(str(path))
    assert path.read_bytes() == before
    assert len(load_identities([str(path)])) == 1


def test_signing_key_pair(tmp_path: Path) -> None:
    path = tmp_path / "pub.key"
    pub_path, fp = generate_signing_key(str(path))
    assert pub_path == str(path) + ".pub" and len(fp) == 16
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = load_signing_key(str(path))
    (public,) = load_publisher_keys([pub_path])
    public.verify(key.sign(b"m"), b"m")
    with pytest.raises(KeyFileError, match="already exists"):
        generate_signing_key(str(path))


def test_ssh_ed25519_public_key_is_accepted(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "pub.key"
    generate_signing_key(str(path))
    ssh = load_signing_key(str(path)).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    (tmp_path / "id.pub").write_bytes(ssh + b" hotline@example\n")
    assert len(load_publisher_keys([str(tmp_path / "id.pub")])) == 1


def test_bad_key_files_name_the_file_not_the_content(tmp_path: Path) -> None:
    secret = "AGE-SECRET-KEY-1NOTAREALKEYNOTAREALKEY"
    bad = tmp_path / "bad.key"
    bad.write_text(f"# comment\n{secret}\n")
    with pytest.raises(KeyFileError) as err:
        load_identities([str(bad)])
    assert str(err.value) == f"identity file {bad}: key 1 is not a valid age identity (AGE-SECRET-KEY-1…)"
    assert secret not in str(err.value)
    empty = tmp_path / "empty.key"
    empty.write_text("# nothing\n")
    with pytest.raises(KeyFileError, match="contains no AGE-SECRET-KEY-1 line"):
        load_identities([str(empty)])
    with pytest.raises(KeyFileError, match="no such file"):
        load_identities([str(tmp_path / "missing")])
    with pytest.raises(KeyFileError, match="is not a PEM or ssh-ed25519 public key"):
        load_publisher_keys([str(bad)])
    with pytest.raises(KeyFileError, match="is not a PEM or OpenSSH private key"):
        load_signing_key(str(bad))
    with pytest.raises(KeyFileError, match="'age1nope' is not an age recipient"):
        load_recipients(["age1nope"])
    with pytest.raises(KeyFileError, match="is a secret identity, not a recipient") as err:
        load_recipients([secret])
    assert secret not in str(err.value)


def test_recipients_file_with_comments(tmp_path: Path) -> None:
    recipients = [generate_identity(str(tmp_path / f"{i}.key")) for i in range(2)]
    listing = tmp_path / "hosts.txt"
    listing.write_text(f"# host A\n{recipients[0]}\n\n# host B\n{recipients[1]}\n")
    assert len(load_recipients([], [str(listing)])) == 2


def test_identity_falls_back_to_libra_identity_env(tmp_path: Path) -> None:
    path = tmp_path / "host.key"
    generate_identity(str(path))
    assert len(resolve_identities([], env={"LIBRA_IDENTITY": str(path)})) == 1
    assert resolve_identities([], env={}) == []


def test_passphrase_comes_from_a_named_env_var_only() -> None:
    assert passphrase_from_env("LIST_PASS", env={"LIST_PASS": "s3cret"}) == "s3cret"
    assert passphrase_from_env(None, env={}) is None
    with pytest.raises(KeyFileError) as err:
        passphrase_from_env("LIST_PASS", env={})
    assert str(err.value) == "environment variable LIST_PASS (from --passphrase-env) is not set or empty"
