"""The config file: defaults for ``libra scan`` that a sysadmin sets once (YAML).

Looked up in this order: ``--config FILE``, ``$LIBRA_CONFIG``, ``~/.config/libra/config.yaml``,
``/etc/libra/config.yaml``. Command-line options always win over the file. Keys are the long
option names with ``_`` for ``-`` (see ``docs/config.md``); an unknown key is an error, so a typo
never silently does nothing. Keys and passphrases never go in the file: only paths to them.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .textsafe import log_value

#: Key -> accepted Python types.
SCHEMA: Mapping[str, tuple[type, ...]] = {
    "lists": (list, str),  # one path may be given as a plain string
    "identity": (list, str),
    "publisher_keys": (list,),
    "passphrase_env": (str,),
    "format": (str,),
    "output": (str,),
    "workers": (int,),
    "file_timeout": (int, float),
    "exclude": (list,),
    "max_file_size": (str, int),
    "one_file_system": (bool,),
    "follow_symlinks": (bool,),
    "pdq_threshold": (int,),
    "thresholds": (dict,),
    "min_quality": (int,),
    "dihedral": (bool,),
    "quiet": (bool,),
    "log_level": (str,),
    "log_file": (str,),
    "engine": (str,),
    "scheduler": (str,),
    "hash_set": (str, list),
    "endpoint_url": (str,),
    "region": (str,),
    "profile": (str,),
    "path_style": (bool,),
    "all_versions": (bool,),
    "since": (str, int, float),
    "video_fps": (int, float),
    "match_threads": (int,),
    "max_frames": (int,),
    "files_from": (str,),
    "only_matches": (bool,),
    "nice": (bool,),
    "max_rate": (int, float, str, list),
    "on_match": (str,),
    "state": (str,),
    "tls_ca_file": (str,),
    "tls_cert": (str,),
    "tls_key": (str,),
    "archives": (bool,),
    "archive_max_depth": (int,),
    "archive_max_members": (int,),
    "archive_max_size": (str, int),
    "archive_max_member_size": (str, int),
    "archive_max_ratio": (int,),
    "deep": (bool,),
    "suspected": (bool,),
    "group_by": (str, list),
    "account_pattern": (str, list),
    "batch_window": (int, float),
    "fail_on_suspected": (bool,),
    "suspected_min_score": (int, float),
    "context_max_files": (int,),
    "near_band": (str,),
    "keywords": (str, list),
    "resume": (bool,),
    "new_only": (bool,),
}


def default_paths() -> list[Path]:
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return [home / "libra" / "config.yaml", Path("/etc/libra/config.yaml")]


def find_config(explicit: str | None) -> Path | None:
    """The config file to use, or ``None``. An explicit or ``$LIBRA_CONFIG`` path must exist."""
    chosen = explicit or os.environ.get("LIBRA_CONFIG")
    if chosen:
        path = Path(chosen)
        if path.is_dir():
            raise ConfigError(f"config file {chosen!r} is a folder, not a file")
        if not path.is_file():
            raise ConfigError(f"config file {chosen!r} does not exist")
        return path
    return next((p for p in default_paths() if _present(p)), None)


def _present(path: Path) -> bool:
    """Whether a default config file is there. A folder on the way that cannot be searched (``HOME`` of
    another user) means none is used, said in the log, rather than stopping every command."""
    try:
        return path.is_file()
    except OSError as err:
        logging.getLogger("libra").warning(
            "config file not looked for path=%s reason=%s", log_value(str(path)), log_value(err.strerror or str(err))
        )
        return False


def _yaml_problem(err: Exception) -> str:
    """PyYAML's multi-line report as one clause: what is wrong, and where."""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(problem)


def load_config(explicit: str | None = None) -> dict[str, Any]:
    """Read and validate the config file; ``{}`` when there is none."""
    path = find_config(explicit)
    if path is None:
        return {}
    import yaml  # only when there is a file to read (most runs have none)

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {str(path)!r}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML ({_yaml_problem(err)})") from None
    except (ValueError, AttributeError, TypeError, RecursionError) as err:  # PyYAML's constructors raise these
        raise ConfigError(f"config file {str(path)!r} has a value YAML cannot read ({type(err).__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must be a mapping of option: value")
    scan = data.get("scan", data)
    if not isinstance(scan, dict):
        raise ConfigError(f"config file {str(path)!r}: 'scan' must be a mapping")
    if "scan" in data and len(data) > 1:
        others = ", ".join(repr(k) for k in data if k != "scan")
        raise ConfigError(f"config file {str(path)!r}: put {others} under 'scan:' too, or drop the 'scan:' level")
    for key, value in scan.items():
        if key not in SCHEMA:
            raise ConfigError(f"config file {str(path)!r}: unknown key {key!r}{_suggest(key)} (see docs/config.md)")
        if not isinstance(value, SCHEMA[key]) or (isinstance(value, bool) and bool not in SCHEMA[key]):
            kinds = " or ".join(t.__name__ for t in SCHEMA[key])
            raise ConfigError(f"config file {str(path)!r}: {key!r} must be of type {kinds}, not {value!r}")
    settings = dict(scan)
    if isinstance(settings.get("lists"), str):
        settings["lists"] = [settings["lists"]]
    if "lists" in settings and not all(isinstance(item, str) for item in settings["lists"]):
        raise ConfigError(f"config file {str(path)!r}: 'lists' must be a path or a list of paths")
    return settings


def _suggest(key: object) -> str:
    """``" (did you mean 'lists'?)"`` for a near miss of a known key, else ``""``."""
    close = difflib.get_close_matches(str(key), SCHEMA, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
