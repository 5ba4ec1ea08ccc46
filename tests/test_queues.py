"""The wake queue between the walk thread, digest threads and the main loop."""

from __future__ import annotations

import select
import threading

from libra_cli.queues import WakeQueue


def _readable(q: WakeQueue[int]) -> bool:
    return bool(select.select([q.fileno()], [], [], 0)[0])


def test_take_drains_in_order_and_clears_the_wake_descriptor() -> None:
    q: WakeQueue[int] = WakeQueue(maxsize=10)
    assert q.take() == [] and not _readable(q)
    for i in range(5):
        q.put(i)
    assert _readable(q)
    assert q.take() == [0, 1, 2, 3, 4]
    assert len(q) == 0 and not _readable(q)
    q.finish()
    assert _readable(q) and q.take() == [] and _readable(q)  # finished stays readable
    assert q.drained
    q.close()


def test_take_wakes_a_producer_blocked_on_a_full_queue() -> None:
    q: WakeQueue[int] = WakeQueue(maxsize=2)
    q.put(0)
    q.put(1)
    done = threading.Event()

    def produce() -> None:
        q.put(2)  # blocks until the consumer makes room
        done.set()

    thread = threading.Thread(target=produce)
    thread.start()
    assert not done.wait(0.2)
    assert q.take() == [0, 1]
    assert done.wait(5)
    thread.join()
    assert q.take() == [2]
    q.close()


def test_take_with_a_limit_leaves_the_rest_waiting_and_signalled() -> None:
    q: WakeQueue[int] = WakeQueue(maxsize=10)
    q.put_many([1, 2, 3, 4])
    assert q.take(3) == [1, 2, 3]
    assert _readable(q) and len(q) == 1  # one still waits: the consumer is woken for it
    assert q.take(3) == [4] and not _readable(q)
    q.close()
