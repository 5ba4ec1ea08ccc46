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
from ..config import load_config
from ..errors import ConfigError, KeyFileError, SignatureError
from ..hashlist import (
    BuildReport,
    HashList,
    build_hashlist,
    container,
    diff_hashlists,
    fingerprint,
    generate_signing_key,
    inspect,
    load_publisher_keys,
    load_recipients,
    load_signing_key,
    merge_hashlists,
    passphrase_from_env,
    resolve_identities,
    write_hashlist,
)
from ..hashlist.build import check_encryption
from ..hashlist.expiry import expired_lists, expiry_text, parse_expiry
from ..hashlist.fetch import DEFAULT_TIMEOUT, is_url, shown_url
from ..hashlist.importers.libra_csv import COLUMNS
from ..hashlist.table import ListInfo
from ..hashlist.update import (
    PREVIOUS_SUFFIX,
    pinned_key_files,
    resolve_target,
    rollback_list,
    update_list,
)
from ..models import Entry
from ..textsafe import count as plural
from .common import guarded, parse_size, printable, say

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
    """A list as ``info``, ``merge`` and ``diff`` read it: verified against its pinned ``NAME.pub`` when there is
    one (as a scan does), else against ``--publisher-key``."""
    from ..lists import load_verified

    return load_verified(
        path, resolve_identities(identity), passphrase_from_env(passphrase_env), load_publisher_keys(publisher_key)
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
        _say(f"libra: read {origin} as {fmt}: {plural(imports.entries.get(origin, 0), 'entry', 'entries')}")
    if imports.invalid:
        _say(f"libra: skipped {plural(imports.invalid, 'invalid line')} (--skip-invalid):")
        for message in imports.messages:
            _say(f"  {message}")
        if imports.invalid > len(imports.messages):
            _say(f"  … and {imports.invalid - len(imports.messages)} more")
    if report.duplicates:
        _say(f"libra: merged {plural(report.duplicates, 'duplicate entry', 'duplicate entries')}")
    if report.allow_conflicts:
        conflicts = report.allow_conflicts
        blocks = "it blocks" if conflicts == 1 else "they block"
        _say(f"libra: {plural(conflicts, 'duplicate')} disagreed on allow; {blocks} (allow=0)")


@dataclass(frozen=True)
class _OutputKeys:
    """How the output list is encrypted and signed, checked before any source is read."""

    recipients: list[Recipient]
    passphrase: str | None
    sign_key: Ed25519PrivateKey | None


#: The shortest passphrase a new list may be encrypted with: scrypt slows guessing, it cannot make a short
#: passphrase strong (reading an existing list never checks this: its publisher chose).
MIN_PASSPHRASE = 16


def _output_keys(
    recipient: list[str], recipients_file: list[str], passphrase_env: str | None, sign_key: str | None
) -> _OutputKeys:
    """Load and check the output's keys first: a wrong option should not wait for a large import."""
    recipients = load_recipients(recipient, recipients_file)
    passphrase = passphrase_from_env(passphrase_env)
    check_encryption(recipients, passphrase)
    if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
        raise KeyFileError(
            f"the passphrase in {passphrase_env} has {len(passphrase)} characters; a list's passphrase needs at "
            f"least {MIN_PASSPHRASE} (a long random phrase), or encrypt to --recipient keys instead"
        )
    return _OutputKeys(recipients, passphrase, load_signing_key(sign_key) if sign_key else None)


_FORCE_HELP = (
    "Replace OUTPUT if it exists (to install a new version of a list a host uses, see 'hashlist update'); "
    "also accept an --expires date already past."
)
_EXPIRES_HELP = (
    "Date (YYYY-MM-DD, midnight UTC) or ISO 8601 time from which hosts are warned that the list is stale. "
    "Stored in the signed header. A date already past is refused unless --force."
)


def _check_output(output: str, force: bool) -> None:
    """Refuse to replace an existing list by accident (a typo in -o must not destroy a list)."""
    if not force and os.path.isfile(output):
        raise ConfigError(f"{output} already exists; give --force to replace it")


def _expiry(expires: str | None, force: bool) -> str:
    """``--expires`` checked before any source is read. A date already past (an example pasted as it is, a
    typo in the year) would make a list stale on arrival: refused, or with ``--force`` built with a note."""
    if not expires:
        return ""
    value = parse_expiry(expires)
    if expired_lists([HashList(ListInfo("", expires=value), {})]):
        if not force:
            raise ConfigError(
                f"--expires {value} is already past, so hosts would be warned at once that this list is stale; "
                "give a future date (or --force to build it anyway)"
            )
        _say(f"libra: note: --expires {value} is already past; hosts will be warned that this list is stale")
    return value


def _write(hashlist: HashList, output: str, keys: _OutputKeys) -> None:
    recipients, key = keys.recipients, keys.sign_key
    digest = write_hashlist(hashlist, output, recipients=recipients, passphrase=keys.passphrase, sign_key=key)
    how = plural(len(recipients), "recipient") if recipients else "a passphrase"
    signed = f"signed by {fingerprint(key.public_key())}" if key else "UNSIGNED (hosts cannot verify who published it)"
    entries = plural(len(hashlist), "entry", "entries")
    _say(f"libra: wrote {output}: {entries} ({_counts_line(hashlist)}), encrypted to {how}, {signed}")
    if hashlist.info.expires:
        _say(f"libra: the list expires {expiry_text(hashlist.info)}")
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
    name: str | None = typer.Option(
        None, "--name", metavar="NAME", help="List name (default: output file name without .libra)."
    ),
    publisher: str = typer.Option(
        "", "--publisher", metavar="TEXT", help="Who publishes the list, e.g. 'Example Hotline'."
    ),
    description: str = typer.Option("", "--description", metavar="TEXT", help="One line on what the list holds."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip and count bad lines instead of stopping at the first one."
    ),
    expires: str | None = typer.Option(None, "--expires", metavar="DATE", help=_EXPIRES_HELP),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
    keywords: bool = typer.Option(
        False, "--keywords", help="SOURCE is keyword text (one keyword or phrase a line): write a keyword list."
    ),
) -> None:
    """Import sources, deduplicate, validate every value, encrypt with age, sign with Ed25519.

    Prints the SHA-256 of the written file on stdout (publish it beside the list).
    A bad line stops the build and names file, line and value, unless --skip-invalid.
    An existing OUTPUT is replaced only with --force.

    Examples:

        libra hashlist build ncmec.csv -o ncmec.libra -R hosts.txt \\
            --sign-key hotline.key --expires 2030-07-01

        LIST_PASS=… libra hashlist build vics.json -o vics.libra \\
            --passphrase-env LIST_PASS
    """
    _check_output(output, force)
    keys = _output_keys(recipient, recipients_file, passphrase_env, sign_key)
    if keywords:  # a keyword list (hashlist/keywords.py): same container and keys, its own payload kind
        if expires:
            raise ConfigError("--expires is for hash lists: a keyword list carries no expiry date")
        _write_keywords(sources, output, name or _stem(output), description, keys)
        return
    valid_until = _expiry(expires, force)
    hashlist, report = build_hashlist(
        sources,
        name=name or _stem(output),
        publisher=publisher,
        description=description,
        skip_invalid=skip_invalid,
        expires=valid_until,
    )
    _report_build(report)
    _write(hashlist, output, keys)


def _write_keywords(sources: list[str], output: str, name: str, description: str, keys: _OutputKeys) -> None:
    from ..hashlist.keywords import read_source, write_keywords

    words = list(dict.fromkeys(w for source in sources for w in read_source(source)))
    digest = write_keywords(
        output, name, words, recipients=keys.recipients, passphrase=keys.passphrase, sign_key=keys.sign_key,
        description=description,
    )  # fmt: skip
    how = plural(len(keys.recipients), "recipient") if keys.recipients else "a passphrase"
    key = keys.sign_key
    signed = f"signed by {fingerprint(key.public_key())}" if key else "UNSIGNED (hosts cannot verify who published it)"
    _say(f"libra: wrote keyword list {output}: {plural(len(words), 'keyword')}, encrypted to {how}, {signed}")
    typer.echo(f"{digest}  {output}")


def _entries_csv(entries: Iterable[Entry]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([*COLUMNS, "source"])
    for e in entries:
        row = [e.hash_type, e.value, e.id or "", e.label or "", e.category or "", int(e.allow), e.variant or ""]
        row += ["" if e.time is None else f"{e.time:.3f}", "" if e.quality is None else str(e.quality)]
        row.append(e.source or "")
        writer.writerow(row)


def _signature_text(status: str, signer: str | None) -> str:
    """Exactly what was checked: the file's integrity against the key it names, and whether that key is one
    the user gave (``--publisher-key``), which is what says who published it."""
    if status == "verified":
        return f"verified: signed by publisher key {signer}, one of the --publisher-key keys given"
    if status == "unverified":
        return (
            f"intact (matches its signature by key {signer}); who that key belongs to was not checked "
            "(give --publisher-key)"
        )
    return "none: the list is unsigned (neither its integrity nor its publisher can be checked)"


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
    """Show a list's name, publisher, creation and expiry dates, signature status and entry counts per hash type.

    Never prints the hashes themselves unless --entries is given. Without a key it shows only the public
    header (format, signer, creation time).

    Examples:

        libra hashlist info ncmec.libra -i host.key --publisher-key ncmec.pub

        libra hashlist info ncmec.libra --entries > ncmec.csv  # needs a key
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
            typer.echo(f"expires:     {expiry_text(ListInfo('', expires=box.expires or ''))}")
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
    if meta.publisher:
        out(f"publisher:   {printable(meta.publisher)}")
    if meta.created:
        out(f"created:     {printable(meta.created)}")
    if meta.format_version:
        out(f"expires:     {expiry_text(meta)}")
    if meta.description:
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
    name: str | None = typer.Option(
        None, "--name", metavar="NAME", help="Name of the merged list (default: output file name)."
    ),
    publisher: str = typer.Option("", "--publisher", metavar="TEXT", help="Who publishes the merged list."),
    description: str = typer.Option(
        "", "--description", metavar="TEXT", help="One line on what the merged list holds."
    ),
    expires: str | None = typer.Option(None, "--expires", metavar="DATE", help=_EXPIRES_HELP),
    force: bool = typer.Option(False, "--force", help=_FORCE_HELP),
) -> None:
    """Merge lists into one, deduplicated; each entry keeps its source (the list it came from).

    Example:

        libra hashlist merge ncmec.libra iwf.libra -o all.libra -i host.key \\
            -r age1… --publisher-key ncmec.pub

    The merged list is encrypted to the recipients given (-r, -R; without them, to the
    --passphrase-env passphrase) and signed with --sign-key.
    """
    _check_output(output, force)
    out_passphrase = None if (recipient or recipients_file) else passphrase_env
    keys = _output_keys(recipient, recipients_file, out_passphrase, sign_key)
    valid_until = _expiry(expires, force)
    loaded = [_load(path, identity, passphrase_env, publisher_key) for path in lists]
    merged, report = merge_hashlists(
        loaded, name=name or _stem(output), publisher=publisher, description=description, expires=valid_until
    )
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


def _configured(config_file: str | None) -> dict[str, object]:
    """The config file's scan settings (``{}`` without one): where lists, keys and identities are."""
    return load_config(config_file)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


@app.command("update")
@guarded
def update(
    target: str = typer.Argument(
        ..., metavar="NAME_OR_PATH", help="The installed list's path, or its name among the config's lists."
    ),
    source: str = typer.Option(
        ..., "--from", metavar="FILE|URL", help="The new version: a local file or an https:// URL."
    ),
    publisher_key: list[str] = typer.Option(
        [],
        "--publisher-key",
        metavar="PUB",
        help="Key the new version must be signed by (default: NAME.pub beside the list, then the config's "
        "publisher_keys). Repeatable.",
    ),
    identity: list[str] = typer.Option(
        [], "--identity", "-i", metavar="FILE", help="Also test-decrypt the new version before installing it."
    ),
    passphrase_env: str | None = typer.Option(None, "--passphrase-env", metavar="VAR", help=_PASS_HELP),
    ca_file: str | None = typer.Option(
        None, "--ca-file", metavar="PEM", help="CA certificates to trust for https (default: the system's)."
    ),
    timeout: float = typer.Option(DEFAULT_TIMEOUT, "--timeout", metavar="SECONDS", help="Network timeout."),
    max_size: str = typer.Option("4G", "--max-size", metavar="SIZE", help="Refuse a download larger than this."),
    config_file: str | None = typer.Option(
        None, "--config", metavar="FILE", help="Config file whose lists, publisher_keys and identity to use."
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print nothing unless something is wrong (for cron)."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Install a new version even if it has expired or (with --identity) names another list than the "
        "installed one. Never skips the signature or downgrade checks.",
    ),
) -> None:
    """Install a new version of a list: only if it is signed by the publisher key pinned for that list, is
    not older than the installed version, has not expired and (with --identity) is the same list by name.

    The new version is written beside the list, checked, and renamed into place (atomic: a scan starting at any
    moment reads one whole version; scans already running keep the version they loaded). The replaced version
    is kept as LIST.previous for 'libra hashlist rollback'. The pinned key is NAME.pub beside NAME.libra, or
    --publisher-key, or the config's publisher_keys; never the key inside the new file.

    Examples:

        libra hashlist update /etc/libra/lists/ncmec.libra \\
            --from https://hotline.example/lists/ncmec.libra

        libra hashlist update ncmec --from ./ncmec-2024-07.libra \\
            -i /etc/libra/host.key
    """
    config = _configured(config_file)
    path = resolve_target(target, _strings(config.get("lists")))
    key_files = pinned_key_files(path, publisher_key, _strings(config.get("publisher_keys")))
    keys = load_publisher_keys(key_files)
    identity_files = identity or _strings(config.get("identity"))
    env_name = passphrase_env or (str(config["passphrase_env"]) if config.get("passphrase_env") else None)
    result = update_list(
        path,
        source,
        publisher_keys=keys,
        identities=resolve_identities(identity_files),
        passphrase=passphrase_from_env(env_name),
        timeout=timeout,
        max_bytes=parse_size(max_size),
        cafile=ca_file,
        force=force,
    )
    where = shown_url(source) if is_url(source) else source
    signed = f"signed by publisher key {result.signer} ({', '.join(key_files)})"
    if result.status == "unchanged":
        message = f"{path}: already up to date (version created {result.created}, {where})"
    elif result.status == "installed":
        message = f"{path}: installed the version created {result.created}, {signed}"
    else:
        message = (
            f"{path}: updated to the version created {result.created} (was {result.replaced_created}), {signed}; "
            f"the replaced version is kept as {path}{PREVIOUS_SUFFIX}"
        )
    if not quiet:
        typer.echo(message)
        if not result.decrypt_checked and result.status != "unchanged":
            _say("libra: the new version was not test-decrypted (give --identity to check this host can read it "
                 "and that it is the same list)")
    info = ListInfo(container.list_name(path), path=path, expires=result.expires or "")
    for warning in expired_lists([HashList(info, {})]):
        _say(f"libra: warning: {warning}")


@app.command("rollback")
@guarded
def rollback(
    target: str = typer.Argument(
        ..., metavar="NAME_OR_PATH", help="The installed list's path, or its name among the config's lists."
    ),
    config_file: str | None = typer.Option(None, "--config", metavar="FILE", help="Config file naming the lists."),
) -> None:
    """Put back the version of a list that the last 'hashlist update' replaced (swapping the two).

    The swap is atomic; run rollback again to undo it. A scheduled update installs the newer version again
    unless the publisher withdraws it: pause the update timer first.

    Example:

        libra hashlist rollback /etc/libra/lists/ncmec.libra
    """
    path = resolve_target(target, _strings(_configured(config_file).get("lists")))
    result = rollback_list(path)
    replaced = f" (created {result.replaced_created})" if result.replaced_created else ""
    typer.echo(
        f"{path}: rolled back to the version created {result.created}; the replaced version{replaced} is kept "
        f"as {path}{PREVIOUS_SUFFIX} (run rollback again to undo)"
    )
