"""PostgreSQL restarted (an immediate stop: a crash for every connection) during ingestion:
clients get a retryable 503 with ``Retry-After``, the Python SDK retries, nothing is lost; and
feedback sent before its turn survives a restart of every process, then attaches."""

from __future__ import annotations

import signal
import threading
import time
import uuid

import pytest

from agentloop import AgentLoop
from tests.faults.load import PUNT, Load
from tests.faults.processes import wait_until

pytestmark = pytest.mark.fault

DOWN_SECONDS = 3


def _stored(stack, project_id: str) -> set[str]:
    return {str(r[0]) for r in stack.postgres.rows("SELECT id FROM traces_turn WHERE project_id = %s", project_id)}


def test_postgres_restarted_during_ingestion_clients_get_503_and_the_sdk_loses_nothing(stack, tenant, web):
    project_id, secret = tenant
    loop = AgentLoop(api_key=secret, host=web.base, flush_interval=0.05, max_retries=20)
    sdk_ids: list[str] = []
    running = threading.Event()
    running.set()

    def log_turns():
        while running.is_set():
            sdk_ids.append(loop.log_turn(question=f"sdk {len(sdk_ids)}", agent_response="Refunds take 5 days.").id)
            time.sleep(0.005)

    sdk_thread = threading.Thread(target=log_turns, daemon=True)
    sdk_thread.start()
    load = Load(web, secret, threads=2).start()
    time.sleep(3)

    stack.postgres.stop("immediate")
    time.sleep(DOWN_SECONDS)
    stack.postgres.start()
    time.sleep(3)
    running.clear()
    sdk_thread.join(timeout=10)
    load.stop()
    delivered = loop.flush(timeout=120)
    stats = loop.stats
    loop.shutdown()

    stored = _stored(stack, project_id)
    answers = dict(load.statuses)
    print(f"\nPostgreSQL down {DOWN_SECONDS} s: SDK {len(sdk_ids)} turns logged, stats {stats}; raw clients "
          f"{load.requests} requests (statuses {answers}), {len(load.acknowledged)} acknowledged; "
          f"{len(stored)} stored")
    assert delivered is True
    assert (stats["failed"], stats["dropped"]) == (0, 0)
    assert stats["retries"] >= 1
    assert set(sdk_ids) | load.acknowledged == stored
    assert len(sdk_ids) + len(load.acknowledged) == len(stored)
    assert answers.get(503, 0) >= 1
    assert set(answers) <= {201, 503}
    status, body, headers = _answer_while_postgres_is_down(stack, web, secret)
    assert (status, body["code"], headers.get("Retry-After")) == (503, "unavailable", "5")


def _answer_while_postgres_is_down(stack, web, secret):
    stack.postgres.stop("immediate")
    try:
        return web.request("POST", "/api/v1/turns", {"question": "down?"}, secret=secret)
    finally:
        stack.postgres.start()


def test_feedback_sent_before_its_turn_survives_a_restart_of_every_process(stack, tenant, web, worker):
    project_id, secret = tenant
    turn_id, feedback_id = str(uuid.uuid4()), str(uuid.uuid4())
    parked = web.request("POST", "/api/v1/feedback",
                         {"turn_id": turn_id, "id": feedback_id, "rating": "down", "comment": "too slow"}, secret=secret)

    for service in (web, worker):
        service.kill(signal.SIGKILL)
    stack.redis.kill()
    stack.postgres.stop("immediate")
    stack.postgres.start()
    stack.redis.start()
    worker.start()
    web.start()
    wait_until("worker ready", lambda: worker.log.read_text(errors="replace").count("ready.") >= 2, timeout=120)
    landed = web.request("POST", "/api/v1/turns", {"id": turn_id, "question": "where is my refund?", "agent_response": PUNT},
                         secret=secret)
    detected = wait_until("detection of the turn", lambda: stack.postgres.rows(
        "SELECT kind FROM traces_signal WHERE project_id = %s AND turn_id = %s AND source = 'detector'", project_id, turn_id),
        timeout=60)
    status, detail, _ = web.request("GET", f"/api/v1/turns/{turn_id}", secret=secret)

    print(f"\nfull restart: feedback {parked[0]} {parked[1]['state']} before, turn {landed[0]} after; "
          f"attached {[f['id'] for f in detail['feedback']]}; detector signals {detected}")
    assert (parked[0], parked[1]["state"]) == (202, "waiting")
    assert landed[0] == 201 and status == 200
    assert [(f["id"], f["rating"], f["comment"]) for f in detail["feedback"]] == [(feedback_id, "down", "too slow")]
    assert sorted((s["kind"], s["source"]) for s in detail["signals"]) == [("agent_punted", "detector"), ("thumbs_down", "sdk")]
