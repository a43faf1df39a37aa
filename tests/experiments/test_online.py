"""Online validation over live turns: horizon from the power calculation, sequential early stop,
guardrails, and refusals — against turns and signals in PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from apps.experiments.online import FIXED, SEQUENTIAL, Goal, evaluate
from apps.experiments.verdicts import Direction, Verdict
from apps.traces.models import Signal, Turn

pytestmark = pytest.mark.django_db


def _arm(project, variant: str, turns: int, thumbs_down: int, escalations: int = 0) -> None:
    rows = Turn.objects.bulk_create([Turn(project=project, id=uuid.uuid4(), variant=variant, input="q", output="a") for _ in range(turns)])
    Signal.objects.bulk_create(
        [Signal(project=project, turn_id=t.id, kind="thumbs_down", value=True) for t in rows[:thumbs_down]]
        + [Signal(project=project, turn_id=t.id, kind="escalation", value=True, source="detector") for t in rows[-escalations:]][:escalations]
    )


THUMBS_DOWN = Goal("thumbs_down", Direction.DECREASE)


def test_a_better_arm_past_its_horizon_ships(project, other_project):
    _arm(project, "A", 300, thumbs_down=90)
    _arm(project, "B", 300, thumbs_down=30)
    _arm(other_project, "B", 300, thumbs_down=300)  # another tenant's arm of the same name is not read

    result = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=THUMBS_DOWN, guardrails=[],
                      min_detectable_effect=0.15)

    assert result.sample_needed is not None and result.sample_needed <= 300
    assert result.counts == {"A": {"turns": 300, "thumbs_down": 90}, "B": {"turns": 300, "thumbs_down": 30}}
    assert result.decision.verdict == Verdict.SHIP
    assert "thumbs_down fell from 30.0 % to 10.0 %" in result.decision.explanation
    assert "Design: fixed horizon" in result.decision.explanation


def test_before_the_horizon_the_same_effect_is_running_with_the_sample_it_needs(project):
    _arm(project, "A", 300, thumbs_down=90)
    _arm(project, "B", 300, thumbs_down=30)

    result = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=THUMBS_DOWN, guardrails=[],
                      min_detectable_effect=0.02)

    assert result.decision.verdict == Verdict.RUNNING
    assert result.sample_needed > 300
    assert f"300 of the {result.sample_needed:,} turns per arm" in result.decision.explanation


def test_the_sequential_design_may_stop_early(project):
    _arm(project, "A", 300, thumbs_down=90)
    _arm(project, "B", 300, thumbs_down=30)

    result = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=THUMBS_DOWN, guardrails=[],
                      design=SEQUENTIAL, min_detectable_effect=0.02)

    assert result.decision.verdict == Verdict.SHIP
    assert result.sample_needed is None
    assert "mSPRT" in result.decision.explanation


def test_a_broken_guardrail_holds(project):
    _arm(project, "A", 300, thumbs_down=90, escalations=5)
    _arm(project, "B", 300, thumbs_down=30, escalations=60)

    result = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=THUMBS_DOWN,
                      guardrails=[Goal("escalation", Direction.DECREASE, tolerance=0.02)], min_detectable_effect=0.15)

    assert result.decision.verdict == Verdict.HOLD
    assert "guardrail escalation broke" in result.decision.explanation


def test_an_arm_with_no_turns_is_running_in_a_fixed_design_and_inconclusive_in_a_sequential_one(project):
    _arm(project, "A", 300, thumbs_down=90)

    fixed = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=THUMBS_DOWN, guardrails=[])
    sequential = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=THUMBS_DOWN,
                          guardrails=[], design=SEQUENTIAL)

    assert fixed.decision.verdict == Verdict.RUNNING
    assert sequential.decision.verdict == Verdict.INCONCLUSIVE


@pytest.mark.parametrize("kwargs, message", [
    ({"candidate": "A"}, "the candidate is the baseline"),
    ({"alpha": 0.7}, "alpha"),
    ({"design": "bayesian"}, "design"),
    ({"min_detectable_effect": 0}, "minimum detectable effect"),
    ({"guardrails": [Goal("thumbs_down", Direction.DECREASE)]}, "once"),
])
def test_bad_settings_are_refused_with_a_reason(project, kwargs, message):
    arguments = dict(project=project, arm_by="variant", baseline="A", candidate="B", target=THUMBS_DOWN, guardrails=[],
                     design=FIXED)

    with pytest.raises(ValueError, match=message):
        evaluate(**{**arguments, **kwargs})
