"""The ``libra`` console script: a Ctrl-C while the program is still importing is one line, not a traceback.

Importing the CLI (numpy, the matcher, the storage backends) takes a few tenths of a second; a SIGINT in
that time would otherwise end in a ``KeyboardInterrupt`` traceback before ``cli.app.main`` could catch it.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli.app import main as run
    except KeyboardInterrupt:
        sys.stderr.write("libra: interrupted.\n")
        sys.exit(2)
    run()
