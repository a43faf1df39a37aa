"""The pipeline is chained on commit: an ingested turn that should be flagged reaches its review
queue and its problem through a real worker with no beat running; after a broker outage the
catch-up sweeps (run once by hand, as the beat would) bring a turn ingested meanwhile there too."""

from __future__ import annotations

import uuid

import pytest

from tests.faults.processes import wait_until

pytestmark = pytest.mark.fault

QUEUE = (
    "from apps.core.audit import SYSTEM; from apps.projects.models import Project; "
    "from apps.review.services.queues import review_queue_create; "
    "project = Project.all_tenants.get(pk='{project}'); "
    "queue = review_queue_create(project=project, actor=SYSTEM, name='Thumbs down', routing={{'signal_kinds': ['thumbs_down']}}); "
    "print(queue.pk)"
)
CATCH_UP = (
    "import datetime as dt, json; from django.utils import timezone; "
    "from apps.detection.services.sweep import detection_sweep; "
    "from apps.review.tasks import route_recent; from apps.problems.tasks import cluster_all; "
    "examined = detection_sweep(now=timezone.now() + dt.timedelta(minutes=5)); "
    "route_recent.apply(); cluster_all.apply(); print(json.dumps(examined))"
)


def _in_queue(stack, project_id, turn_id) -> bool:
    return bool(stack.postgres.rows(
        "SELECT 1 FROM review_reviewitem WHERE project_id = %s AND turn_id = %s", project_id, turn_id))


def _in_problem(stack, project_id, turn_id) -> bool:
    return bool(stack.postgres.rows(
        "SELECT 1 FROM problems_problemturn WHERE project_id = %s AND turn_id = %s", project_id, turn_id))


def _turn(turn_id: str) -> dict:
    return {"id": turn_id, "session_id": f"s-{turn_id[:8]}", "question": "Can I get a refund on my annual plan?",
            "agent_response": "Refunds are not possible.", "signals": {"thumbs_down": True}}


def test_a_flagged_turn_reaches_its_queue_and_problem_with_no_beat(stack, tenant, web, worker):
    # Given a project with a queue for thumbs-downs, a web server and a worker, and no beat
    project_id, secret = tenant
    stack.python(QUEUE.format(project=project_id))
    turn_id = str(uuid.uuid4())

    # When a thumbed-down turn is ingested
    status, _, _ = web.request("POST", "/api/v1/turns", _turn(turn_id), secret=secret)

    # Then ingestion → detection → routing → clustering carries it to its queue and a problem
    assert status == 201
    wait_until("the turn in its review queue", lambda: _in_queue(stack, project_id, turn_id), timeout=90)
    wait_until("the turn in a problem", lambda: _in_problem(stack, project_id, turn_id), timeout=90)
    print(f"\nchained pipeline: turn {turn_id[:8]} queued and clustered with no beat")


def test_after_a_broker_outage_the_catch_up_sweeps_bring_the_turn_through(stack, tenant, web):
    # Given a project with a thumbs-down queue, and Redis (the broker) down while a turn is ingested
    project_id, secret = tenant
    stack.python(QUEUE.format(project=project_id))
    turn_id = str(uuid.uuid4())
    stack.redis.kill()
    try:
        status, _, _ = web.request("POST", "/api/v1/turns", _turn(turn_id), secret=secret)
    finally:
        stack.redis.start()
    stack.redis.flush()
    assert status == 201
    assert not _in_queue(stack, project_id, turn_id)  # nothing was published for it

    # When the broker is back, a worker runs, and the catch-up sweeps run once (as the beat would)
    worker = stack.worker()
    try:
        examined = stack.python(CATCH_UP)

        # Then the sweeps bring the turn to its queue and a problem
        wait_until("the turn in its review queue", lambda: _in_queue(stack, project_id, turn_id), timeout=90)
        wait_until("the turn in a problem", lambda: _in_problem(stack, project_id, turn_id), timeout=90)
    finally:
        worker.kill()
    assert examined >= 1
    print(f"\nbroker outage: sweeps examined {examined} turns; turn {turn_id[:8]} queued and clustered")
