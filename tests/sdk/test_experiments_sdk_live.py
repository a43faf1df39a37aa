"""The Python SDK's run_experiment against a live server: bounded concurrency, batched uploads,
resume after an interruption (cases already uploaded are skipped), the summary from the worker."""

from __future__ import annotations

import threading
import time

import pytest
from agentloop import AgentLoop, AgentLoopError
from django.db import close_old_connections

from apps.experiments.models import Experiment, ExperimentResult
from apps.experiments.services.experiments import experiment_score
from tests.factories.experiments import dataset_with_cases, prompt_with_versions
from tests.factories.projects import api_key_with_secret


class _Worker:
    """Stands in for the Celery worker: scores experiments with unscored results."""

    def __init__(self, project):
        self.project, self.stop = project, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            pending = ExperimentResult.objects.for_project(self.project).filter(scored=False).values_list("experiment_id", flat=True).distinct()
            for pk in list(pending):
                experiment_score(experiment=Experiment.objects.for_project(self.project).get(pk=pk))
            time.sleep(0.1)
        close_old_connections()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


class Interrupted(BaseException):
    pass


@pytest.mark.django_db(transaction=True)
def test_run_experiment_resumes_after_an_interruption(live_server, project, capsys):
    _, secret = api_key_with_secret(project=project)
    dataset_with_cases(project=project, cases=[(f"q{i}", f"a{i}") for i in range(30)])
    prompt_with_versions(project=project, count=3)
    loop = AgentLoop(api_key=secret, host=live_server.url, project_id=str(project.pk))
    calls: list[str] = []
    lock = threading.Lock()
    in_flight = {"now": 0, "max": 0}

    def answer(case):
        with lock:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
            calls.append(case["id"])
            count = len(calls)
        time.sleep(0.01)
        with lock:
            in_flight["now"] -= 1
        if count == 12:
            raise Interrupted()
        number = case["input"][1:]
        return {"output": f"a{number}" if int(number) % 3 else "wrong", "scores": {"judge": 1}}

    scorers = [{"name": "exact", "kind": "exact_match"}, {"name": "judge", "kind": "posted"}]
    with _Worker(project):
        with pytest.raises(Interrupted) as interrupted:
            loop.run_experiment("Refund failures", version=1, task=answer, prompt=("support-agent", 3), scorers=scorers,
                                concurrency=4, batch_size=5)
        experiment_id = interrupted.value.agentloop_experiment_id
        uploaded = ExperimentResult.objects.for_project(project).filter(experiment_id=experiment_id, error="").count()
        first_calls = len(calls)
        done = loop.run_experiment("Refund failures", version=1, task=answer, scorers=scorers, experiment_id=experiment_id,
                                   concurrency=4, batch_size=5)

    assert 0 < uploaded < 30
    assert len(calls) - first_calls == 30 - uploaded  # the resumed run skipped what was uploaded
    assert in_flight["max"] <= 4
    assert (done["id"], done["status"], done["results_count"], done["cases_done"]) == (experiment_id, "done", 30, 30)
    assert done["prompt"] == {"name": "support-agent", "version": 3}
    assert done["summary"]["exact"] == {"n": 30, "passed": 20, "pass_rate": round(20 / 30, 6), "mean": round(20 / 30, 6)}
    assert loop.experiment(experiment_id)["summary"] == done["summary"]
    assert f"resume with experiment_id={experiment_id}" in capsys.readouterr().err
    with pytest.raises(AgentLoopError) as missing:
        loop.experiment(10**9)
    assert (missing.value.code, missing.value.status) == ("not_found", 404)
    loop.shutdown()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(__import__("shutil").which("node") is None, reason="Node.js is not installed")
def test_js_run_experiment_resumes_after_an_interruption(live_server, project):
    import json
    import os
    import shutil
    import subprocess
    from pathlib import Path

    _, secret = api_key_with_secret(project=project)
    dataset_with_cases(project=project, cases=[(f"q{i}", f"a{i}") for i in range(30)])
    env = dict(os.environ, AGENTLOOP_HOST=live_server.url, AGENTLOOP_API_KEY=secret)
    script = Path(__file__).resolve().parents[2] / "sdk" / "js" / "test" / "experiments-live.mjs"

    with _Worker(project):
        result = subprocess.run([shutil.which("node"), str(script)], env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    uploaded_first = 30 - out["secondCalls"]
    assert 0 < uploaded_first < 30 and out["firstCalls"] >= 7
    assert out["maxInFlight"] <= 3
    assert (out["status"], out["resultsCount"], out["same"], out["missing"]) == ("done", 30, True, ["not_found", 404])
    assert out["summary"]["exact"] == {"n": 30, "passed": 20, "pass_rate": round(20 / 30, 6), "mean": round(20 / 30, 6)}
