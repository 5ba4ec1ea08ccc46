"""libra: find known child-sexual-abuse material on your own storage by hash, without copying or viewing it.

The library is usable without the CLI: walk storage, hash in workers, match against decrypted lists,
write findings. The CLI (``libra_cli.cli``) is a thin layer over it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
