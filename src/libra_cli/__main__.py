"""``python -m libra_cli`` runs the ``libra`` command."""

from __future__ import annotations

from .entry import main

if __name__ == "__main__":
    main()
