"""Delivery against a real local HTTP server: headers, gzip, retries, splits and rejections."""

from __future__ import annotations

import gzip
import logging
import time

from conftest import API_KEY, Recorded, accept, status

from agentloop import AgentLoop, AgentLoopError
from agentloop.transport import full_jitter, retry_after_seconds
from agentloop.version import __version__


def test_batches_are_gzip_json_with_the_key_and_user_agent(server, make_client):
    loop = make_client()

    turns = [loop.log_turn(question=f"q{i}") for i in range(3)]

    assert loop.flush(timeout=5) is True
    [request] = server.ingests
    assert request.method == "POST"
    assert request.raw[:2] == b"\x1f\x8b"
    assert gzip.decompress(request.raw).startswith(b'{"batch":[{"type":"turn"')
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["User-Agent"] == f"agentloop-python/{__version__}"
    assert [item["id"] for item in request.items] == [turn.id for turn in turns]
    assert loop.stats == {"queued": 3, "sent": 3, "dropped": 0, "retries": 0, "failed": 0}


def test_503_with_retry_after_is_retried_until_accepted_without_loss_or_duplicates(server, make_client):
    server.script.extend([status(503, {"Retry-After": "0"})] * 3)
    loop = make_client()

    turns = [loop.log_turn(question=f"q{i}") for i in range(20)]

    assert loop.flush(timeout=10) is True
    assert [len(r.items) for r in server.ingests] == [20, 20, 20, 20]
    assert server.committed_ids() == [turn.id for turn in turns]
    assert loop.stats == {"queued": 20, "sent": 20, "dropped": 0, "retries": 3, "failed": 0}


def test_retry_after_is_honoured(server, make_client):
    server.script.append(status(503, {"Retry-After": "1"}))
    loop = make_client()
    loop.retry_backoff_max = 0.0

    loop.log_turn(question="q")
    started = time.monotonic()

    assert loop.flush(timeout=10) is True
    assert time.monotonic() - started >= 1.0
    assert len(server.committed_ids()) == 1


def test_429_is_retried_with_and_without_retry_after(server, make_client):
    server.script.extend([status(429, {"Retry-After": "0"}), status(429), status(502)])
    loop = make_client()

    turn = loop.log_turn(question="q")

    assert loop.flush(timeout=10) is True
    assert server.committed_ids() == [turn.id]
    assert loop.stats["retries"] == 3
    assert loop.stats["sent"] == 1


def test_413_splits_the_batch_in_halves_until_it_fits(server, make_client):
    def at_most_two(request: Recorded):
        return accept(request) if len(request.items) <= 2 else status(413)(request)

    server.default = at_most_two
    loop = make_client(flush_interval=60)

    turns = [loop.log_turn(question=f"q{i}") for i in range(7)]

    assert loop.flush(timeout=10) is True
    assert [len(r.items) for r in server.ingests] == [7, 3, 1, 2, 4, 2, 2]
    assert server.committed_ids() == [turn.id for turn in turns]
    assert loop.stats == {"queued": 7, "sent": 7, "dropped": 0, "retries": 0, "failed": 0}


def test_413_on_a_single_item_fails_it(server, make_client):
    server.default = status(413)
    loop = make_client()

    loop.log_turn(question="huge")

    assert loop.flush(timeout=5) is True
    assert len(server.ingests) == 1
    assert loop.stats["failed"] == 1


def test_items_rejected_in_the_207_are_failed_not_retried_and_warned_once_per_code(server, make_client, caplog):
    def reject_odd(request: Recorded):
        results = [
            {"index": i, "type": item["type"], "id": item["id"], "status": 201} if i % 2 == 0 else
            {"index": i, "type": item["type"], "id": item["id"], "status": 422, "code": "invalid",
             "message": "Too long", "field": "question"}
            for i, item in enumerate(request.items)
        ]
        return 207, {}, {"accepted": 0, "rejected": 0, "results": results}, True

    server.default = reject_odd
    errors: list = []
    loop = make_client(on_error=errors.append)

    with caplog.at_level(logging.WARNING, logger="agentloop"):
        turns = [loop.log_turn(question=f"q{i}") for i in range(4)]
        assert loop.flush(timeout=5) is True

    assert len(server.ingests) == 1
    assert server.committed_ids() == [turns[0].id, turns[2].id]
    assert loop.stats == {"queued": 4, "sent": 2, "dropped": 0, "retries": 0, "failed": 2}
    assert [r.getMessage() for r in caplog.records] == [
        f"AgentLoop rejected a turn ({turns[1].id}): invalid on question: Too long"
    ]
    assert [(e.code, e.status, e.items) for e in errors] == [
        ("invalid", 422, (("turn", turns[1].id),)), ("invalid", 422, (("turn", turns[3].id),)),
    ]


def test_items_answered_503_in_the_207_are_retried_alone(server, make_client):
    def second_busy(request: Recorded):
        reply = accept(request)
        if len(request.items) == 3:
            reply[2]["results"][1]["status"] = 503
        return reply

    server.default = second_busy
    loop = make_client()

    turns = [loop.log_turn(question=f"q{i}") for i in range(3)]

    assert loop.flush(timeout=5) is True
    assert [[item["id"] for item in r.items] for r in server.ingests] == [[t.id for t in turns], [turns[1].id]]
    assert sorted(server.committed_ids()) == sorted(turn.id for turn in turns)
    assert loop.stats == {"queued": 3, "sent": 3, "dropped": 0, "retries": 1, "failed": 0}


def test_401_403_400_are_not_retried(server, make_client, caplog):
    server.script.extend([status(401), status(403), status(400)])
    errors: list = []
    loop = make_client(on_error=errors.append)

    with caplog.at_level(logging.WARNING, logger="agentloop"):
        for i in range(3):
            loop.log_turn(question=f"q{i}")
            assert loop.flush(timeout=5) is True

    assert len(server.ingests) == 3
    assert loop.stats == {"queued": 3, "sent": 0, "dropped": 0, "retries": 0, "failed": 3}
    assert [(e.code, e.status) for e in errors] == [("unauthorized", 401), ("forbidden", 403), ("bad_request", 400)]
    assert len(caplog.records) == 3


def test_a_redirect_is_not_followed(server, make_client):
    server.default = status(301, {"Location": "https://elsewhere.example/api/v1/ingest"})
    errors: list = []
    loop = make_client(on_error=errors.append)

    loop.log_turn(question="q")

    assert loop.flush(timeout=5) is True
    assert [e.code for e in errors] == ["redirect"]
    assert loop.stats["failed"] == 1


def test_persistent_5xx_gives_up_after_max_retries(server, make_client):
    server.default = status(500)
    errors: list = []
    loop = make_client(max_retries=2, on_error=errors.append)

    loop.log_turn(question="q")

    assert loop.flush(timeout=5) is True
    assert len(server.ingests) == 3
    assert loop.stats == {"queued": 1, "sent": 0, "dropped": 0, "retries": 2, "failed": 1}
    assert [e.code for e in errors] == ["gave_up"]


def test_an_unreachable_host_never_raises(unused_port, caplog):
    loop = AgentLoop(api_key=API_KEY, host=f"http://127.0.0.1:{unused_port}", project_id="p",
                     flush_interval=0.01, max_retries=1, timeout=0.5)
    loop.retry_backoff_base = 0.01

    with caplog.at_level(logging.DEBUG, logger="agentloop"):
        turn = loop.log_turn(question="q", user_id="u")
        loop.feedback(turn, rating="down")
        loop.signal(turn, "thumbs_down")
        drained = loop.flush(timeout=5)
        loop.shutdown(timeout=1)
        loop.shutdown(timeout=1)

    assert drained is True
    assert turn.feedback_url.startswith(f"http://127.0.0.1:{unused_port}/f/")
    assert loop.stats == {"queued": 3, "sent": 0, "dropped": 0, "retries": 1, "failed": 3}
    assert any("gave up on 3 items" in r.getMessage() for r in caplog.records)


def test_a_raising_on_error_callback_is_contained(server, make_client):
    def explode(error: AgentLoopError) -> None:
        raise RuntimeError("callback bug")

    server.default = status(400)
    loop = make_client(on_error=explode)

    loop.log_turn(question="q")

    assert loop.flush(timeout=5) is True
    assert loop.stats["failed"] == 1
    assert loop._sender.thread.is_alive()


def test_retry_after_parsing():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds("-4") == 0.0
    assert retry_after_seconds("999999") == 600.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_full_jitter_stays_within_the_exponential_envelope():
    delays = [full_jitter(attempt, base=0.5, cap=30.0) for attempt in (1, 2, 3, 10) for _ in range(200)]

    assert all(0 <= d <= 0.5 for d in delays[:200])
    assert all(0 <= d <= 1.0 for d in delays[200:400])
    assert all(0 <= d <= 2.0 for d in delays[400:600])
    assert all(0 <= d <= 30.0 for d in delays[600:])
    assert max(delays[600:]) > 2.0
