"""Client-supplied ids are unique per project (DESIGN.md "Data model"): the same UUID in two
projects is two unrelated objects, and no answer depends on another tenant's ids."""

import json
import time
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from rest_framework.test import APIClient

from apps.feedback.signing import make_token
from apps.traces.models import Feedback, Signal, Step, Turn
from tests.factories.projects import api_key_with_secret

T0 = 1_767_261_600_000_000_000  # 2026-01-01T10:00:00Z in nanoseconds


def _client(project) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_with_secret(project=project)[1]}")
    return client


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _otlp(trace_id: uuid.UUID, span_id: str, question: str) -> dict:
    """An OTLP/JSON export: the root span of ``trace_id`` and one LLM child with ``span_id``."""
    root = uuid.uuid4().hex[:16]
    spans = [
        {"traceId": trace_id.hex, "spanId": root, "name": "agent", "startTimeUnixNano": str(T0),
         "endTimeUnixNano": str(T0 + 5_000_000),
         "attributes": [{"key": "input.value", "value": {"stringValue": question}}]},
        {"traceId": trace_id.hex, "spanId": span_id, "parentSpanId": root, "name": "llm-call",
         "startTimeUnixNano": str(T0 + 1_000_000), "endTimeUnixNano": str(T0 + 4_000_000),
         "attributes": [{"key": "openinference.span.kind", "value": {"stringValue": "LLM"}}]},
    ]
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}


def _stored(project) -> dict:
    return {
        "turns": sorted(Turn.objects.for_project(project).values_list("id", "input", "source")),
        "steps": sorted(Step.objects.for_project(project).values_list("turn_id", "span_id", "name")),
        "signals": sorted(Signal.objects.for_project(project).values_list("turn_id", "kind", "source")),
        "feedback": sorted(Feedback.objects.for_project(project).values_list("id", "turn_id", "rating", "waiting")),
    }


@pytest.mark.django_db
def test_feedback_waiting_in_one_project_attaches_after_another_project_used_its_turn_id(project, other_project):
    bravo, alpha = _client(project), _client(other_project)
    turn_id, feedback_id = str(uuid.uuid4()), str(uuid.uuid4())
    waiting = _post(bravo, "/api/v1/feedback", {"turn_id": turn_id, "id": feedback_id, "rating": "down"})

    alpha_turn = _post(alpha, "/api/v1/turns", {"id": turn_id, "question": "alpha's question"})
    bravo_turn = _post(bravo, "/api/v1/turns", {"id": turn_id, "question": "bravo's question"})

    assert (waiting.status_code, waiting.json()["state"]) == (202, "waiting")
    assert (alpha_turn.status_code, alpha_turn.json()["id"]) == (201, turn_id)
    assert (bravo_turn.status_code, bravo_turn.json()["id"]) == (201, turn_id)
    seen_by_alpha = alpha.get(f"/api/v1/turns/{turn_id}").json()
    seen_by_bravo = bravo.get(f"/api/v1/turns/{turn_id}").json()
    assert (seen_by_alpha["project"], seen_by_alpha["question"], seen_by_alpha["feedback"]) == (
        str(other_project.pk), "alpha's question", [])
    assert (seen_by_bravo["project"], seen_by_bravo["question"]) == (str(project.pk), "bravo's question")
    assert [(f["id"], f["rating"]) for f in seen_by_bravo["feedback"]] == [(feedback_id, "down")]
    assert Feedback.objects.for_project(project).get().waiting is False
    assert Feedback.objects.for_project(other_project).count() == 0


@pytest.mark.django_db
def test_widget_feedback_before_its_turn_waits_for_the_turn_of_its_own_project(project, other_project):
    bravo_key, _ = api_key_with_secret(project=project)
    bravo, alpha = _client(project), _client(other_project)
    turn_id = uuid.uuid4()
    token = make_token(signing_key=bravo_key.link_signing_key(), exp=int(time.time()) + 3600, key_id=bravo_key.key_id,
                       project_id=str(project.pk), turn_id=str(turn_id), user_id="u-1")
    submitted = Client().post(f"/f/{token}", data=json.dumps({"rating": "up"}), content_type="application/json")

    _post(alpha, "/api/v1/turns", {"id": str(turn_id), "question": "alpha's"})
    still_waiting = Feedback.objects.for_project(project).get().waiting
    _post(bravo, "/api/v1/turns", {"id": str(turn_id), "question": "bravo's"})

    assert (submitted.status_code, submitted.json()["state"]) == (200, "waiting")
    assert still_waiting is True
    assert Feedback.objects.for_project(project).get().waiting is False
    assert [f["rating"] for f in bravo.get(f"/api/v1/turns/{turn_id}").json()["feedback"]] == ["up"]
    assert alpha.get(f"/api/v1/turns/{turn_id}").json()["feedback"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("first", ["rest", "otlp"])
def test_one_uuid_as_every_id_kind_in_two_projects_is_two_independent_sets_of_objects(project, other_project, first):
    shared = uuid.uuid4()
    span_id = shared.hex[:16]
    rest, otlp = _client(project), _client(other_project)

    def send_rest():
        return [
            _post(rest, "/api/v1/ingest", {"batch": [
                {"type": "turn", "id": str(shared), "body": {"question": "over REST", "steps": [{"id": span_id, "name": "rest-step"}]}},
                {"type": "signal", "body": {"turn_id": str(shared), "kind": "escalation"}},
            ]}).json()["results"],
            _post(rest, "/api/v1/feedback", {"turn_id": str(shared), "id": str(shared), "rating": "down"}).status_code,
        ]

    def send_otlp():
        return [
            _post(otlp, "/api/v1/otlp/v1/traces", _otlp(shared, span_id, "over OTLP")).json(),
            _post(otlp, "/api/v1/feedback", {"turn_id": str(shared), "id": str(shared), "rating": "up"}).status_code,
        ]

    answers = (send_rest(), send_otlp()) if first == "rest" else tuple(reversed((send_otlp(), send_rest())))

    assert [r["status"] for r in answers[0][0]] == [201, 201]
    assert answers[0][1] == 201
    assert answers[1] == [{}, 201]  # no partialSuccess: nothing refused
    assert _stored(project) == {
        "turns": [(shared, "over REST", "sdk")],
        "steps": [(shared, span_id, "rest-step")],
        "signals": [(shared, "escalation", "sdk"), (shared, "thumbs_down", "sdk")],
        "feedback": [(shared, shared, "down", False)],
    }
    assert _stored(other_project) == {
        "turns": [(shared, "over OTLP", "otlp")],
        "steps": [(shared, span_id, "llm-call")],
        "signals": [(shared, "thumbs_up", "sdk")],
        "feedback": [(shared, shared, "up", False)],
    }


@pytest.mark.django_db
def test_a_feedback_id_reused_for_another_turn_of_the_same_project_is_still_a_conflict(project):
    client = _client(project)
    feedback_id = str(uuid.uuid4())
    _post(client, "/api/v1/feedback", {"turn_id": str(uuid.uuid4()), "id": feedback_id, "rating": "down"})

    response = _post(client, "/api/v1/feedback", {"turn_id": str(uuid.uuid4()), "id": feedback_id, "rating": "up"})

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (409, "id_conflict", "id")
    assert Feedback.objects.for_project(project).get().rating == "down"


# --- the migration to per-project keys ---------------------------------------------------------

BEFORE = [("traces", "0003_waiting_flag"), ("feedback", "0002_waiting_flag")]
AFTER = [("traces", "0004_turn_key_per_project"), ("feedback", "0003_feedback_key_per_project")]


def _primary_key(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.attname FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)
            """,
            [table],
        )
        return [row[0] for row in cursor.fetchall()]


def _migrate(targets=None):
    """Migrate to ``targets`` (default: every app's latest migration, where the other tests expect
    the schema to be)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_key_migration_keeps_every_row_and_its_id(project, other_project):
    old = _migrate(BEFORE)
    try:
        turn_id, feedback_id = uuid.uuid4(), uuid.uuid4()
        old.get_model("traces", "Turn").objects.create(id=turn_id, project_id=project.pk, input="kept")
        old.get_model("feedback", "Feedback").objects.create(id=feedback_id, project_id=project.pk, turn_id=turn_id, rating="up")
        old_keys = (_primary_key("traces_turn"), _primary_key("feedback_feedback"))
    finally:
        _migrate(AFTER)
        new_keys = (_primary_key("traces_turn"), _primary_key("feedback_feedback"))
        _migrate()

    assert old_keys == (["id"], ["id"])
    assert new_keys == (["project_id", "id"], ["project_id", "id"])
    assert list(Turn.objects.for_project(project).values_list("id", "input")) == [(turn_id, "kept")]
    assert list(Feedback.objects.for_project(project).values_list("id", "turn_id", "rating")) == [(feedback_id, turn_id, "up")]
    Turn.objects.create(id=turn_id, project=other_project, input="another project's turn")
    Feedback.objects.create(id=feedback_id, project=other_project, turn_id=turn_id)
    assert Turn.all_tenants.filter(id=turn_id).count() == 2  # unscoped: both projects' rows, by design
    assert Feedback.all_tenants.filter(id=feedback_id).count() == 2  # unscoped: both projects' rows, by design
