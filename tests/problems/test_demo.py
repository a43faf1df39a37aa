"""The demo: SDK traffic → detectors → review demo → a ranked backlog with proposed causes."""

from __future__ import annotations

import pytest

from apps.demo import traffic as demo_traffic
from apps.detection.config import DETECTORS
from apps.demo.problems import seed_problems_demo
from apps.problems.models import Problem, ProblemStatus
from apps.traces.models import Signal
from tests.factories.projects import api_key_with_secret


@pytest.mark.django_db(transaction=True)
def test_the_demo_backlog_has_ranked_problems_with_causes(live_server, project, members):
    _, secret = api_key_with_secret(project=project)
    demo_traffic.send(host=live_server.url, api_key=secret, project_id=str(project.pk))

    first = demo_traffic.seed_triage(project_id=str(project.pk))
    again = seed_problems_demo(project=project)

    causes = set(
        Problem.objects.for_project(project).exclude(status=ProblemStatus.MERGED).exclude(cause="")
        .values_list("cause_key", flat=True)
    )
    assert {"retrieval:empty", "tool:refund", "prompt_version:support-agent@3"} <= causes
    assert first["problems"]["clustering"]["created"] >= 3
    assert (again["clustering"].get("created", 0), again["clustering"].get("placed", 0)) == (0, 0)
    refund_policy = Problem.objects.for_project(project).get(cause_key="retrieval:empty")
    assert refund_policy.turn_count >= 4
    pains = list(Problem.objects.for_project(project).order_by("-pain").values_list("pain", flat=True))
    assert pains == sorted(pains, reverse=True) and pains[0] > 0
    # The refund session's re-asked question is a rephrase that explains itself (issue 14).
    rephrases = Signal.objects.for_project(project).filter(kind="rephrase", source="detector").values_list("value", flat=True)
    threshold = DETECTORS["rephrase"][1]["min_probability"]
    assert any(v["explain"].startswith("word similarity ") and v["probability"] >= threshold for v in rephrases), list(rephrases)
