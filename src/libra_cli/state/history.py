"""History: the runs a state has seen, and how findings moved between two of them.

A finding is keyed by (location, list, entry id). Between run A and a later run B, a finding
*appeared* (in B, not in A, never before), *disappeared* (in A, not in B: taken down when the file is
gone, else it no longer matches) or *reappeared* (in B, not in A, but in a run before A: a known item
uploaded again after removal). Each comes with when it was first and last seen.

A finding's absence means something only in a *full observation*: a run that finished, was not
interrupted, covered every file it was asked to (no unreadable file, no stored hash set lacking a type)
and matched every entry of its lists (not ``rematch --only-new-entries``). A run that is not one (see
``partial``) says only what it found: a finding it did not report is *unchecked*, never disappeared, and
a finding absent from it is not called reappeared; and a list a run did not use says nothing about that
list's findings. ``previous`` and ``last`` name the last two full observations, so an interrupted run
can never read as a takedown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import StateError
from .store import StateStore, uri


@dataclass(frozen=True)
class Run:
    id: int
    command: str
    started: float
    finished: float | None
    complete: bool | None
    exit_code: int | None
    targets: list[str]
    lists: list[dict[str, Any]]
    hash_set: str
    counts: dict[str, Any]
    findings: int
    resumed_from: int | None = None  #: the interrupted run this one continued (``--resume``)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.id,
            "command": self.command,
            "started": iso(self.started),
            "finished": iso(self.finished),
            "duration": None if self.finished is None else round(self.finished - self.started, 3),
            "complete": self.complete,
            "exit_code": self.exit_code,
            "targets": self.targets,
            "lists": self.lists,
            "hash_set": self.hash_set.split(",") if self.hash_set else [],
            "counts": self.counts,
            "findings": self.findings,
            "resumed_from": self.resumed_from,
        }


def iso(when: float | None) -> str | None:
    if when is None:
        return None
    return datetime.fromtimestamp(when, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def runs(store: StateStore, limit: int | None = None) -> list[Run]:
    """The recorded runs, oldest first (the last ``limit`` of them)."""
    with store.guard("read the history"):
        rows = store.db.execute(
            "SELECT r.id, r.command, r.started, r.finished, r.complete, r.exit_code, r.targets, r.lists, r.hash_set, "
            "r.counts, (SELECT count(*) FROM findings f WHERE f.run = r.id AND f.allowed IS NULL), r.resumed_from "
            "FROM runs r ORDER BY r.id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
    return [
        Run(
            r[0], r[1], r[2], r[3], None if r[4] is None else bool(r[4]), r[5],
            json.loads(r[6]), json.loads(r[7]), r[8], json.loads(r[9]), r[10], r[11],
        )
        for r in reversed(rows)
    ]


def partial(run: Run) -> str | None:
    """Why ``run`` is not a full observation of its targets against its lists (``None``: it is one)."""
    if run.finished is None:
        return "never finished (killed, or still running)"
    if run.counts.get("interrupted"):
        return "was interrupted"
    if run.counts.get("partial"):
        return str(run.counts["partial"])
    if run.counts.get("not_covered"):
        return f"did not cover {run.counts['not_covered']} files"
    if run.complete is False:
        return "is incomplete"
    return None


def _run(store: StateStore, run_id: int) -> Run:
    with store.guard("read the history"):
        count = store.db.execute("SELECT count(*) FROM runs WHERE id >= ?", (run_id,)).fetchone()[0]
    return next(r for r in runs(store, int(count)) if r.id == run_id)


def resolve_run(store: StateStore, text: str) -> int:
    """A run named by its number, or ``last`` / ``previous``: the last two full observations (``partial``)."""
    if text in ("last", "previous"):
        full = [r.id for r in runs(store) if partial(r) is None]
        index = 1 if text == "last" else 2
        if len(full) < index:
            raise StateError(
                f"state {store.path} has no {text} complete run (an interrupted or partial run is not compared "
                "by default); name the runs to compare, see 'libra history'"
            )
        return full[-index]
    if not text.isdigit():
        raise StateError(f"{text!r} is not a run number (see 'libra history'), nor last or previous")
    with store.guard("read the history"):
        if store.db.execute("SELECT 1 FROM runs WHERE id = ?", (int(text),)).fetchone() is None:
            raise StateError(f"state {store.path} has no run {text} (see 'libra history')")
    return int(text)


def diff(store: StateStore, run_a: int, run_b: int) -> dict[str, Any]:
    """Findings that appeared, disappeared, reappeared and went unchecked from ``run_a`` to ``run_b``.

    ``notes``: a sentence for each of the two runs that is not a full observation (see the module docstring)."""
    if run_a == run_b:
        raise StateError("name two different runs to compare")
    if run_a > run_b:
        raise StateError(f"run {run_a} is later than run {run_b}: name the earlier run first ({run_b} {run_a})")
    first, second = _run(store, run_a), _run(store, run_b)
    notes = [
        f"run {r.id} {why}: it is not a full observation, so a finding it did not report is not called "
        + ("disappeared" if r is second else "appeared or reappeared")
        for r, why in ((first, partial(first)), (second, partial(second)))
        if why is not None
    ]
    with store.guard("read the history"):
        db = store.db
        a = _keys(store, run_a)
        b = _keys(store, run_b)
        earlier = {
            (bytes(r[0]), r[1], r[2])
            for r in db.execute(
                "SELECT DISTINCT location, list, entry FROM findings WHERE run < ? AND allowed IS NULL", (run_a,)
            )
        }
        departed = {
            bytes(r[0])
            for r in db.execute("SELECT location FROM departures WHERE run > ? AND run <= ?", (run_a, run_b))
        }
        allowed_b = {
            (bytes(r[0]), r[1], r[2])
            for r in db.execute(
                "SELECT location, list, entry FROM findings WHERE run = ? AND allowed IS NOT NULL", (run_b,)
            )
        }
        out: dict[str, Any] = {"appeared": [], "disappeared": [], "reappeared": [], "unchecked": [], "allowed": []}
        for k in sorted(b - a):
            if k not in earlier:
                out["appeared"].append(_describe(store, k, run_b))
            elif _observed(first, k):  # else unknown: run A could not tell it was absent
                out["reappeared"].append(_describe(store, k, run_b))
        for k in sorted(a - b):
            record = _describe(store, k, run_b)
            if k in allowed_b:  # still there and still matching: a reviewer allowed it (a false positive)
                record["state"] = "allowed: a reviewed allow record covers it"
                out["allowed"].append(record)
            elif _observed(second, k):
                record["state"] = "taken down" if k[0] in departed else "no longer matches"
                out["disappeared"].append(record)
            else:
                record["state"] = f"not checked by run {run_b}"
                out["unchecked"].append(record)
    out["notes"] = notes
    return out


def _observed(run: Run, k: tuple[Any, ...]) -> bool:
    """Whether a finding's absence from ``run`` means it was not there: a full observation that used its list."""
    names = {str(x.get("name")) for x in run.lists}
    return partial(run) is None and (not names or k[1] in names)


def _keys(store: StateStore, run: int) -> set[tuple[Any, ...]]:
    return {
        (bytes(r[0]), r[1], r[2])
        for r in store.db.execute(
            "SELECT location, list, entry FROM findings WHERE run = ? AND allowed IS NULL", (run,)
        )
    }


def _describe(store: StateStore, k: tuple[Any, ...], up_to: int) -> dict[str, Any]:
    location, list_name, entry = k
    first, last, runs_seen = store.db.execute(
        "SELECT min(r.started), max(r.started), count(*) FROM findings f JOIN runs r ON r.id = f.run "
        "WHERE f.location = ? AND f.list = ? AND f.entry = ? AND f.run <= ? AND f.allowed IS NULL",
        (location, list_name, entry, up_to),
    ).fetchone()
    return {
        "location": uri(location),
        "list": list_name,
        "entry": entry,
        "first_seen": iso(first),
        "last_seen": iso(last),
        "runs": runs_seen,
    }
