"""Session routes of experiments: the permission matrix (denials change nothing) and the comparison."""

from __future__ import annotations

import json

import pytest

from apps.core.roles import Role
from apps.experiments.models import Experiment, ExperimentResult
from apps.experiments.services.experiments import experiment_score, results_upload
from tests.conftest import client_for
from tests.factories.experiments import case_ids, dataset_with_cases, experiment

ROLES = ["anonymous", "outsider", Role.MEMBER, Role.REVIEWER, Role.ADMIN, Role.OWNER]


def _base(project) -> str:
    return f"/api/v1/orgs/{project.organization.slug}/projects/{project.pk}/experiments"


def _caller(role, members, outsider):
    if role == "anonymous":
        return client_for(None, api=True)
    if role == "outsider":
        return client_for(outsider, api=True)
    return client_for(members[role].user, api=True)


@pytest.fixture
def pair(project):
    dataset = dataset_with_cases(project=project)
    ids = case_ids(dataset)
    baseline = experiment(project=project, dataset=dataset, name="baseline")
    candidate = experiment(project=project, dataset=dataset, name="candidate")
    results_upload(experiment=baseline, items=[{"case_id": ids[0], "output": "30 days"}, {"case_id": ids[1], "output": "Yes"},
                                               {"case_id": ids[2], "output": "4"}])
    results_upload(experiment=candidate, items=[{"case_id": ids[0], "output": "about 30 days"},
                                                {"case_id": ids[1], "output": "No, the window is 30 days"},
                                                {"case_id": ids[2], "output": "4"}])
    experiment_score(experiment=baseline)
    experiment_score(experiment=candidate)
    return baseline, candidate, ids


def _state(project):
    return (Experiment.objects.for_project(project).count(), sorted(
        ExperimentResult.objects.for_project(project).values_list("experiment_id", "case_id", "output")))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "expected"), [
    ("get", "", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/{b}", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/{b}/results", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/{b}/compare?with={c}", None, [403, 404, 200, 200, 200, 200]),
    ("post", "", {"name": "new", "dataset": "Refund failures", "dataset_version": 1}, [403, 404, 403, 201, 201, 201]),
    ("post", "/{b}/results/upload", {"results": [{"case_id": "{i}", "output": "changed"}]}, [403, 404, 403, 207, 207, 207]),
])
def test_permission_matrix(project, members, outsider, pair, role, method, path, body, expected):
    baseline, candidate, ids = pair
    client = _caller(role, members, outsider)
    url = _base(project) + path.format(b=baseline.pk, c=candidate.pk)
    before = _state(project)

    if method == "get":
        response = client.get(url)
    else:
        text = json.dumps(body).replace("{i}", ids[0])
        response = client.post(url, data=text, content_type="application/json")

    wanted = expected[ROLES.index(role)]
    assert response.status_code == wanted, response.content[:300]
    if wanted >= 400:
        assert _state(project) == before


def test_compare_lists_pass_to_fail_first_then_fail_to_pass(project, members, pair):
    baseline, candidate, ids = pair
    client = client_for(members[Role.MEMBER].user, api=True)

    body = client.get(f"{_base(project)}/{baseline.pk}/compare?with={candidate.pk}").json()

    assert body["flipped"] == [{"case_id": ids[0], "scorer": "exact", "flip": "pass→fail"},
                               {"case_id": ids[1], "scorer": "exact", "flip": "fail→pass"}]
    assert (body["regressions"], body["improvements"], body["scorers"]) == (1, 1, ["exact"])


def test_compare_across_dataset_versions_is_refused(project, members, pair, other_project):
    baseline, _, _ = pair
    other = experiment(project=project, dataset=dataset_with_cases(project=project, name="Other"), name="other")
    client = client_for(members[Role.MEMBER].user, api=True)

    response = client.get(f"{_base(project)}/{baseline.pk}/compare?with={other.pk}")
    foreign = experiment(project=other_project, dataset=dataset_with_cases(project=other_project), name="foreign")
    hidden = client.get(f"{_base(project)}/{baseline.pk}/compare?with={foreign.pk}")
    missing = client.get(f"{_base(project)}/{baseline.pk}/compare?with=999999999")

    assert (response.status_code, response.json()["code"]) == (400, "different_dataset_versions")
    assert (hidden.status_code, missing.status_code) == (404, 404)


def test_word_diff_marks_changed_words():
    from apps.experiments.selectors.compare import word_diff

    assert word_diff("the window is 30 days", "the window is 14 days") == [
        ("same", "the window is"), ("removed", "30"), ("added", "14"), ("same", "days")]
