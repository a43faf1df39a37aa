"""The demo's experiment pair on "Refund failures": baseline support-agent v2, candidate v3, scored,
with flips both ways, and validated offline on the change of the backlog's top problem (an exact
McNemar ``ship`` listing the flipped cases); seeding twice changes nothing."""

from __future__ import annotations

import pytest

from apps.core.audit import Actor
from apps.demo import traffic as demo_traffic
from apps.demo.experiments import seed_experiments_demo
from apps.demo.prompts import seed_prompts_demo
from apps.demo.validations import seed_validations_demo
from apps.experiments.models import Experiment, Validation
from apps.experiments.selectors.compare import comparison
from tests.factories.projects import api_key_with_secret


@pytest.mark.django_db(transaction=True)
def test_the_demo_experiment_pair(live_server, project, members, owner):
    _, secret = api_key_with_secret(project=project)
    seed_prompts_demo(project=project, actor=Actor(user=owner))
    demo_traffic.send(host=live_server.url, api_key=secret, project_id=str(project.pk))

    seeded = demo_traffic.seed_triage(project_id=str(project.pk))
    first = seeded["experiments"]
    again = seed_experiments_demo(project=project)
    seed_validations_demo(project=project)

    assert first == again and set(first) == {"baseline", "candidate"}
    baseline = Experiment.objects.for_project(project).get(pk=first["baseline"])
    candidate = Experiment.objects.for_project(project).get(pk=first["candidate"])
    assert (baseline.prompt_version.number, candidate.prompt_version.number) == (2, 3)
    assert baseline.status == candidate.status == "done"
    assert candidate.summary["matches-correction"]["pass_rate"] > baseline.summary["matches-correction"]["pass_rate"]
    assert Experiment.objects.for_project(project).count() == 2
    found = comparison(baseline=baseline, candidate=candidate)
    assert found.improvements > found.regressions >= 0
    offline = Validation.objects.for_project(project).get(kind="offline")
    assert seeded["validations"]["offline"] == offline.pk and offline.change_id == seeded["validations"]["change"]
    assert (offline.status, offline.verdict) == ("done", "ship")
    target = offline.report["metrics"][0]
    assert (target["name"], target["role"], target["baseline"]["n"]) == ("matches-correction", "target", baseline.cases_total)
    assert target["test"].startswith("exact McNemar") and target["p_value"] < 0.05
    flips = [(f["baseline"], f["candidate"]) for f in offline.report["flipped"] if f["scorer"] == "matches-correction"]
    assert flips.count((False, True)) > flips.count((True, False)) > 0
    assert Validation.objects.for_project(project).filter(kind="offline").count() == 1
