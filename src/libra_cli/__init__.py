"""libra: find known child-sexual-abuse material on your own storage by hash, without copying or viewing it.

The library is usable without the CLI (``docs/library.md``)::

    from libra_cli import ScanSettings, scan
    report = scan(ScanSettings.resolve({"targets": ["/srv/uploads"], "lists": ["ncmec.libra"],
                                        "identity": ["/etc/libra/host.key"], "output": "findings.json"}))

The names below are imported on first use, so ``import libra_cli`` stays light (worker processes and
the list tools do not pay for the scan stack).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ExitCode",
    "HashConfig",
    "LibraError",
    "Prepared",
    "Report",
    "ScanSettings",
    "Sink",
    "__version__",
    "hash_paths",
    "load_lists",
    "prepare",
    "run",
    "scan",
]

_LAZY = {
    "ExitCode": "errors",
    "LibraError": "errors",
    "HashConfig": "models",
    "Report": "report",
    "ScanSettings": "settings",
    "Sink": "sinks",
    "Prepared": "api",
    "hash_paths": "api",
    "load_lists": "api",
    "prepare": "api",
    "run": "api",
    "scan": "api",
}

if TYPE_CHECKING:
    from .api import Prepared, hash_paths, load_lists, prepare, run, scan
    from .errors import ExitCode, LibraError
    from .models import HashConfig
    from .report import Report
    from .settings import ScanSettings
    from .sinks import Sink


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'libra_cli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"libra_cli.{module}"), name)
    globals()[name] = value
    return value
