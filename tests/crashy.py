"""A worker task for tests: dies like a crashing decoder on files whose name contains ``crash``.

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
