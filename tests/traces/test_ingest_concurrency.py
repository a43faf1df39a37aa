"""Concurrent duplicates against real PostgreSQL: retries racing each other store one row."""

import json
import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.feedback.models import Feedback
from apps.traces.models import Signal, Step, Turn
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
def test_the_same_turn_id_in_two_projects_is_a_conflict_not_a_takeover(project, other_project):
    _, secret_a = api_key_with_secret(project=project)
    _, secret_b = api_key_with_secret(project=other_project)
    turn_id = str(uuid.uuid4())
    client = APIClient()

    first = client.post("/api/v1/turns", data=json.dumps({"id": turn_id, "question": "mine"}),
                        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret_a}")
    second = client.post("/api/v1/turns", data=json.dumps({"id": turn_id, "question": "theirs"}),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret_b}")

    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json()["code"] == "id_conflict"
    assert Turn.objects.for_project(project).get().input == "mine"
    assert Turn.objects.for_project(other_project).count() == 0
