"""The key routes (``/api/v1/datasets…``) and the session routes' permission matrix."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from apps.core.roles import Role
from apps.datasets.models import CaseRevision, Dataset, DatasetVersion
from tests.conftest import post_json
from tests.factories.datasets import DatasetFactory, confirmed_turn
from tests.factories.projects import api_key_with_secret


def test_a_key_creates_lists_and_reads_datasets(key_client, project):
    created = post_json(key_client, "/api/v1/datasets", {"name": "Smoke", "description": "CI smoke set"})
    duplicate = post_json(key_client, "/api/v1/datasets", {"name": "Smoke"})

    listing = key_client.get("/api/v1/datasets").json()
    detail = key_client.get("/api/v1/datasets/Smoke").json()

    assert created.status_code == 201 and created.json()["latest_version"] is None
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "duplicate_name")
    assert [d["name"] for d in listing["results"]] == ["Smoke"]
    assert (detail["name"], detail["latest_version"], detail["cases_count"], detail["versions"]) == ("Smoke", None, 0, [])
    assert key_client.get("/api/v1/datasets/Nope").json()["code"] == "not_found"


def test_a_key_adds_cases_with_per_item_results(key_client, project, other_project):
    DatasetFactory(project=project, name="Refunds")
    turn, _ = confirmed_turn(project)
    foreign, _ = confirmed_turn(other_project)
    body = {"message": "from CI", "cases": [
        {"input": "hand written", "expected_output": "yes", "tags": ["smoke"], "split": "holdout"},
        {"turn_id": str(turn.id), "split": "regression"},
        {"turn_id": str(foreign.id)},
        {"input": ""},
        {"turn_id": str(turn.id)},
    ]}

    response = post_json(key_client, "/api/v1/datasets/Refunds/cases", body)

    payload = response.json()
    assert response.status_code == 201
    assert (payload["version"], payload["added"], payload["rejected"]) == (1, 2, 2)
    assert [r["status"] for r in payload["results"]] == [201, 201, 404, 400, 200]
    assert payload["results"][2]["code"] == "not_found" and payload["results"][3]["field"] == "cases[3].input"
    assert payload["results"][4]["case_id"] == payload["results"][1]["case_id"]
    version = DatasetVersion.objects.for_project(project).get()
    assert (version.message, version.author_label, version.cases_count) == ("from CI", "API key ci", 2)

    again = post_json(key_client, "/api/v1/datasets/Refunds/cases", {"cases": [{"turn_id": str(turn.id)}]})
    assert (again.status_code, again.json()["version"], again.json()["added"]) == (200, 1, 0)


def test_a_key_pages_exports_and_diffs_versions(key_client, project):
    DatasetFactory(project=project, name="Pages")
    post_json(key_client, "/api/v1/datasets/Pages/cases", {"cases": [{"input": f"q{i}", "expected_output": f"a{i}"} for i in range(5)]})
    post_json(key_client, "/api/v1/datasets/Pages/cases", {"cases": [{"input": "q5"}]})

    first = key_client.get("/api/v1/datasets/Pages/versions/1/cases?limit=2").json()
    second = key_client.get(first["next"]).json()
    third = key_client.get(second["next"]).json()
    export = key_client.get("/api/v1/datasets/Pages/versions/2/export?format=jsonl")
    assert export.status_code == 200, export.content
    diff = key_client.get("/api/v1/datasets/Pages/diff?from=1&to=2").json()

    assert [c["input"] for page in (first, second, third) for c in page["results"]] == ["q0", "q1", "q2", "q3", "q4"]
    assert third["next"] is None
    assert export["Content-Disposition"] == 'attachment; filename="Pages-v2.jsonl"'
    assert [json.loads(line)["input"] for line in b"".join(export.streaming_content).decode().splitlines()] == [f"q{i}" for i in range(6)]
    assert diff["counts"] == {"added": 1, "removed": 0, "changed": 0} and diff["added"][0]["input"] == "q5"
    assert key_client.get("/api/v1/datasets/Pages/versions/9/cases").status_code == 404
    assert key_client.get("/api/v1/datasets/Pages/versions/1/export?format=xml").json()["field"] == "format"
    assert key_client.get("/api/v1/datasets/Pages/diff?from=x").json()["field"] == "from"
    assert key_client.get("/api/v1/datasets/Pages/diff").json()["counts"] == diff["counts"]
    assert key_client.get("/api/v1/datasets/Pages/versions/1/cases?cursor=zzz").json()["field"] == "cursor"


def test_a_key_of_another_project_sees_none_of_these_datasets(project, other_project):
    DatasetFactory(project=project, name="Mine")
    _, secret = api_key_with_secret(project=other_project)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert client.get("/api/v1/datasets").json()["results"] == []
    assert client.get("/api/v1/datasets/Mine").status_code == 404
    assert post_json(client, "/api/v1/datasets/Mine/cases", {"cases": [{"input": "x"}]}).status_code == 404
    assert APIClient().get("/api/v1/datasets").status_code == 401


def _session(organization, project, dataset=None):
    base = f"/api/v1/orgs/{organization.slug}/projects/{project.pk}/datasets"
    return base if dataset is None else f"{base}/{dataset.pk}"


WRITES = {
    "create": ("post", "", {"name": "New one"}),
    "rename": ("patch", "/", {"name": "Renamed"}),
    "add": ("post", "/cases", {"cases": [{"input": "x"}]}),
}


@pytest.mark.parametrize(("who", "allowed"), [
    ("anonymous", False), ("outsider", False), (Role.MEMBER, False), (Role.REVIEWER, True), (Role.ADMIN, True), (Role.OWNER, True),
])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_the_session_api_permission_matrix(organization, project, dataset, members, outsider, who, allowed, write):
    client = APIClient()
    user = {"anonymous": None, "outsider": outsider}[who] if who in ("anonymous", "outsider") else members[who].user
    if user is not None:
        client.force_authenticate(user)
    method, suffix, body = WRITES[write]
    url = _session(organization, project) if write == "create" else _session(organization, project, dataset) + suffix.rstrip("/")

    response = getattr(client, method)(url, data=json.dumps(body), content_type="application/json")
    read = client.get(_session(organization, project))

    if allowed:
        assert response.status_code in (200, 201)
    else:
        assert response.status_code == {"anonymous": 403, "outsider": 404}.get(who, 403)
        assert sorted(Dataset.objects.for_project(project).values_list("name", flat=True)) == ["Refund failures"]
        assert not CaseRevision.objects.for_project(project).exists()
    assert read.status_code == (200 if who not in ("anonymous", "outsider") else {"anonymous": 403, "outsider": 404}[who])


def test_an_edit_of_an_old_version_is_version_immutable(organization, project, dataset, members):
    client = APIClient()
    client.force_authenticate(members[Role.REVIEWER].user)
    base = _session(organization, project, dataset)
    added = post_json(client, f"{base}/cases", {"cases": [{"input": "q", "expected_output": "a"}]}).json()
    case_id = added["results"][0]["case_id"]
    edit = client.patch(f"{base}/versions/1/cases/{case_id}", data=json.dumps({"changes": {"expected_output": "b"}}), content_type="application/json")

    old = client.patch(f"{base}/versions/1/cases/{case_id}", data=json.dumps({"changes": {"expected_output": "c"}}), content_type="application/json")
    moved = post_json(client, f"{base}/cases/move", {"case_ids": [case_id], "split": "train", "version": 1})
    removed = post_json(client, f"{base}/cases/remove", {"case_ids": [case_id], "version": 2})

    assert edit.json()["version"] == 2
    assert (old.status_code, old.json()["code"]) == (409, "version_immutable")
    assert (moved.status_code, moved.json()["code"]) == (409, "version_immutable")
    assert removed.json() == {"version": 3, "added": 0, "removed": 1, "changed": 0}
    versions = client.get(f"{base}/versions").json()["results"]
    assert [v["number"] for v in versions] == [3, 2, 1]
    diff = client.get(f"{base}/diff?from=1&to=2").json()
    assert diff["changed"][0]["fields"] == {"expected_output": {"from": "a", "to": "b"}}
