"""The bounded queue, flush and shutdown semantics, thread safety."""

from __future__ import annotations

import threading
import time

from conftest import Recorded, accept

from agentloop import AgentLoop


def test_a_full_queue_drops_new_items_and_counts_them(server, make_client):
    errors: list = []
    loop = make_client(max_queue=5, flush_interval=60, on_error=errors.append)

    turns = [loop.log_turn(question=f"q{i}") for i in range(8)]
    stats_before = loop.stats

    assert stats_before == {"queued": 5, "sent": 0, "dropped": 3, "retries": 0, "failed": 0}
    assert loop.flush(timeout=5) is True
    assert server.committed_ids() == [turn.id for turn in turns[:5]]
    assert [e.code for e in errors] == ["queue_full"] * 3
    assert [e.items for e in errors] == [(("turn", turn.id),) for turn in turns[5:]]


def test_a_full_batch_is_sent_without_waiting_for_the_interval(server, make_client):
    loop = make_client(max_batch=4, flush_interval=60)

    for i in range(4):
        loop.log_turn(question=f"q{i}")

    assert server.wait_for(lambda: len(server.committed_ids()) == 4, timeout=5)
    assert [len(r.items) for r in server.ingests] == [4]


def test_the_interval_sends_a_partial_batch(server, make_client):
    loop = make_client(flush_interval=0.05)

    turn = loop.log_turn(question="q")

    assert server.wait_for(lambda: server.committed_ids() == [turn.id], timeout=5)


def test_batches_respect_max_batch(server, make_client):
    loop = make_client(max_batch=3, flush_interval=60)

    turns = [loop.log_turn(question=f"q{i}") for i in range(8)]

    assert loop.flush(timeout=5) is True
    assert sorted(len(r.items) for r in server.ingests) == [2, 3, 3]
    assert server.committed_ids() == [turn.id for turn in turns]


def test_flush_returns_false_when_its_timeout_runs_out(server, make_client):
    def slow(request: Recorded):
        server.release.wait(5)
        return accept(request)

    server.default = slow
    loop = make_client()
    loop.log_turn(question="q")

    started = time.monotonic()
    drained = loop.flush(timeout=0.3)
    waited = time.monotonic() - started
    server.release.set()

    assert drained is False
    assert 0.25 <= waited < 2
    assert loop.flush(timeout=5) is True
    assert loop.stats["sent"] == 1


def test_flush_with_nothing_queued_returns_at_once(server, make_client):
    loop = make_client(flush_interval=60)

    started = time.monotonic()

    assert loop.flush() is True
    assert time.monotonic() - started < 0.1
    assert server.ingests == []


def test_shutdown_delivers_the_queue_stops_the_thread_and_later_items_are_dropped(server, make_client):
    loop = make_client(flush_interval=60)
    turns = [loop.log_turn(question=f"q{i}") for i in range(3)]
    thread = loop._sender.thread

    loop.shutdown(timeout=5)
    late = loop.log_turn(question="too late")

    assert not thread.is_alive()
    assert server.committed_ids() == [turn.id for turn in turns]
    assert late.id
    assert loop.stats == {"queued": 3, "sent": 3, "dropped": 1, "retries": 0, "failed": 0}
    assert loop.flush(timeout=1) is True
    loop.shutdown()


def test_shutdown_gives_up_at_its_timeout_and_counts_the_rest_as_dropped(server, make_client):
    server.default = lambda request: (503, {"Retry-After": "30"}, None, False)
    loop = make_client(flush_interval=60)
    for i in range(3):
        loop.log_turn(question=f"q{i}")

    started = time.monotonic()
    loop.shutdown(timeout=0.5)

    assert time.monotonic() - started < 3
    assert not loop._sender.thread.is_alive()
    assert loop.stats == {"queued": 3, "sent": 0, "dropped": 3, "retries": 1, "failed": 0}


def test_the_context_manager_shuts_down(server):
    with AgentLoop(api_key=server.api_key, host=server.url, project_id="p", flush_interval=60) as loop:
        turn = loop.log_turn(question="q")

    assert server.committed_ids() == [turn.id]


def test_concurrent_logging_loses_and_duplicates_nothing(server, make_client):
    loop = make_client(max_batch=50, flush_interval=0.01)
    ids: list = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [loop.log_turn(question="q").id for _ in range(250)]
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert loop.flush(timeout=10) is True
    assert len(ids) == 2000
    assert sorted(server.committed_ids()) == sorted(ids)
    assert loop.stats == {"queued": 2000, "sent": 2000, "dropped": 0, "retries": 0, "failed": 0}


def test_requests_stay_under_the_byte_limit(server, make_client):
    loop = make_client(flush_interval=60)
    loop.max_batch_bytes = 2_500

    turns = [loop.log_turn(question="x" * 1_000) for _ in range(5)]

    assert loop.flush(timeout=5) is True
    assert [len(r.items) for r in server.ingests] == [2, 2, 1]
    assert server.committed_ids() == [turn.id for turn in turns]
