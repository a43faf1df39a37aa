"""The demo's changes and validations: a change on the top problem, one ship and one running
online validation, the promotion, and the watch's regression; a second run changes nothing."""

from __future__ import annotations

import pytest

from apps.core.audit import SYSTEM
from apps.demo.prompts import seed_prompts_demo
from apps.demo.validations import seed_validations_demo
from apps.experiments.models import Change, PromptLabel, Regression, Validation
from apps.problems.models import Problem

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_validates_promotes_and_raises_a_regression_once(project):
    seed_prompts_demo(project=project, actor=SYSTEM)
    top = Problem.all_tenants.create(project=project, title="Refund failures", turn_count=3, pain=9.0)

    first = seed_validations_demo(project=project)
    second = seed_validations_demo(project=project)

    change = Change.objects.for_project(project).get()
    verdicts = sorted(Validation.objects.for_project(project).values_list("verdict", "status"))
    assert second == {"change": change.pk}
    assert first["verdict"] == "ship" and first["regressions"] == ["escalation"]
    assert verdicts == [("running", "running"), ("ship", "done")]
    assert change.status == "promoted"
    assert list(Change.problems.through.objects.filter(change_id=change.pk).values_list("problem_id", flat=True)) == [top.pk]
    assert PromptLabel.objects.for_project(project).get(name="production").version.number == 3
    assert Regression.objects.for_project(project).filter(resolved_at__isnull=True).count() == 1
