"""``libra hashlist``: build, inspect, verify, merge and diff encrypted, signed hash lists (like ClamAV's sigtool)."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyrage.x25519 import Recipient

from .. import signals
from ..errors import ConfigError, SignatureError
from ..hashlist import (
    BuildReport,
    HashList,
    build_hashlist,
    container,
    diff_hashlists,
    fingerprint,
    generate_signing_key,
    inspect,
    load_hashlist,
    load_publisher_keys,
    load_recipients,
    load_signing_key,
    merge_hashlists,
    passphrase_from_env,
    resolve_identities,
    write_hashlist,
)
from ..hashlist.build import check_encryption
from ..hashlist.importers.libra_csv import COLUMNS
from ..models import Entry
from .common import guarded, printable, say

app = typer.Typer(
    rich_markup_mode="markdown",
    help=(
        "Build, inspect and verify encrypted, signed hash lists.\n\n"
        "A publisher builds a list from its sources, encrypted to each host's age recipient and signed with "
        "its Ed25519 key; a host checks and reads it with its identity and the publisher's public key. "
        "Keys and passphrases are read from files or environment variables, never from the command line."
    ),
    no_args_is_help=True,
)

_IDENTITY_HELP = "age identity file that decrypts the list (default: $LIBRA_IDENTITY). Repeatable."
_PASS_HELP = "Name of an environment variable holding the list passphrase (never the passphrase itself)."
_PUB_HELP = "Require a signature by this publisher public key (*.pub). Repeatable: any one may match."


def _say(text: str) -> None:
    """A line for people, on stderr: no rich markup (values may hold brackets), no hard wrapping."""
    say(text)


def _load(path: str, identity: list[str], passphrase_env: str | None, publisher_key: list[str]) -> HashList:
    return load_hashlist(
        path,
        identities=resolve_identities(identity),
        passphrase=passphrase_from_env(passphrase_env),
        publisher_keys=load_publisher_keys(publisher_key),
    )


def _stem(path: str) -> str:
    name = os.path.basename(path)
    return name[: -len(".libra")] if name.endswith(".libra") else os.path.splitext(name)[0]


def _counts_line(hashlist: HashList) -> str:
    parts = [f"{t} {len(c)}" for t, c in hashlist.columns.items()]
    return ", ".join(parts) or "none"


def _report_build(report: BuildReport) -> None:
    imports = report.imports
    for origin, fmt in imports.formats.items():
        _say(f"libra: read {origin} as {fmt}: {imports.entries.get(origin, 0)} entries")
    if imports.invalid:
        _say(f"libra: skipped {imports.invalid} invalid lines (--skip-invalid):")
        for message in imports.messages:
            _say(f"  {message}")
        if imports.invalid > len(imports.messages):
            _say(f"  … and {imports.invalid - len(imports.messages)} more")
    if report.duplicates:
        _say(f"libra: merged {report.duplicates} duplicate entries")
    if report.allow_conflicts:
        _say(f"libra: {report.allow_conflicts} duplicates disagreed on allow; they block (allow=0)")


@dataclass(frozen=True)
class _OutputKeys:
    """How the output list is encrypted and signed, checked before any source is read."""

    recipients: list[Recipient]
    passphrase: str | None
    sign_key: Ed25519PrivateKey | None


def _output_keys(
    recipient: list[str], recipients_file: list[str], passphrase_env: str | None, sign_key: str | None
) -> _OutputKeys:
    """Load and check the output's keys first: a wrong option should not wait for a large import."""
    recipients = load_recipients(recipient, recipients_file)
    passphrase = passphrase_from_env(passphrase_env)
    check_encryption(recipients, passphrase)
    return _OutputKeys(recipients, passphrase, load_signing_key(sign_key) if sign_key else None)


def _write(hashlist: HashList, output: str, keys: _OutputKeys) -> None:
    recipients, key = keys.recipients, keys.sign_key
    digest = write_hashlist(hashlist, output, recipients=recipients, passphrase=keys.passphrase, sign_key=key)
    how = f"{len(recipients)} recipient(s)" if recipients else "a passphrase"
    signed = f"signed by {fingerprint(key.public_key())}" if key else "UNSIGNED (hosts cannot verify who published it)"
    _say(f"libra: wrote {output}: {len(hashlist)} entries ({_counts_line(hashlist)}), encrypted to {how}, {signed}")
    unsupported = sorted(t for t in hashlist.columns if signals.get(t).kind == "unsupported")
    if unsupported:
        _say(f"libra: kept {', '.join(unsupported)} entries, which libra cannot compute (unsupported type)")
    typer.echo(f"{digest}  {output}")


@app.command("keygen")
@guarded
def keygen(
    output: str = typer.Option(
        ..., "-o", "--output", metavar="FILE", help="Private key file to write (public key: OUTPUT.pub)."
    ),
) -> None:
    """Make a publisher's Ed25519 signing key pair: SIGNING_KEY (secret, 0600) and SIGNING_KEY.pub.

    Publish the .pub file (hosts pass it as --publisher-key); keep the private key offline if you can.
    libra never overwrites an existing key.

    Example:

        libra hashlist keygen -o hotline-signing.key
    """
    pub_path, fp = generate_signing_key(output)
    typer.echo(fp)
    _say(f"libra: wrote {output} (mode 0600) and {pub_path}; key fingerprint {fp}")


@app.command("build")
@guarded
def build(
    sources: list[str] = typer.Argument(
        ...,
        metavar="SOURCE",
        help="Source files: libra CSV, *sum output, hashdeep, ClamAV, "
        "threatexchange text or VICS JSON (detected by content).",
    ),
    output: str = typer.Option(
        ..., "-o", "--output", metavar="FILE", help="The list file to write (written atomically)."
    ),
    recipient: list[str] = typer.Option(
        [], "--recipient", "-r", metavar="AGE1…", help="A host's age recipient (age1…). Repeatable."
    ),
    recipients_file: list[str] = typer.Option(
        [],
        "--recipients-file",
        "-R",
        metavar="FILE",
        help="File of age recipients, one per line (# comments allowed). Repeatable.",
    ),
    passphrase_env: str | None = typer.Option(None, "--passphrase-env", metavar="VAR", help=_PASS_HELP),
    sign_key: str | None = typer.Option(
        None, "--sign-key", metavar="KEY", help="Publisher signing key (from 'libra hashlist keygen')."
    ),
    name: str | None = typer.Option(None, "--name", help="List name (default: output file name without .libra)."),
    publisher: str = typer.Option("", "--publisher", help="Who publishes the list, e.g. 'Example Hotline'."),
    description: str = typer.Option("", "--description", help="One line on what the list holds."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip and count bad lines instead of stopping at the first one."
    ),
) -> None:
    """Import sources, deduplicate, validate every value, encrypt with age, sign with Ed25519.

    Prints the SHA-256 of the written file on stdout (publish it beside the list).
    A bad line stops the build and names file, line and value, unless --skip-invalid.

    Examples:

        libra hashlist build ncmec.csv -o ncmec.libra -r age1… -R hosts.txt --sign-key hotline.key --name ncmec

        LIST_PASS=… libra hashlist build vics.json -o vics.libra --passphrase-env LIST_PASS
    """
    keys = _output_keys(recipient, recipients_file, passphrase_env, sign_key)
    hashlist, report = build_hashlist(
        sources, name=name or _stem(output), publisher=publisher, description=description, skip_invalid=skip_invalid
    )
    _report_build(report)
    _write(hashlist, output, keys)


def _entries_csv(entries: Iterable[Entry]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([*COLUMNS, "source"])
    for e in entries:
        row = [e.hash_type, e.value, e.id or "", e.label or "", e.category or "", int(e.allow), e.source or ""]
        writer.writerow(row)


def _signature_text(status: str, signer: str | None) -> str:
    if status == "verified":
        return f"verified (publisher key {signer})"
    if status == "unverified":
        return f"valid, by key {signer} (not checked: give --publisher-key to trust it)"
    return "unsigned"


@app.command("info")
@guarded
def info(
    path: str = typer.Argument(..., metavar="LIST", help="The list (*.libra or a plain age file)."),
    identity: list[str] = typer.Option([], "--identity", "-i", metavar="FILE", help=_IDENTITY_HELP),
    passphrase_env: str | None = typer.Option(None, "--passphrase-env", metavar="VAR", help=_PASS_HELP),
    publisher_key: list[str] = typer.Option([], "--publisher-key", metavar="PUB", help=_PUB_HELP),
    entries: bool = typer.Option(
        False, "--entries", help="Also print every entry as libra CSV on stdout (the summary moves to stderr)."
    ),
) -> None:
    """Show a list's name, publisher, creation time, signature status and entry counts per hash type and category.

    Never prints the hashes themselves unless --entries is given. Without a key it shows only the public
    header (format, signer, creation time).

    Examples:

        libra hashlist info ncmec.libra -i host.key --publisher-key ncmec.pub

        libra hashlist info ncmec.libra --entries > ncmec.csv      # export (needs LIBRA_IDENTITY)
    """
    out = _say if entries else typer.echo
    has_key = bool(identity or os.environ.get("LIBRA_IDENTITY") or passphrase_env)
    if not has_key:
        if entries:
            raise ConfigError("--entries needs a key: give --identity FILE (or set LIBRA_IDENTITY) or --passphrase-env")
        keys = load_publisher_keys(publisher_key)
        box = inspect(path, keys)
        if box is None:
            typer.echo(f"list:        {path}\nformat:      plain age file (no header, no signature)")
        else:
            status = "verified" if keys and box.signer else ("unverified" if box.signer else "unsigned")
            typer.echo(f"list:        {path}\nformat:      {box.header['format']}")
            typer.echo(f"created:     {printable(box.header.get('created'))}")
            typer.echo(f"signature:   {_signature_text(status, box.signer)}\nsha256:      {box.sha256}")
        _say(
            "libra: give --identity (or set LIBRA_IDENTITY), or --passphrase-env for a passphrase list, "
            "to see the name and entry counts."
        )
        return
    hashlist = _load(path, identity, passphrase_env, publisher_key)
    meta = hashlist.info
    out(f"list:        {path}")
    out(f"name:        {printable(meta.name)}")
    out(f"publisher:   {printable(meta.publisher)}")
    out(f"created:     {printable(meta.created)}")
    out(f"description: {printable(meta.description)}")
    out(f"format:      {meta.format_version or 'plain age file'}")
    out(f"signature:   {_signature_text(meta.signature_status, meta.signer)}")
    out(f"sha256:      {meta.sha256}")
    out(f"entries:     {len(hashlist)}")
    for (hash_type, category), count in sorted(hashlist.counts().items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        note = "  (unsupported: libra cannot compute it)" if signals.get(hash_type).kind == "unsupported" else ""
        out(f"  {hash_type:<9} category {printable(category or '-'):<12} {count}{note}")
    allowed = sum(int(c.allow.sum()) for c in hashlist.columns.values())
    if allowed:
        out(f"  allow-listed (known false positives): {allowed}")
    if entries:
        _entries_csv(hashlist.entries())


@app.command("verify")
@guarded
def verify(
    path: str = typer.Argument(..., metavar="LIST", help="The list (*.libra)."),
    publisher_key: list[str] = typer.Option(..., "--publisher-key", metavar="PUB", help=_PUB_HELP),
) -> None:
    """Check a list's publisher signature without decrypting it (no identity needed).

    Exit code 0 when the signature is valid and by one of the given keys; 2 with one sentence otherwise.

    Example:

        libra hashlist verify ncmec.libra --publisher-key ncmec.pub
    """
    keys = load_publisher_keys(publisher_key)
    if container.sniff(path) == "age":
        raise SignatureError(f"hashlist {container.list_name(path)}: is a plain age file, which carries no signature")
    box = container.read(path)
    signer = container.verify(box, keys)
    typer.echo(f"{path}: signature OK, by publisher key {signer} (sha256 {box.sha256})")


@app.command("merge")
@guarded
def merge(
    lists: list[str] = typer.Argument(..., metavar="LIST", help="Lists to merge (*.libra or plain age files)."),
    output: str = typer.Option(
        ..., "-o", "--output", metavar="FILE", help="The merged list to write (written atomically)."
    ),
    identity: list[str] = typer.Option([], "--identity", "-i", metavar="FILE", help=_IDENTITY_HELP),
    passphrase_env: str | None = typer.Option(
        None,
        "--passphrase-env",
        metavar="VAR",
        help=_PASS_HELP + " Decrypts the inputs; encrypts the output if no -r is given.",
    ),
    publisher_key: list[str] = typer.Option(
        [], "--publisher-key", metavar="PUB", help=_PUB_HELP + " Applies to every input."
    ),
    recipient: list[str] = typer.Option(
        [], "--recipient", "-r", metavar="AGE1…", help="age recipient of the output. Repeatable."
    ),
    recipients_file: list[str] = typer.Option(
        [], "--recipients-file", "-R", metavar="FILE", help="File of output recipients."
    ),
    sign_key: str | None = typer.Option(None, "--sign-key", metavar="KEY", help="Signing key for the merged list."),
    name: str | None = typer.Option(None, "--name", help="Name of the merged list (default: output file name)."),
    publisher: str = typer.Option("", "--publisher", help="Who publishes the merged list."),
    description: str = typer.Option("", "--description", help="One line on what the merged list holds."),
) -> None:
    """Merge lists into one, deduplicated; each entry keeps its source (the list it came from).

    Example:

        libra hashlist merge ncmec.libra iwf.libra -o all.libra -i host.key -r age1… --publisher-key ncmec.pub
    """
    out_passphrase = None if (recipient or recipients_file) else passphrase_env
    keys = _output_keys(recipient, recipients_file, out_passphrase, sign_key)
    loaded = [_load(path, identity, passphrase_env, publisher_key) for path in lists]
    merged, report = merge_hashlists(loaded, name=name or _stem(output), publisher=publisher, description=description)
    _report_build(report)
    _write(merged, output, keys)


@app.command("diff")
@guarded
def diff(
    old: str = typer.Argument(..., metavar="OLD", help="The older version of the list."),
    new: str = typer.Argument(..., metavar="NEW", help="The newer version of the list."),
    identity: list[str] = typer.Option([], "--identity", "-i", metavar="FILE", help=_IDENTITY_HELP),
    passphrase_env: str | None = typer.Option(None, "--passphrase-env", metavar="VAR", help=_PASS_HELP),
    publisher_key: list[str] = typer.Option([], "--publisher-key", metavar="PUB", help=_PUB_HELP),
    entries: bool = typer.Option(False, "--entries", help="Also print each added (+), removed (-), changed (~) entry."),
) -> None:
    """Show entries added, removed and changed (same hash, new metadata) between two versions of a list.

    Prints counts per hash type; hashes appear only with --entries.

    Example:

        libra hashlist diff ncmec-2024-05.libra ncmec-2024-06.libra -i host.key
    """
    before = _load(old, identity, passphrase_env, publisher_key)
    after = _load(new, identity, passphrase_env, publisher_key)
    result = diff_hashlists(before, after)
    typer.echo(f"added {len(result.added)}, removed {len(result.removed)}, changed {len(result.changed)}")
    for hash_type, counts in sorted(result.counts().items()):
        typer.echo(f"  {hash_type:<9} +{counts['added']} -{counts['removed']} ~{counts['changed']}")
    if entries:
        for e in result.added:
            typer.echo(f"+ {e.hash_type} {printable(e.value)} {printable(e.id or '')}".rstrip())
        for e in result.removed:
            typer.echo(f"- {e.hash_type} {printable(e.value)} {printable(e.id or '')}".rstrip())
        for _, e in result.changed:
            typer.echo(f"~ {e.hash_type} {printable(e.value)} {printable(e.id or '')}".rstrip())
