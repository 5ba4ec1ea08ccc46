"""The stock ``age`` tool and libra read each other's keys and files (real binary; skipped if absent)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from libra_cli.errors import KeyFileError, SignatureError
from libra_cli.hashlist import (
    generate_identity,
    generate_signing_key,
    load_hashlist,
    load_identities,
    load_publisher_keys,
)

SOURCES = Path(__file__).parent / "data" / "sources"
AGE = shutil.which("age")
pytestmark = pytest.mark.skipif(
    AGE is None, reason="the age binary is not installed (apt-get install age); interop cannot be checked"
)


def age(*args: str) -> None:
    assert AGE is not None
    subprocess.run([AGE, *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def host(tmp_path: Path) -> tuple[str, str]:
    key = str(tmp_path / "host.key")
    return key, generate_identity(key)


@pytest.mark.parametrize(
    ("source", "expected"),
    [("sample.csv", 5), ("sample-vics.json", 6), ("sample-threatexchange.txt", 3), ("sample.hashdeep", 4)],
)
def test_plain_source_encrypted_by_stock_age_loads(
    host: tuple[str, str], tmp_path: Path, source: str, expected: int
) -> None:
    key, recipient = host
    out = tmp_path / (source + ".age")
    age("-r", recipient, "-o", str(out), str(SOURCES / source))
    hashlist = load_hashlist(str(out), identities=load_identities([key]))
    assert len(hashlist) == expected
    assert hashlist.info.format_version == 0 and hashlist.info.signature_status == "unsigned"
    assert hashlist.info.name == source


def test_armored_age_file_loads(host: tuple[str, str], tmp_path: Path) -> None:
    key, recipient = host
    out = tmp_path / "list.age"
    age("-a", "-r", recipient, "-o", str(out), str(SOURCES / "sample.hdb"))
    assert out.read_bytes().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert len(load_hashlist(str(out), identities=load_identities([key]))) == 2


def test_libra_identity_works_with_age_and_age_keygen_identity_works_with_libra(
    host: tuple[str, str], tmp_path: Path
) -> None:
    key, recipient = host
    # libra's identity file decrypts with the stock tool
    age("-r", recipient, "-o", str(tmp_path / "x.age"), str(SOURCES / "sample.md5"))
    age("-d", "-i", key, "-o", str(tmp_path / "x.txt"), str(tmp_path / "x.age"))
    assert (tmp_path / "x.txt").read_bytes() == (SOURCES / "sample.md5").read_bytes()
    keygen = shutil.which("age-keygen")
    if keygen is None:
        pytest.skip("age-keygen is not installed")
    subprocess.run([keygen, "-o", str(tmp_path / "k.txt")], check=True, capture_output=True)
    assert len(load_identities([str(tmp_path / "k.txt")])) == 1


def test_plain_age_file_is_refused_when_a_signature_is_required(host: tuple[str, str], tmp_path: Path) -> None:
    key, recipient = host
    out = tmp_path / "unsigned.age"
    age("-r", recipient, "-o", str(out), str(SOURCES / "sample.csv"))
    generate_signing_key(str(tmp_path / "pub.key"))
    with pytest.raises(SignatureError, match="plain age file, which carries no publisher signature"):
        load_hashlist(
            str(out),
            identities=load_identities([key]),
            publisher_keys=load_publisher_keys([str(tmp_path / "pub.key.pub")]),
        )


def test_passphrase_age_file_armored_or_not_loads(tmp_path: Path) -> None:
    """What ``age -p`` writes (made here with pyrage, the same format: the binary insists on a terminal)."""
    import base64

    import pyrage

    binary = pyrage.passphrase.encrypt((SOURCES / "sample.hsb").read_bytes(), "correct horse")
    body = base64.b64encode(binary).decode()
    armored = "-----BEGIN AGE ENCRYPTED FILE-----\n"
    armored += "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    armored += "\n-----END AGE ENCRYPTED FILE-----\n"
    (tmp_path / "list.age").write_text(armored)
    assert len(load_hashlist(str(tmp_path / "list.age"), passphrase="correct horse")) == 2
    with pytest.raises(KeyFileError, match="is passphrase-encrypted; give --passphrase-env"):
        load_hashlist(str(tmp_path / "list.age"), identities=load_identities([generate_identity_at(tmp_path)]))


def generate_identity_at(root: Path) -> str:
    path = str(root / "some.key")
    generate_identity(path)
    return path
