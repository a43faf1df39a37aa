"""Key routes of experiments: create, per-item upload (errors, idempotent re-upload), JSONL,
scoring on the worker (run twice), the summary per scorer, and the selector validations use."""

from __future__ import annotations

import json
import uuid

import pytest

from apps.experiments.models import Experiment, ExperimentResult
from apps.experiments.selectors.experiments import experiment_scores
from apps.experiments.tasks import score
from tests.conftest import post_json
from tests.factories.experiments import case_ids, dataset_with_cases, prompt_with_versions


SCORERS = [{"name": "exact", "kind": "exact_match"}, {"name": "sim", "kind": "similarity"},
           {"name": "judge", "kind": "posted"}]


def _create(client, **extra):
    body = {"name": "baseline", "dataset": "Refund failures", "dataset_version": 1, "scorers": SCORERS, **extra}
    return post_json(client, "/api/v1/experiments", body)


def test_create_upload_score_and_summary(key_client, project):
    dataset = dataset_with_cases(project=project)
    prompt_with_versions(project=project, count=2)
    ids = case_ids(dataset)

    created = _create(key_client, prompt={"name": "support-agent", "version": 2})
    experiment_id = created.json()["id"]
    upload = post_json(key_client, f"/api/v1/experiments/{experiment_id}/results", {"results": [
        {"case_id": ids[0], "output": "30 days", "scores": {"judge": 1}},
        {"case_id": ids[1], "output": "Yes", "scores": {"judge": 0}},
        {"case_id": str(uuid.uuid4()), "output": "?"},
        {"case_id": "nope", "output": "?"},
        {"case_id": ids[2], "output": 4},
        {"case_id": ids[2], "output": "4", "scores": {"judge": float("nan")} if False else {"judge": "high"}},
    ]})
    score(project_id=str(project.id), experiment_id=experiment_id)
    score(project_id=str(project.id), experiment_id=experiment_id)
    detail = key_client.get(f"/api/v1/experiments/{experiment_id}").json()

    assert created.status_code == 201
    assert upload.status_code == 207
    body = upload.json()
    assert (body["accepted"], body["rejected"]) == (2, 4)
    assert [(r["status"], r.get("code"), r.get("field")) for r in body["results"]] == [
        (201, None, None), (201, None, None), (404, "not_found", "case_id"),
        (400, "invalid", "results[3].case_id"), (400, "invalid", "results[4].output"), (400, "invalid", "results[5].scores"),
    ]
    assert (detail["status"], detail["cases_total"], detail["cases_done"], detail["results_count"]) == ("done", 3, 2, 2)
    assert detail["prompt"] == {"name": "support-agent", "version": 2}
    assert detail["summary"]["exact"] == {"n": 2, "passed": 1, "pass_rate": 0.5, "mean": 0.5}
    assert detail["summary"]["judge"] == {"n": 2, "passed": None, "pass_rate": None, "mean": 0.5}
    assert detail["summary"]["sim"]["n"] == 2 and detail["summary"]["sim"]["passed"] is None
    scores = experiment_scores(project=project, experiment=experiment_id)
    assert scores[ids[0]]["exact"] is True and scores[ids[1]]["exact"] is False
    assert scores[ids[0]]["judge"] == 1.0
    assert set(scores) == {ids[0], ids[1]}


def test_reupload_of_a_case_keeps_one_row_and_updates_it(key_client, project):
    dataset = dataset_with_cases(project=project)
    ids = case_ids(dataset)
    experiment_id = _create(key_client).json()["id"]
    url = f"/api/v1/experiments/{experiment_id}/results"

    first = post_json(key_client, url, {"results": [{"case_id": ids[0], "output": "31 days"}]})
    score(project_id=str(project.id), experiment_id=experiment_id)
    again = post_json(key_client, url, {"results": [{"case_id": ids[0], "output": "30 days"}, {"case_id": ids[0], "output": "30 days"}]})
    score(project_id=str(project.id), experiment_id=experiment_id)

    assert first.json()["results"][0]["status"] == 201
    assert [r["status"] for r in again.json()["results"]] == [200, 200]
    rows = ExperimentResult.objects.for_project(project).filter(experiment_id=experiment_id)
    assert [(r.output, r.scores["exact"]) for r in rows] == [("30 days", True)]
    assert key_client.get(url).json() == {"case_ids": [ids[0]]}


def test_jsonl_outputs_upload_reports_bad_lines(key_client, project):
    dataset = dataset_with_cases(project=project)
    ids = case_ids(dataset)
    experiment_id = _create(key_client).json()["id"]
    body = "\n".join([json.dumps({"case_id": ids[0], "output": "30 days"}), "{not json", "",
                      json.dumps({"case_id": ids[1], "output": "No"})]).encode()

    response = key_client.post(f"/api/v1/experiments/{experiment_id}/outputs", data=body, content_type="application/x-ndjson")

    assert response.status_code == 207
    assert [(r["status"], r.get("code")) for r in response.json()["results"]] == [(201, None), (400, "malformed_json"), (201, None)]
    assert ExperimentResult.objects.for_project(project).filter(experiment_id=experiment_id).count() == 2


@pytest.mark.parametrize(("extra", "status", "code"), [
    ({"dataset": "Missing"}, 404, "not_found"),
    ({"dataset_version": 7}, 404, "not_found"),
    ({"dataset_version": "1"}, 400, "invalid"),
    ({"prompt": {"name": "support-agent", "version": 9}}, 404, "not_found"),
    ({"prompt": "support-agent"}, 400, "invalid"),
    ({"scorers": [{"name": "r", "kind": "regex", "pattern": "(unclosed"}]}, 400, "invalid_scorer"),
    ({"name": ""}, 400, "invalid"),
    ({"surprise": 1}, 400, "invalid"),
    ({"endpoint": {"url": "ftp://example.com/x", "secret": "s" * 20}}, 400, "invalid_endpoint"),
])
def test_bad_creation_is_a_clear_error_and_creates_nothing(key_client, project, extra, status, code):
    dataset_with_cases(project=project)
    prompt_with_versions(project=project, count=2)

    response = _create(key_client, **extra)

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert Experiment.objects.for_project(project).count() == 0


def test_another_projects_experiment_is_404(key_client, project, other_project):
    dataset = dataset_with_cases(project=other_project)
    from tests.factories.experiments import experiment

    foreign = experiment(project=other_project, dataset=dataset)

    assert key_client.get(f"/api/v1/experiments/{foreign.pk}").status_code == 404
    assert post_json(key_client, f"/api/v1/experiments/{foreign.pk}/results", {"results": []}).status_code == 404
    assert key_client.get(f"/api/v1/experiments/{foreign.pk}/results").status_code == 404


def test_a_failing_scorer_run_stores_its_error(project):
    from tests.factories.experiments import experiment

    dataset = dataset_with_cases(project=project)
    found = experiment(project=project, dataset=dataset)
    ExperimentResult.objects.create(project=project, experiment=found, case_id=case_ids(dataset)[0], output="x")
    Experiment.objects.for_project(project).filter(pk=found.pk).update(scorers=[{"name": "r", "kind": "regex", "pattern": "("}])

    score(project_id=str(project.id), experiment_id=found.pk)
    score(project_id=str(project.id), experiment_id=found.pk)

    found.refresh_from_db()
    assert found.status == "failed"
    assert found.error.startswith("Scoring failed: ValidationFailed")
