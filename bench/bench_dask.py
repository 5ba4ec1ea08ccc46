"""The dask engine's own overhead: the local pool and a Dask LocalCluster side by side, and what one
scheduler can feed.

Run:  PYTHONPATH=src python bench/bench_dask.py [--files 120] [--rounds 3] [--tiny 3000] [--feeders 8]

1. **Same tree, same worker count.** ``--files`` 2-megapixel JPEGs (``bench_throughput.make_jpegs``) hashed
   with the default hash set (md5, sha256, PDQ + dihedral variants) by the ``local`` engine with 2 worker
   processes and by the ``dask`` engine on a ``LocalCluster`` of 2 process workers (one thread each, set
   up as libra sets up its own). Both are warm (the pool and the cluster are started once; start-up is
   reported on its own line), rounds interleave, and the best round of each counts: a shared 2-core
   machine makes single runs noisy. Goal (issue 14): dask >= 85% of the local pool's images/s.
2. **What one scheduler can feed.** ``--tiny`` 8-byte files, md5 only (work that costs the worker almost
   nothing; 16 to a task, as the engine batches small files), through the dask engine on a
   ``LocalCluster`` of ``--feeders`` worker processes: files/s and tasks/s end to end, and the CPU time
   of this process (client + scheduler, which run here) per file and per task. That is the
   scheduler-side cost: one scheduler core feeds about 1/that files (tasks) per second, the ceiling for
   any number of workers. Large images go fewer to a task (4 MiB per task), so their ceiling is the
   tasks/s figure times the files per task.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_throughput import make_jpegs  # bench/ is on sys.path when run as a script

from libra_cli.engine import EngineOptions, make_engine
from libra_cli.engine.dask import ALLOWED_FAILURES, NO_SPILL, SCHEDULER
from libra_cli.engine.pool import BATCH_FILES
from libra_cli.models import HashConfig, HashResult, MediaRef


def drive(name: str, config: HashConfig, options: EngineOptions, refs: list[MediaRef], engine: Any = None) -> float:
    """Hash ``refs`` as the pipeline does (submit while there is capacity, poll); returns seconds."""
    engine = engine or make_engine(name, config, options)
    todo = list(refs)
    out: list[HashResult] = []
    start = time.perf_counter()
    while todo or engine.pending():
        while todo and engine.capacity() > 0:
            engine.submit(todo.pop())
        out.extend(engine.poll(0.5))
    elapsed = time.perf_counter() - start
    bad = [r.error for r in out if r.error]
    assert len(out) == len(refs) and not bad, bad[:3]
    return elapsed


def local_cluster(workers: int) -> Any:
    import dask.config
    import distributed

    with dask.config.set(SCHEDULER):
        return distributed.LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"allowed_failures": ALLOWED_FAILURES, "dashboard_address": "127.0.0.1:0"},
            config=NO_SPILL,
        )


def side_by_side(refs: list[MediaRef], rounds: int) -> None:
    config = HashConfig()
    started = time.perf_counter()
    cluster = local_cluster(2)
    cluster_start = time.perf_counter() - started
    dask_options = EngineOptions(workers=2, scheduler=str(cluster.scheduler_address))
    local = make_engine("local", config, EngineOptions(workers=2))
    dask = make_engine("dask", config, dask_options)
    started = time.perf_counter()
    local.start()
    drive("local", config, EngineOptions(), refs[:8], local)  # warm: every worker has imported its decoders
    local_start = time.perf_counter() - started
    started = time.perf_counter()
    dask.start()
    drive("dask", config, dask_options, refs[:8], dask)
    client_start = time.perf_counter() - started
    best = {"local": 0.0, "dask": 0.0}
    try:
        for _ in range(rounds):
            for name, engine in (("local", local), ("dask", dask)):
                seconds = drive(name, config, EngineOptions(), refs, engine)
                best[name] = max(best[name], len(refs) / seconds)
    finally:
        local.close()
        dask.close()
        cluster.close()
    print(f"{len(refs)} JPEGs of 2 MP, default hash set, 2 workers, best of {rounds} interleaved rounds:")
    print(f"  local pool        {best['local']:7.1f} images/s")
    print(f"  dask LocalCluster {best['dask']:7.1f} images/s   ({best['dask'] / best['local']:.0%} of the local pool)")
    print(
        f"  start-up: local pool {local_start:.1f} s; LocalCluster {cluster_start:.1f} s + client {client_start:.1f} s"
    )


def feed_rate(count: int, feeders: int, rounds: int) -> None:
    config = HashConfig(digests=("md5",), perceptual=())
    with tempfile.TemporaryDirectory(prefix="libra-bench-dask-") as tmp:
        refs = []
        for i in range(count):
            path = Path(tmp) / f"t{i:06d}"
            path.write_bytes(b"%08d" % i)
            refs.append(MediaRef(str(path), 8))
        cluster = local_cluster(feeders)
        options = EngineOptions(workers=feeders, scheduler=str(cluster.scheduler_address))
        engine = make_engine("dask", config, options)
        engine.start()
        best_rate, best_cpu = 0.0, float("inf")
        try:
            drive("dask", config, options, refs[: feeders * 4], engine)
            for _ in range(rounds):
                cpu = time.process_time()
                seconds = drive("dask", config, options, refs, engine)
                best_rate = max(best_rate, count / seconds)
                best_cpu = min(best_cpu, (time.process_time() - cpu) / count)
        finally:
            engine.close()
            cluster.close()
    per_task = BATCH_FILES * best_cpu
    print(f"{count} trivial files (8 bytes, md5; {BATCH_FILES} to a task) on a LocalCluster of {feeders} workers:")
    print(f"  {best_rate:7.0f} files/s end to end ({best_rate / BATCH_FILES:.0f} tasks/s)")
    print(
        f"  client + scheduler CPU {best_cpu * 1000:.3f} ms per file, {per_task * 1000:.2f} ms per task: one "
        f"scheduler core feeds about {1 / best_cpu:.0f} small files/s ({1 / per_task:.0f} tasks/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiny", type=int, default=3000, help="trivial tasks for the scheduler's overhead")
    parser.add_argument("--feeders", type=int, default=8, help="worker processes for the scheduler's overhead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="libra-bench-dask-") as tmp:
        refs = make_jpegs(Path(tmp), args.files)
        side_by_side(refs, args.rounds)
    feed_rate(args.tiny, args.feeders, args.rounds)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
