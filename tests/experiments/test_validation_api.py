"""The key routes: POST /api/v1/validations → 202 (same inputs, same id), GET the pinned shape,
changes made and promoted (409 without ship), another project's rows are 404."""

from __future__ import annotations


import pytest

from apps.experiments.models import Change, Validation
from tests.conftest import key_client_for, post_json
from tests.factories.validations import change_for, experiment_pair

pytestmark = pytest.mark.django_db


def test_post_twice_gives_one_validation_and_get_answers_the_pinned_shape(project):
    client = key_client_for(project)
    baseline, candidate = experiment_pair(project)
    body = {"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk}

    first, second = post_json(client, "/api/v1/validations", body), post_json(client, "/api/v1/validations", body)
    report = client.get(f"/api/v1/validations/{first.json()['id']}")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json() == {"id": first.json()["id"], "status": "pending"} and second.json()["id"] == first.json()["id"]
    assert Validation.objects.for_project(project).count() == 1
    assert report.status_code == 200
    assert {"id", "kind", "status", "verdict", "metrics", "flipped", "explanation"} <= set(report.json())


@pytest.mark.parametrize(("body", "code"), [
    ({"kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"},
      "target": {"signal": "thumbs_down", "direction": "decrease"}, "alpha": 0.9}, "invalid_alpha"),
    ({"kind": "offline", "baseline": 5, "candidate": 5}, "same_arms"),
    ([1, 2], "invalid"),
])
def test_bad_bodies_are_400_with_a_code(project, body, code):
    response = post_json(key_client_for(project), "/api/v1/validations", body)

    assert (response.status_code, response.json()["code"]) == (400, code)
    assert Validation.objects.for_project(project).count() == 0


def test_a_mismatched_dataset_version_is_400(project):
    baseline, candidate = experiment_pair(project, candidate_version=2)

    response = post_json(key_client_for(project), "/api/v1/validations", {"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk})

    assert (response.status_code, response.json()["code"]) == (400, "dataset_version_mismatch")


def test_another_projects_validation_and_change_are_404(project, other_project):
    foreign_change = change_for(other_project)
    baseline, candidate = experiment_pair(other_project)
    foreign = post_json(key_client_for(other_project), "/api/v1/validations", {"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk})
    client = key_client_for(project)

    assert client.get(f"/api/v1/validations/{foreign.json()['id']}").status_code == 404
    assert client.get(f"/api/v1/changes/{foreign_change.pk}").status_code == 404
    assert client.post(f"/api/v1/changes/{foreign_change.pk}/promote").status_code == 404
    assert client.get("/api/v1/validations/abc").status_code == 404


def test_changes_are_made_and_promotion_without_ship_is_409(project):
    client = key_client_for(project)
    change_for(project)

    made = post_json(client, "/api/v1/changes", {"title": "Cite the refund policy", "prompt": "support-agent", "candidate": 2, "baseline": 1})
    promote = client.post(f"/api/v1/changes/{made.json()['id']}/promote")

    assert made.status_code == 201
    assert (made.json()["candidate"], made.json()["baseline"], made.json()["status"]) == (2, 1, "open")
    assert (promote.status_code, promote.json()["code"]) == (409, "not_validated")
    assert Change.objects.for_project(project).get(pk=made.json()["id"]).status == "open"
    assert [c["id"] for c in client.get("/api/v1/changes").json()] == [made.json()["id"], made.json()["id"] - 1]
