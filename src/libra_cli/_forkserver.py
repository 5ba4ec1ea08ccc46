"""Imported once, by the multiprocessing forkserver only (``set_forkserver_preload``): tie its life to
the main process. An import side effect on purpose: it is the one hook into the forkserver's start."""

from __future__ import annotations

from .lifeline import die_with_parent

die_with_parent()
