"""Worker tasks for tests: one dies like a crashing decoder, one looks for decrypted lists in its process.

Top-level in an importable module, because worker processes receive tasks pickled by name.
"""

from __future__ import annotations

import os

from libra_cli.models import HashConfig, HashResult, MediaRef


def crash_batch(refs: tuple[MediaRef, ...], config: HashConfig) -> list[HashResult]:
    for ref in refs:
        if "crash" in os.path.basename(ref.uri):
            os._exit(3)  # what a segfaulting decoder looks like from the pool
    return [HashResult(ref=ref, media_type=None, digests={"md5": "0" * 32}) for ref in refs]


def count_hashlists(refs: tuple[MediaRef, ...], config: HashConfig) -> list[HashResult]:
    """Report how many ``HashList`` objects live in this process (the decrypted lists must not)."""
    import gc

    from libra_cli.hashlist.table import HashList

    count = sum(isinstance(obj, HashList) for obj in gc.get_objects())
    return [HashResult(ref=ref, media_type=None, digests={"hashlists": str(count)}) for ref in refs]


def hang_batch(refs: tuple[MediaRef, ...], config: HashConfig) -> list[HashResult]:
    """Hangs forever, like a decoder in an endless loop, on files whose name contains ``hang``."""
    import time

    for ref in refs:
        if "hang" in os.path.basename(ref.uri):
            while True:
                time.sleep(1)
    return [HashResult(ref=ref, media_type=None, digests={"md5": "0" * 32}) for ref in refs]
