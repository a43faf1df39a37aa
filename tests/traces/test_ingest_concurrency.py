"""Concurrent duplicates against real PostgreSQL: retries racing each other store one row."""

import json
import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.traces.models import Feedback, Signal, Step, Turn
from tests.factories.projects import api_key_with_secret

THREADS = 8


def _race(fn):
    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_batches_store_each_item_once(project):
    _, secret = api_key_with_secret(project=project)
    turn_id, feedback_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = json.dumps({"batch": [
        {"type": "turn", "id": turn_id, "body": {"question": "q", "signals": {"thumbs_down": True},
                                                 "steps": [{"id": "a", "kind": "llm"}, {"id": "b", "parent_id": "a"}]}},
        {"type": "signal", "body": {"turn_id": turn_id, "kind": "escalation", "dedupe_key": "k"}},
        {"type": "feedback", "body": {"turn_id": turn_id, "id": feedback_id, "rating": "down"}},
    ]})

    def send():
        client = APIClient()
        return client.post("/api/v1/ingest", data=body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {secret}").json()["results"]

    results = _race(send)

    turn_statuses = sorted(r[0]["status"] for r in results)
    assert turn_statuses == [200] * (THREADS - 1) + [201]
    assert all(r[1]["status"] in (200, 201) and r[2]["status"] in (200, 201) for r in results)
    assert Turn.objects.for_project(project).count() == 1
    assert Step.objects.for_project(project).count() == 2
    assert Feedback.objects.for_project(project).count() == 1
    assert sorted(Signal.objects.for_project(project).values_list("kind", flat=True)) == ["escalation", "thumbs_down", "thumbs_down"]


@pytest.mark.django_db(transaction=True)
def test_the_same_turn_id_sent_by_two_projects_at_once_is_one_turn_in_each(project, other_project):
    senders = [(str(p.pk), api_key_with_secret(project=p)[1]) for p in (project, other_project)] * (THREADS // 2)
    turn_id = str(uuid.uuid4())

    def send():
        project_id, secret = senders.pop()
        body = json.dumps({"id": turn_id, "question": f"from {project_id}"})
        return APIClient().post("/api/v1/turns", data=body, content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {secret}").status_code

    statuses = _race(send)

    assert sorted(statuses) == [200] * (THREADS - 2) + [201, 201]
    for owner in (project, other_project):
        assert list(Turn.objects.for_project(owner).values_list("id", "input")) == [(uuid.UUID(turn_id), f"from {owner.pk}")]
