"""The demo prompt: support-agent with three versions, production on v2 (protected), staging on v3,
and per-version signal rates from the demo traffic."""

from __future__ import annotations

import pytest

from apps.core.audit import Actor
from apps.demo import traffic as demo_traffic
from apps.demo.prompts import seed_prompts_demo
from apps.experiments.models import PromptLabel, PromptLabelMove, PromptVersion
from apps.experiments.selectors.prompts import prompt_version_get
from apps.experiments.selectors.traffic import version_traffic_compared
from tests.factories.projects import api_key_with_secret


@pytest.mark.django_db(transaction=True)
def test_the_demo_prompt_and_its_per_version_traffic(live_server, project, owner):
    _, secret = api_key_with_secret(project=project)
    prompt = seed_prompts_demo(project=project, actor=Actor(user=owner))
    again = seed_prompts_demo(project=project, actor=Actor(user=owner))
    demo_traffic.send(host=live_server.url, api_key=secret, project_id=str(project.pk))

    v3, v2 = version_traffic_compared(version=prompt_version_get(prompt=prompt, number=3))

    assert again.pk == prompt.pk
    assert PromptVersion.objects.for_project(project).count() == 3
    labels = {label.name: (label.version.number, label.protected) for label in PromptLabel.objects.for_project(project).select_related("version")}
    assert labels == {"production": (2, True), "staging": (3, False)}
    assert PromptLabelMove.objects.for_project(project).count() == 4
    assert (v3.turns, v3.since_label, {r.kind: r.rate for r in v3.rates}["thumbs_down"]) == (3, "staging", 1.0)
    assert v2.turns == 21
    assert 0 < {r.kind: r.rate for r in v2.rates}["thumbs_down"] < 0.5
