"""The state filter's windows of rows answer every look-up as a look-up of that one location would."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest

from libra_cli.models import HashConfig, HashResult, HashValues, MediaRef
from libra_cli.state import StateFilter, StateStore, codec
from libra_cli.state import filter as state_filter
from libra_cli.state.store import key

_INSERT = (
    "INSERT INTO files (location, size, mtime_ns, inode, ctime_ns, etag, version_id, media_type, width, height, "
    "computed, fingerprint, hashes, first_seen, last_seen, hashed_at, last_run) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _ref(i: int) -> MediaRef:
    return MediaRef(f"/srv/d{i // 300:02d}/p{i:05d}.jpg", 1000 + i, i, i, i)


def _fill(path: Path, config: HashConfig) -> None:
    rng = np.random.default_rng(1)
    rows, now = [], time.time()
    for i in range(0, 2000, 2):  # every other file is stored: the others are new
        ref = _ref(i)
        pdq = HashValues("pdq", rng.integers(0, 256, (1, 32), dtype=np.uint8), ("original",), np.full(1, 90, np.uint8))
        result = HashResult(ref, "image/jpeg", {"md5": bytes(16)}, (pdq,), frozenset({"md5", "pdq"}))
        rows.append((key(ref.uri), ref.size, ref.mtime_ns, ref.inode, ref.ctime_ns, None, None, "image/jpeg", 1, 1,
                     codec.computed_text(result.computed), codec.fingerprint(config), codec.encode(result), now, now,
                     now, 0))  # fmt: skip
    with StateStore.open(str(path)) as store:
        store.transaction(lambda db: db.executemany(_INSERT, rows))


def _answers(path: Path, config: HashConfig, refs: list[MediaRef]) -> tuple[list[object], int]:
    with StateStore.open(str(path)) as store:
        state = StateFilter(store, config)
        found = [state.check(ref) for ref in refs]
        return [None if r is None else (r.ref.uri, r.digests, r.perceptual[0].values.tobytes()) for r in found], (
            state.queries
        )


def test_windows_answer_as_single_look_ups_in_walk_order_and_out_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = HashConfig(digests=("md5",), perceptual=("pdq",), dihedral=False)
    state = tmp_path / "state.db"
    _fill(state, config)
    walk = [_ref(i) for i in range(2000)]
    changed = [MediaRef(r.uri, r.size + 1, r.mtime_ns, r.inode, r.ctime_ns) for r in walk[:50]]
    shuffled = random.Random(3).sample(walk, len(walk))
    in_order, queries = _answers(state, config, walk)
    assert sum(a is not None for a in in_order) == 1000  # the stored half, each found
    assert all((a is not None) == (i % 2 == 0) for i, a in enumerate(in_order))
    assert queries < 30  # windows grow to WINDOW_MAX: not one query per file
    assert _answers(state, config, changed)[0] == [None] * 50  # changed: hashed again
    random_order, _ = _answers(state, config, shuffled)
    assert random_order == [in_order[walk.index(r)] for r in shuffled]
    monkeypatch.setattr(state_filter, "WINDOW_MIN", 1)  # a window of one row: a look-up per file
    monkeypatch.setattr(state_filter, "WINDOW_MAX", 1)
    assert _answers(state, config, shuffled)[0] == random_order
