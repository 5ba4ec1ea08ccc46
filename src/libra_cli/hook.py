"""``--on-match CMD``: run a command of the operator's own after a run that found something.

The hook runs once, after the findings file is complete (written, synced and in place), and only
when at least one file matched. It gets the findings file's path — never media, never a matched
file's content — as its last argument and in ``LIBRA_FINDINGS``, with the counts in the environment:

| variable | value |
|---|---|
| ``LIBRA_FINDINGS`` | the findings file's absolute path (empty when findings went to stdout) |
| ``LIBRA_MATCHED`` | files that matched |
| ``LIBRA_FILES`` | files hashed |
| ``LIBRA_ERRORS`` | files or places with an error |
| ``LIBRA_COMPLETE`` | ``1`` when every file was covered, else ``0`` |
| ``LIBRA_EXIT_CODE`` | the exit code the scan will end with: ``1``, or ``2`` (interrupted or stopped, below) |

A run stopped by SIGINT/SIGTERM (or whose cluster was lost) after it found something still runs the hook,
with the findings so far: ``LIBRA_EXIT_CODE`` is then ``2`` and ``LIBRA_COMPLETE`` ``0``.

``CMD`` is split into words as a shell would (quotes group words) but is not run by a shell, so a
scanned file name can never become part of a command. Its output goes to libra's stderr, its input is
empty, and it is given ``HOOK_TIMEOUT`` seconds. A hook that fails, cannot start or runs out of time
is logged at ``error`` level; it never changes the scan's exit code (the match already set it).
The environment variable named by ``--passphrase-env`` is removed from the hook's environment.

>>> run_on_match("/usr/local/sbin/libra-alert", "/var/lib/libra/findings.json", report)  # doctest: +SKIP
0
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping

from .errors import ConfigError
from .report import Report
from .textsafe import log_value

log = logging.getLogger("libra.hook")

#: Seconds a hook may run before it is stopped (an alert that hangs must not hold the scan forever).
HOOK_TIMEOUT = 300.0


def hook_argv(command: str) -> list[str]:
    """``command`` as an argument vector; a command that cannot be split is a setting error.

    >>> hook_argv("/usr/local/sbin/alert --to 'trust and safety'")
    ['/usr/local/sbin/alert', '--to', 'trust and safety']
    """
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise ConfigError(f"--on-match {command!r} cannot be split into words ({err})") from None
    if not argv:
        raise ConfigError("--on-match needs a command")
    return argv


def check_hook(command: str) -> list[str]:
    """``hook_argv(command)``, its program found now (a path that is an executable file, or a name on
    ``PATH``): a hook that cannot start is refused before the scan, not noticed after hours of it."""
    argv = hook_argv(command)
    program = argv[0]
    if shutil.which(program) is None:
        why = "is not an executable file" if os.sep in program else "is not a command on PATH (give its full path)"
        raise ConfigError(f"--on-match: {program!r} {why}")
    return argv


def hook_env(
    findings: str | None, report: Report, hide: Iterable[str] = (), base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The hook's environment: libra's own, minus secrets, plus the findings path and counts."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in set(hide)}
    env.update(
        LIBRA_FINDINGS=findings or "",
        LIBRA_MATCHED=str(report.matched),
        LIBRA_FILES=str(report.files),
        LIBRA_ERRORS=str(report.errors),
        LIBRA_COMPLETE="1" if report.complete else "0",
        LIBRA_EXIT_CODE=str(int(report.exit_code)),
    )
    return env


def run_on_match(
    command: str,
    findings: str | None,
    report: Report,
    *,
    hide: Iterable[str] = (),
    timeout: float = HOOK_TIMEOUT,
) -> int | None:
    """Run the hook if ``report`` has a match; its exit status, or ``None`` if it did not run to the end."""
    if not report.matched:
        return None
    path = os.path.abspath(findings) if findings not in (None, "-") else None
    argv = [*hook_argv(command), *([path] if path else [])]
    try:
        done = subprocess.run(
            argv,
            env=hook_env(path, report, hide),
            stdin=subprocess.DEVNULL,
            stdout=2,  # people read the hook's output with libra's: never on stdout, which carries data
            stderr=2,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.error("on-match hook stopped after %gs command=%s", timeout, log_value(command))
        return None
    except OSError as err:
        log.error("on-match hook could not start command=%s reason=%s", log_value(command), log_value(err.strerror))
        return None
    if done.returncode != 0:
        log.error("on-match hook failed command=%s exit=%d", log_value(command), done.returncode)
    else:
        log.info("on-match hook ran command=%s", log_value(command))
    return done.returncode
