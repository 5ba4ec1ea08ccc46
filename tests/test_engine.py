"""Hash engines: every reference comes back once, crashes and hangs cost one file, workers are untrusted."""

from __future__ import annotations

import hashlib
import time

import pytest

import testplugins  # noqa: F401  (registers the test:// backend, imported by the workers too)
from libra_cli import signals
from libra_cli.engine import EngineOptions, make_engine
from libra_cli.engine.pool import PER_WORKER
from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.models import Entry, HashConfig, HashResult, MediaRef

CONFIG = HashConfig(digests=("md5",), perceptual=(), plugins=signals.plugin_modules())


def refs(*names: str) -> list[MediaRef]:
    return [MediaRef(f"test://files/{name}", 8) for name in names]


def run(engine_name: str, items: list[MediaRef], timeout: float = 60.0, workers: int = 2) -> list[HashResult]:
    """Drive an engine the way the pipeline does: submit while it has capacity, poll until all are back."""
    engine = make_engine(engine_name, CONFIG, EngineOptions(workers=workers, timeout=timeout))
    out: list[HashResult] = []
    queue = list(items)
    with engine:
        while queue or engine.pending():
            while queue and engine.capacity() > 0:
                engine.submit(queue.pop(0))
            out.extend(engine.poll(0.5))
    return out


@pytest.mark.parametrize("engine", ["inprocess", "local", "threads"])
def test_every_ref_comes_back_once(engine: str) -> None:
    names = [f"f{i}" for i in range(PER_WORKER * 7 + 3)]
    results = run(engine, refs(*names))
    assert sorted(r.ref.uri for r in results) == sorted(f"test://files/{n}" for n in names)
    assert all(r.error is None for r in results)
    assert results[0].digests["md5"] == hashlib.md5(results[0].ref.uri.rsplit("/", 1)[1].encode().ljust(8)).digest()


def test_a_crashing_file_is_named_and_the_rest_is_hashed() -> None:
    names = [f"f{i}" for i in range(30)]
    names[5], names[21] = "crash-me", "crash-too"
    results = run("local", refs(*names))
    assert sorted(r.ref.uri for r in results) == sorted(f"test://files/{n}" for n in names)
    failed = sorted(r.ref.uri.rsplit("/", 1)[1] for r in results if r.error)
    assert failed == ["crash-me", "crash-too"]
    assert all(r.fatal and "worker process died" in (r.error or "") for r in results if r.error)


def test_a_hanging_file_is_stopped_after_its_own_deadline_while_others_flow() -> None:
    names = ["hang-forever"] + [f"f{i}" for i in range(40)]
    start = time.monotonic()
    engine = make_engine("local", CONFIG, EngineOptions(workers=2, timeout=3.0))
    queue, arrivals = refs(*names), {}
    with engine:
        while queue or engine.pending():
            while queue and engine.capacity() > 0:
                engine.submit(queue.pop(0))
            for result in engine.poll(0.2):
                arrivals[result.ref.uri.rsplit("/", 1)[1]] = (time.monotonic() - start, result)
    assert set(arrivals) == set(names)
    hung_at, hung = arrivals["hang-forever"]
    assert hung.fatal and "no progress for 3 s" in (hung.error or "")
    assert 3.0 <= hung_at < 10
    # The other files did not wait for the hung one: all plain files were back well before its deadline.
    assert max(t for n, (t, _) in arrivals.items() if n.startswith("f")) < 3.0


def test_slow_is_not_hung() -> None:
    """Deadlines count time without progress, so a file slower than most but well within it is hashed."""
    engine = make_engine("local", CONFIG, EngineOptions(workers=2, timeout=5.0))
    results = []
    with engine:
        for ref in refs("slow-a", "slow-b", "f1"):
            engine.submit(ref)
        while engine.pending():
            results.extend(engine.poll(0.5))
    assert sorted(r.ref.uri.rsplit("/", 1)[1] for r in results) == ["f1", "slow-a", "slow-b"]
    assert not any(r.error for r in results)


def test_workers_never_hold_the_decrypted_lists() -> None:
    """Workers start from a forkserver, not a fork of the parent that holds the decrypted lists."""
    secret = HashList.from_entries(ListInfo("in parent only"), [Entry("md5", "ab" * 16)])
    (here,) = run("inprocess", refs("lists"))
    assert here.digests["md5"] != hashlib.md5(b"0".ljust(8)).digest()  # the probe sees the list in this process
    results = run("local", refs(*(["lists"] * 6)))
    assert {r.digests["md5"] for r in results} == {hashlib.md5(b"0".ljust(8)).digest()}
    assert len(secret) == 1


def test_a_worker_that_sends_a_pickle_is_stopped_and_never_believed() -> None:
    """A compromised decoder can write anything to its pipe: the parent never unpickles it."""
    results = run("local", refs("forge", "f1", "f2", "f3"))
    by_name = {r.ref.uri.rsplit("/", 1)[1]: r for r in results}
    assert set(by_name) == {"forge", "f1", "f2", "f3"}
    forged = by_name["forge"]
    assert forged.fatal and "invalid result" in (forged.error or "") and not forged.digests
    assert all(by_name[n].error is None for n in ("f1", "f2", "f3"))


@pytest.mark.parametrize("engine", ["inprocess", "local", "threads"])
def test_storage_failures_are_errors_never_exceptions(engine: str) -> None:
    results = {r.ref.uri.rsplit("/", 1)[1]: r for r in run(engine, refs("unreadable", "boom", "ok"))}
    assert results["unreadable"].fatal and "permission denied (injected)" in (results["unreadable"].error or "")
    assert results["boom"].fatal and "RuntimeError" in (results["boom"].error or "")
    assert results["ok"].error is None


def test_a_killed_runs_socket_folder_is_removed_and_a_live_one_kept(tmp_path: object) -> None:
    import socket
    from pathlib import Path

    from libra_cli.engine.janitor import remove_stale_socket_folders

    base = Path(str(tmp_path))
    dead, live, other, empty = base / "pymp-dead", base / "pymp-live", base / "pymp-notes", base / "pymp-new"
    for folder in (dead, live, other, empty):
        folder.mkdir()
    with socket.socket(socket.AF_UNIX) as gone:
        gone.bind(str(dead / "listener-1"))  # bound, then closed: what a SIGKILL leaves
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(live / "listener-2"))
    listening.listen()
    (other / "not-a-socket").write_text("keep me")
    try:
        assert remove_stale_socket_folders(str(base)) == 1
        assert not dead.exists() and live.exists() and other.exists() and empty.exists()
    finally:
        listening.close()


def test_the_threads_engine_reports_a_stuck_read_and_goes_on() -> None:
    """Digest-only runs use threads; a read that never returns costs its file, not the run."""
    start = time.monotonic()
    results = {r.ref.uri.rsplit("/", 1)[1]: r for r in run("threads", refs("hang-a", "f1", "f2", "f3"), timeout=2.0)}
    assert set(results) == {"hang-a", "f1", "f2", "f3"} and time.monotonic() - start < 20
    assert results["hang-a"].fatal and "no progress for 2 s" in (results["hang-a"].error or "")
    assert all(results[n].error is None for n in ("f1", "f2", "f3"))


def test_a_stuck_read_inside_a_threads_batch_keeps_the_files_before_it_and_requeues_the_rest() -> None:
    """Threads take references in batches; a file that hangs mid-batch costs only itself: the files the
    thread finished before it are delivered, and the ones after it are hashed by another thread."""
    names = [f"f{i}" for i in range(100)]
    names[10] = "hang-mid"
    engine = make_engine("threads", CONFIG, EngineOptions(workers=2, timeout=2.0))
    out: list[HashResult] = []
    start = time.monotonic()
    with engine:
        engine.submit_many(refs(*names))  # one burst: the first thread's batch holds the hanging file
        while engine.pending() and time.monotonic() - start < 30:
            out.extend(engine.poll(0.5))
    assert sorted(r.ref.uri for r in out) == sorted(f"test://files/{n}" for n in names)  # each once
    failed = [r for r in out if r.error]
    assert [r.ref.uri.rsplit("/", 1)[1] for r in failed] == ["hang-mid"] and failed[0].fatal


def test_a_digest_only_hash_set_runs_in_threads() -> None:
    from libra_cli.api import engine_for
    from libra_cli.settings import ScanSettings

    two = ScanSettings.resolve({"workers": 2})
    assert engine_for(two, HashConfig(digests=("md5",), perceptual=())) == "threads"
    assert engine_for(two, HashConfig(digests=("md5",), perceptual=("pdq",))) == "local"
    assert engine_for(ScanSettings.resolve({"workers": 1}), HashConfig(perceptual=())) == "threads"
    assert engine_for(ScanSettings.resolve({"workers": 1}), HashConfig(perceptual=("pdq",))) == "inprocess"
    assert engine_for(ScanSettings.resolve({"workers": 2, "engine": "local"}), HashConfig(perceptual=())) == "threads"


def test_workers_that_cannot_start_are_one_sentence_with_the_way_out() -> None:
    """Where the forkserver's socket is refused (a sandbox, a user without a usable /dev/shm), the run ends
    with one sentence that names ``--workers 1``, not a bare "Connection refused"."""
    from libra_cli.errors import LibraError

    engine = make_engine("local", CONFIG, EngineOptions(workers=2))
    real = engine._ctx  # type: ignore[attr-defined]

    class Refused:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def start(self) -> None:
            raise ConnectionRefusedError(111, "Connection refused")

    class Context:
        Pipe = staticmethod(real.Pipe)
        Process = Refused

    engine._ctx = Context()  # type: ignore[attr-defined]
    with pytest.raises(LibraError, match=r"worker processes could not start \(Connection refused\); --workers 1"):
        engine.start()
