"""The endpoint runner against a live receiver that verifies the signature: outputs and posted
scores stored, a slow or garbage answer is that case's error, the secret sealed at rest, run twice."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from apps.core import signatures
from apps.experiments.models import Experiment, ExperimentResult
from apps.experiments.services.endpoint import endpoint_run
from apps.experiments.services.experiments import experiment_create
from apps.experiments.tasks import run_endpoint
from tests.factories.experiments import case_ids, dataset_with_cases

SECRET = "endpoint-secret-0123456789"


class _Agent(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, bool]] = []
    behaviour: dict[str, str] = {}  # input → "slow" | "garbage" | "bad-scores"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = signatures.verify(SECRET, body, self.headers.get(signatures.SIGNATURE_HEADER, ""))
        case = json.loads(body)["case"]
        type(self).seen.append((case["id"], ok))
        mode = type(self).behaviour.get(case["input"], "")
        if mode == "slow":
            time.sleep(1.5)
        answer = b"<html>oops</html>" if mode == "garbage" else json.dumps(
            {"output": case["expected_output"], "scores": {"judge": "x"} if mode == "bad-scores" else {"judge": 0.75}}).encode()
        try:
            self.send_response(200 if ok else 401)
            self.end_headers()
            self.wfile.write(answer)
        except BrokenPipeError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def agent(settings):
    settings.ALLOW_PRIVATE_ENDPOINTS = True
    _Agent.seen, _Agent.behaviour = [], {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Agent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/agent"
    server.shutdown()


def _experiment(project, dataset, url):
    return experiment_create(project=project, name="endpoint run", dataset=dataset.name, dataset_version=1,
                             scorers=[{"name": "exact", "kind": "exact_match"}, {"name": "judge", "kind": "posted"}],
                             source="endpoint", endpoint={"url": url, "secret": SECRET, "timeout": 10.0, "concurrency": 8})


def test_the_worker_calls_the_endpoint_signed_and_stores_outputs_and_scores(project, agent):
    dataset = dataset_with_cases(project=project)
    experiment = _experiment(project, dataset, agent)

    run_endpoint(project_id=str(project.id), experiment_id=experiment.pk)
    run_endpoint(project_id=str(project.id), experiment_id=experiment.pk)

    experiment.refresh_from_db()
    assert sorted(_Agent.seen) == sorted((c, True) for c in case_ids(dataset))  # the second run had nothing left to call
    assert (experiment.status, experiment.cases_done, experiment.error) == ("done", 3, "")
    assert experiment.summary["exact"] == {"n": 3, "passed": 3, "pass_rate": 1.0, "mean": 1.0}
    assert experiment.summary["judge"]["mean"] == 0.75
    assert SECRET.encode() not in bytes(experiment.endpoint_secret)
    assert experiment.endpoint_secret_plain() == SECRET


def test_a_slow_or_garbage_answer_is_a_per_case_error(project, agent):
    dataset = dataset_with_cases(project=project)
    _Agent.behaviour = {"How long is the refund window?": "slow", "What is 2+2?": "garbage",
                        "Can I get a refund after 40 days?": "bad-scores"}
    experiment = _experiment(project, dataset, agent)

    endpoint_run(experiment=experiment, timeout=0.5, attempts=1)

    errors = dict(ExperimentResult.objects.for_project(project).filter(experiment=experiment).values_list("case_id", "error"))
    ids = case_ids(dataset)
    assert errors[__import__("uuid").UUID(ids[0])] == "The endpoint no answer within 0.5 s (after 1 attempts)."
    assert errors[__import__("uuid").UUID(ids[2])] == "The endpoint's answer is not JSON."
    assert errors[__import__("uuid").UUID(ids[1])].startswith("The endpoint's answer was refused: Score 'judge'")
    experiment.refresh_from_db()
    assert experiment.status == "done"
    assert experiment.summary == {}


def test_create_with_an_endpoint_via_the_api_publishes_the_run(project, agent, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    from tests.factories.projects import api_key_with_secret

    dataset_with_cases(project=project)
    _, secret = api_key_with_secret(project=project, name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/api/v1/experiments", data=json.dumps({
            "name": "endpoint", "dataset": "Refund failures", "dataset_version": 1,
            "endpoint": {"url": agent, "secret": SECRET}}), content_type="application/json")

    assert response.status_code == 201
    found = Experiment.objects.for_project(project).get(pk=response.json()["id"])
    assert (found.source, found.endpoint_url, len(callbacks)) == ("endpoint", agent, 1)
