"""The worker pool: every reference comes back once, even when a worker process dies."""

from __future__ import annotations

from libra_cli.hashlist.table import HashList, ListInfo
from libra_cli.models import Entry, HashConfig, MediaRef
from libra_cli.workers import BATCH, hash_many
from worker_tasks import count_hashlists, crash_batch, hang_batch


def refs(names: list[str]) -> list[MediaRef]:
    return [MediaRef(uri=f"/x/{name}", size=1) for name in names]


def test_pool_returns_every_ref_once() -> None:
    names = [f"f{i}" for i in range(BATCH * 5 + 3)]
    results = list(hash_many(refs(names), HashConfig(), workers=2, task=crash_batch))
    assert sorted(r.ref.uri for r in results) == sorted(f"/x/{n}" for n in names)
    assert not any(r.error for r in results)


def test_a_crashing_file_is_named_and_the_rest_is_hashed() -> None:
    names = [f"f{i}" for i in range(BATCH * 4)]
    names[5] = "crash-me.jpg"
    names[21] = "crash-too.png"
    results = list(hash_many(refs(names), HashConfig(), workers=2, task=crash_batch))
    assert sorted(r.ref.uri for r in results) == sorted(f"/x/{n}" for n in names)
    failed = sorted(r.ref.uri for r in results if r.error)
    assert failed == ["/x/crash-me.jpg", "/x/crash-too.png"]
    assert all("worker process died" in (r.error or "") for r in results if r.error)


def test_single_process_fallback() -> None:
    results = list(hash_many(refs(["a", "b"]), HashConfig(), workers=1, task=crash_batch))
    assert [r.ref.uri for r in results] == ["/x/a", "/x/b"]


def test_workers_never_hold_the_decrypted_lists() -> None:
    """Workers start from a forkserver, not a fork of the parent that holds the decrypted lists."""
    secret = HashList.from_entries(ListInfo("in parent only"), [Entry("md5", "ab" * 16)])
    here = count_hashlists(tuple(refs(["x"])), HashConfig())
    assert int(here[0].digests["hashlists"]) >= 1  # the probe sees a list where there is one
    results = list(hash_many(refs([f"f{i}" for i in range(20)]), HashConfig(), workers=2, task=count_hashlists))
    assert {r.digests["hashlists"] for r in results} == {"0"}
    assert len(secret) == 1


def test_a_hanging_file_is_stopped_named_and_the_rest_is_hashed() -> None:
    names = [f"f{i}" for i in range(BATCH * 3)]
    names[9] = "hang-forever.gif"
    results = list(hash_many(refs(names), HashConfig(), workers=2, task=hang_batch, timeout=1.5))
    assert sorted(r.ref.uri for r in results) == sorted(f"/x/{n}" for n in names)
    (hung,) = [r for r in results if r.error]
    assert hung.ref.uri == "/x/hang-forever.gif" and "took longer than 1.5 s" in (hung.error or "")
