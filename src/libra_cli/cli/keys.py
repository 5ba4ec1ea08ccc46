"""``libra keygen``: make the age identity a host uses to receive encrypted hash lists."""

from __future__ import annotations

import typer

from ..hashlist.keys import generate_identity
from .common import guarded, say


@guarded
def keygen(
    output: str = typer.Option(
        ..., "-o", "--output", metavar="FILE", help="Where to write the new age identity (mode 0600)."
    ),
) -> None:
    """Make an age identity for receiving hash lists, and print its public recipient (age1…) on stdout.

    Send the recipient to each hotline or publisher whose list you receive; they encrypt the list to it.
    Keep the identity file secret: it decrypts your lists. libra never overwrites an existing key.
    The file is in age-keygen format, so the stock age tool reads it too.

    Example:

        libra keygen -o /etc/libra/host.key

        export LIBRA_IDENTITY=/etc/libra/host.key
    """
    recipient = generate_identity(output)
    typer.echo(recipient)
    say(f"libra: wrote identity {output} (mode 0600); give publishers the recipient above.")
