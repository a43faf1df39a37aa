"""A web server and a Celery worker SIGKILLed while they work: nothing acknowledged is lost,
nothing is stored twice, and a task that was running is redelivered and takes effect once."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from tests.faults.load import PUNT, Load
from tests.faults.processes import wait_until

pytestmark = pytest.mark.fault

KILLS = 2


def _stored(stack, project_id: str) -> list[str]:
    return [str(row[0]) for row in stack.postgres.rows("SELECT id FROM traces_turn WHERE project_id = %s", project_id)]


def test_web_sigkilled_mid_batch_every_acknowledged_turn_is_stored_exactly_once(stack, tenant, web):
    project_id, secret = tenant
    load = Load(web, secret, threads=3, batch=20).start()

    for _ in range(KILLS):
        wait_until("requests in flight", lambda: load.requests >= 10, timeout=60)
        time.sleep(1.0)
        web.kill(signal.SIGKILL)  # no graceful shutdown: batches in flight die with it
        web.start()
    time.sleep(1.0)
    load.stop()

    stored = _stored(stack, project_id)
    print(f"\nweb SIGKILL x{KILLS}: {load.requests} requests, {load.failed_attempts} interrupted and retried, "
          f"{len(load.acknowledged)} turns acknowledged, {len(stored)} stored ({len(set(stored))} distinct)")
    assert load.failed_attempts > 0
    assert len(stored) == len(set(stored)) == len(load.acknowledged)
    assert set(stored) == load.acknowledged


def _waiting_on_lock(stack) -> list[int]:
    return [row[0] for row in stack.postgres.rows(
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s", "%detection_detectionpass%")]


def test_worker_sigkilled_mid_task_the_task_is_redelivered_and_takes_effect_once(stack, tenant, web):
    # given a worker whose detection task is held mid-write by a table lock
    project_id, secret = tenant
    turn_id = str(uuid.uuid4())
    stack.redis.flush()  # only this test's task in the queue
    first = stack.worker(CELERY_VISIBILITY_TIMEOUT="5")
    lock = stack.postgres.connect()
    lock.autocommit = False
    lock.execute("LOCK TABLE detection_detectionpass IN EXCLUSIVE MODE")
    try:
        status, _, _ = web.request("POST", "/api/v1/turns", {"id": turn_id, "question": "refund?", "agent_response": PUNT},
                                   secret=secret)
        blocked = wait_until("the detection task blocked on its write", lambda: _waiting_on_lock(stack), timeout=60)

        # when the worker dies mid-task (its host with it: the connection goes too)
        first.kill(signal.SIGKILL)
        for pid in blocked:
            stack.postgres.rows("SELECT pg_terminate_backend(%s)", pid)
    finally:
        lock.rollback()
        lock.close()
    before = stack.postgres.rows("SELECT count(*) FROM traces_signal WHERE project_id = %s", project_id)[0][0]
    second = stack.worker(CELERY_VISIBILITY_TIMEOUT="5")
    try:
        signals = wait_until("the redelivered task's signal", lambda: stack.postgres.rows(
            "SELECT kind, source FROM traces_signal WHERE project_id = %s AND turn_id = %s", project_id, turn_id), timeout=90)
        time.sleep(6)  # past another visibility timeout: a second delivery would have run by now
        signals = stack.postgres.rows(
            "SELECT kind, source FROM traces_signal WHERE project_id = %s AND turn_id = %s", project_id, turn_id)
        passes = stack.postgres.rows(
            "SELECT count(*) FROM detection_detectionpass WHERE project_id = %s AND turn_id = %s", project_id, turn_id)[0][0]
        received = sum(1 for line in second.log.read_text(errors="replace").splitlines()
                       if "detection.detect_turns[" in line and "received" in line)
    finally:
        second.kill()

    # then it ran again on the new worker and its effect is there once
    print(f"\nworker SIGKILL mid-task: signals before redelivery {before}, after {len(signals)}; "
          f"deliveries to the new worker {received}")
    assert status == 201
    assert before == 0
    assert received == 1
    assert signals == [("agent_punted", "detector")]
    assert passes == 1
