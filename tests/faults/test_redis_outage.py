"""Redis frozen (SIGSTOP) and then killed while turns are ingested: ingestion keeps storing at
its healthy pace, nothing is lost or doubled, and detection catches up through the sweep.

The freeze lasts ``OUTAGE_SECONDS`` (10 s, not the 30 s of the issue: a request pays for an
outage only at its start, one short timeout per web process per breaker pause, so a longer
freeze adds requests at the healthy latency and proves nothing more)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.faults.load import PUNT, Load
from tests.faults.processes import p99, wait_until

pytestmark = pytest.mark.fault

HEALTHY_SECONDS = 8
OUTAGE_SECONDS = 10

MISSING_PASSES = """SELECT count(*) FROM traces_turn t WHERE t.project_id = %s
AND NOT EXISTS (SELECT 1 FROM detection_detectionpass p WHERE p.project_id = t.project_id AND p.turn_id = t.id)"""


def _signal(stack, project_id: str, turn_id: str) -> list[tuple]:
    return stack.postgres.rows("SELECT kind FROM traces_signal WHERE project_id = %s AND turn_id = %s", project_id, turn_id)


def test_redis_frozen_then_killed_ingestion_keeps_its_pace_and_detection_catches_up(stack, tenant, web, worker):
    project_id, secret = tenant
    load = Load(web, secret, threads=3)
    load.phase = "warm-up"  # first requests of fresh processes (imports, connections): not measured
    load.start()
    time.sleep(3)
    load.phase = "healthy"
    time.sleep(HEALTHY_SECONDS)

    load.phase = "frozen"
    stack.redis.freeze()
    time.sleep(OUTAGE_SECONDS / 2)
    started = time.perf_counter()
    health_status, health, _ = web.request("GET", "/healthz")
    health_seconds = time.perf_counter() - started
    time.sleep(OUTAGE_SECONDS / 2)
    stack.redis.thaw()

    load.phase = "killed"
    stack.redis.kill()
    time.sleep(OUTAGE_SECONDS)
    stack.redis.start()
    load.phase = "recovered"
    time.sleep(2)
    load.stop()

    # the worker is back on the restarted Redis: a new turn is detected through its task
    probes: list[str] = []

    def detected_by_the_worker():
        turn_id = str(uuid.uuid4())
        probes.append(turn_id)
        web.request("POST", "/api/v1/turns", {"id": turn_id, "question": "after", "agent_response": PUNT}, secret=secret)
        return wait_until("its signal", lambda: _signal(stack, project_id, turn_id), timeout=5) and turn_id

    wait_until("a turn detected by the worker after Redis returned", detected_by_the_worker, timeout=90, interval=0)
    missing_before_sweep = stack.postgres.rows(MISSING_PASSES, project_id)[0][0]
    swept = stack.python(
        "import json; from django.utils import timezone; from apps.detection.services import sweep as services; "
        "print(json.dumps(services.detection_sweep(limit=100_000, now=timezone.now() + services.SWEEP_GRACE)))"
    )

    stored = [str(r[0]) for r in stack.postgres.rows("SELECT id FROM traces_turn WHERE project_id = %s", project_id)]
    punted = [str(r[0]) for r in stack.postgres.rows(
        "SELECT turn_id FROM traces_signal WHERE project_id = %s AND kind = 'agent_punted'", project_id)]
    healthy = p99(load.latencies["healthy"])
    figures = {phase: (len(load.latencies[phase]), round(p99(load.latencies[phase]) * 1000, 1))
               for phase in ("healthy", "frozen", "killed")}
    print(f"\nRedis frozen {OUTAGE_SECONDS} s then killed {OUTAGE_SECONDS} s: {load.requests} requests, "
          f"{len(load.acknowledged)} acknowledged, {len(stored)} stored; (requests, p99 ms) by phase {figures}; "
          f"/healthz while frozen {health_status} in {health_seconds * 1000:.0f} ms, broker {health['broker']}; "
          f"turns without detection before the sweep {missing_before_sweep}, examined by the sweep {swept}")
    assert load.failed_attempts == 0
    assert set(stored) == load.acknowledged | set(probes) and len(stored) == len(set(stored))
    assert p99(load.latencies["frozen"]) <= 2 * healthy
    assert p99(load.latencies["killed"]) <= 2 * healthy
    assert health_status == 503 and health_seconds < 1.5
    assert health["broker"]["publish_failures"] >= 1
    assert missing_before_sweep > 0  # the outage's turns had no task: only the sweep can catch them
    assert stack.postgres.rows(MISSING_PASSES, project_id)[0][0] == 0
    assert sorted(punted) == sorted(stored)  # every turn's signal, once
