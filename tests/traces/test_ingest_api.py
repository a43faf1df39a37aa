import gzip
import json
import uuid

import pytest
from rest_framework.test import APIClient

from apps.feedback.signing import read_claims, signature_matches
from apps.traces.models import Feedback, Signal, Step, Turn
from tests.factories.projects import api_key_with_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(project):
    return api_key_with_secret(project=project)


@pytest.fixture
def client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key[1]}")
    return client


def post(client, path, body, **extra):
    return client.post(path, data=json.dumps(body), content_type="application/json", **extra)


def test_log_turn_stores_full_context_and_returns_a_verifiable_feedback_url(client, key, project):
    turn_id = str(uuid.uuid4())
    body = {
        "id": turn_id, "question": "Where is my order?", "agent_response": "It shipped.", "user_id": "u-1",
        "session_id": "s-1", "signals": {"thumbs_down": True, "confidence": 0.2}, "history": [{"role": "user", "content": "hi"}],
        "prompt_version": "v12", "model": "gpt-x", "retrieved": [{"id": "kb-1", "score": 0.3}],
        "tool_calls": [{"name": "track", "result": {"status": "shipped"}}], "metadata": {"plan": "pro"}, "variant": "B",
        "timestamp": "2026-11-01T10:00:00Z",
        "steps": [{"id": "s1", "kind": "tool", "name": "track", "input": {"q": 1}, "output": "ok"}],
    }

    response = post(client, "/api/v1/turns", body)

    assert response.status_code == 201
    assert response.json()["id"] == turn_id
    claims, payload, signature = read_claims(response.json()["feedback_url"].rsplit("/f/", 1)[1])
    assert (claims.turn_id, claims.user_id, claims.project_id, claims.key_id) == (turn_id, "u-1", str(project.pk), key[0].key_id)
    assert signature_matches(payload, signature, key[0].link_signing_key())
    turn = Turn.objects.for_project(project).get(id=turn_id)
    assert (turn.input, turn.output, turn.end_user_id, turn.variant, turn.model) == ("Where is my order?", "It shipped.", "u-1", "B", "gpt-x")
    assert turn.created_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert turn.expires_at is not None
    assert sorted(Signal.objects.for_project(project).values_list("kind", "value")) == [("confidence", 0.2), ("thumbs_down", True)]
    assert Step.objects.for_project(project).get().name == "track"


def test_repeating_a_turn_is_200_with_the_same_id_and_stores_one_row(client, project):
    body = {"id": str(uuid.uuid4()), "question": "q", "signals": {"thumbs_down": True}}

    first = post(client, "/api/v1/turns", body)
    second = post(client, "/api/v1/turns", body)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Turn.objects.for_project(project).count() == 1
    assert Signal.objects.for_project(project).count() == 1


def test_batch_mixes_good_and_bad_items_and_parks_early_feedback(client, project):
    turn_id = str(uuid.uuid4())
    late_turn = str(uuid.uuid4())
    batch = {"batch": [
        {"type": "turn", "id": turn_id, "body": {"question": "a"}},
        {"type": "turn", "body": {"question": 5}},
        {"type": "wat", "body": {}},
        {"type": "feedback", "body": {"turn_id": late_turn, "id": str(uuid.uuid4()), "rating": "down", "comment": "bad"}},
        {"type": "signal", "body": {"turn_id": turn_id, "kind": "escalation"}},
    ]}

    response = post(client, "/api/v1/ingest", batch)

    results = response.json()["results"]
    assert response.status_code == 207
    assert [r["status"] for r in results] == [201, 400, 400, 202, 201]
    assert results[1]["field"] == "body.question"
    assert results[2]["code"] == "unknown_type"
    assert response.json()["accepted"] == 3
    assert Feedback.objects.for_project(project).get().turn_id == uuid.UUID(late_turn)

    post(client, "/api/v1/turns", {"id": late_turn, "question": "late"})

    detail = client.get(f"/api/v1/turns/{late_turn}").json()
    assert detail["feedback"][0]["comment"] == "bad"
    assert [(s["kind"], s["source"]) for s in detail["signals"]] == [("thumbs_down", "sdk")]


def test_gzip_body_is_accepted(client, project):
    body = gzip.compress(json.dumps({"question": "zipped"}).encode())

    response = client.post("/api/v1/turns", data=body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 201
    assert Turn.objects.for_project(project).get().input == "zipped"


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b'{"question": "\\ud800"}', "invalid_unicode"), (b"{nope", "malformed_json"), (b"", "malformed_json")],
)
def test_bad_bodies_are_rejected_with_a_code(client, project, raw, code):
    response = client.post("/api/v1/turns", data=raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert Turn.objects.for_project(project).count() == 0


def test_nul_bytes_are_stripped(client, project):
    response = client.post("/api/v1/turns", data=b'{"question": "a\\u0000b", "metadata": {"k\\u0000": "v\\u0000"}}', content_type="application/json")

    turn = Turn.objects.for_project(project).get()
    assert response.status_code == 201
    assert (turn.input, turn.metadata) == ("ab", {"k": "v"})


def test_wrong_key_is_401_and_revoked_key_stops_at_once(project):
    client = APIClient()

    response = client.post("/api/v1/turns", data="{}", content_type="application/json", HTTP_AUTHORIZATION="Bearer al_sk_nope_nope")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"


def test_batch_item_ids_are_optional_bookkeeping_for_signals(client, project):
    turn_id = str(uuid.uuid4())

    response = post(client, "/api/v1/ingest", {"batch": [
        {"type": "signal", "id": str(uuid.uuid4()), "body": {"turn_id": turn_id, "kind": "escalation"}},
    ]})

    assert response.json()["results"][0]["status"] == 202
    assert Signal.objects.for_project(project).get().kind == "escalation"


def test_a_key_reads_only_its_own_projects_turns(client, other_project):
    _, other_secret = api_key_with_secret(project=other_project)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_secret}")
    theirs = post(other, "/api/v1/turns", {"question": "secret of another tenant"}).json()["id"]

    response = client.get(f"/api/v1/turns/{theirs}")
    missing = client.get(f"/api/v1/turns/{uuid.uuid4()}")
    malformed = client.get("/api/v1/turns/not-a-uuid")

    assert (response.status_code, missing.status_code, malformed.status_code) == (404, 404, 404)
    assert response.json() == missing.json()
    assert "secret of another tenant" not in response.content.decode()


def test_deflate_body_is_accepted_and_unknown_encodings_are_415(client, project):
    import zlib

    deflated = client.post("/api/v1/turns", data=zlib.compress(json.dumps({"question": "deflated"}).encode()),
                           content_type="application/json", HTTP_CONTENT_ENCODING="deflate")
    brotli = client.post("/api/v1/turns", data=b"xx", content_type="application/json", HTTP_CONTENT_ENCODING="br")

    assert deflated.status_code == 201
    assert (brotli.status_code, brotli.json()["code"]) == (415, "unsupported_media_type")
    assert list(Turn.objects.for_project(project).values_list("input", flat=True)) == ["deflated"]


def _waiting_flags(project, turn_id):
    return {
        "feedback": list(Feedback.objects.for_project(project).filter(turn_id=turn_id).values_list("waiting", flat=True)),
        "signals": sorted(Signal.objects.for_project(project).filter(turn_id=turn_id).values_list("waiting", flat=True)),
        "steps": list(Step.objects.for_project(project).filter(turn_id=turn_id).values_list("waiting", flat=True)),
    }


def test_children_before_their_turn_are_flagged_waiting_until_it_arrives(client, project):
    early, on_time = str(uuid.uuid4()), str(uuid.uuid4())
    post(client, "/api/v1/turns", {"id": on_time, "question": "here already"})
    children = [
        {"type": "feedback", "body": {"turn_id": turn, "id": str(uuid.uuid4()), "rating": "down"}} for turn in (early, on_time)
    ] + [
        {"type": "signal", "body": {"turn_id": turn, "kind": "escalation"}} for turn in (early, on_time)
    ] + [
        {"type": "step", "body": {"turn_id": turn, "id": "span-1", "kind": "llm"}} for turn in (early, on_time)
    ]

    statuses = [r["status"] for r in post(client, "/api/v1/ingest", {"batch": children}).json()["results"]]

    assert statuses == [202, 201, 202, 201, 202, 201]
    # the implied thumbs_down signal of the feedback waits with it
    assert _waiting_flags(project, early) == {"feedback": [True], "signals": [True, True], "steps": [True]}
    assert _waiting_flags(project, on_time) == {"feedback": [False], "signals": [False, False], "steps": [False]}

    post(client, "/api/v1/turns", {"id": early, "question": "late"})

    assert _waiting_flags(project, early) == {"feedback": [False], "signals": [False, False], "steps": [False]}
