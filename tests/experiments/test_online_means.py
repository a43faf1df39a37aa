"""The mean of a numeric signal as an online target or guardrail: Welch's test from the arms' sums
(against scipy on the raw values), the one grouped read of the values, the horizon, the verdicts,
and the body that asks for it."""

from __future__ import annotations

import math
import random
import uuid

import numpy as np
import pytest
from scipy import stats

from apps.core.errors import ValidationFailed
from apps.experiments import statistics
from apps.experiments.online import MEAN, SEQUENTIAL, Goal, evaluate
from apps.experiments.services.validation_inputs import normalise
from apps.experiments.services.validations import validation_body, validation_request
from apps.experiments.tasks import validate
from apps.experiments.verdicts import Direction, Verdict
from apps.traces.models import Signal, Turn
from apps.traces.rates import arm_signal_values


def _values(seed: int, mean: float, sd: float, n: int) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.gauss(mean, sd), 3) for _ in range(n)]


def test_welch_from_sums_equals_scipy_ttest_ind_on_the_values():
    baseline, candidate = _values(1, 3.6, 1.1, 90), _values(2, 4.0, 0.7, 140)

    result = statistics.mean_difference_from_moments(statistics.Moments.of(baseline), statistics.Moments.of(candidate))

    reference = stats.ttest_ind(candidate, baseline, equal_var=False)
    interval = reference.confidence_interval(confidence_level=0.95)
    assert result.difference == pytest.approx(np.mean(candidate) - np.mean(baseline), rel=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.ci_low == pytest.approx(interval.low, rel=1e-9)
    assert result.ci_high == pytest.approx(interval.high, rel=1e-9)
    assert result.baseline_sd == pytest.approx(np.std(baseline, ddof=1), rel=1e-9)


def test_the_horizon_of_a_mean_is_the_normal_power_calculation_on_cohens_d():
    from statsmodels.stats.power import NormalIndPower

    needed = statistics.sample_size_per_arm_mean(standard_deviation=1.2, min_detectable_effect=0.3)

    assert needed == math.ceil(NormalIndPower().solve_power(effect_size=0.25, alpha=0.05, power=0.8))
    with pytest.raises(ValueError):
        statistics.sample_size_per_arm_mean(standard_deviation=0.0, min_detectable_effect=0.3)


def _arm(project, variant: str, values: dict[str, list], extra: int = 0) -> list[Turn]:
    """Turns of ``variant`` with one signal per value (``values[kind][i]`` on turn i), plus
    ``extra`` turns without any."""
    size = max([len(v) for v in values.values()] + [0]) + extra
    turns = Turn.objects.bulk_create([Turn(project=project, id=uuid.uuid4(), variant=variant, input="q", output="a")
                                      for _ in range(size)])
    Signal.objects.bulk_create([Signal(project=project, turn_id=turns[i].id, kind=kind, value=value, dedupe_key=f"{kind}-{i}")
                                for kind, column in values.items() for i, value in enumerate(column)])
    return turns


@pytest.mark.django_db
def test_the_values_are_read_one_a_turn_in_one_statement(project, other_project, django_assert_num_queries):
    turns = _arm(project, "A", {"csat": [5, 4, 2.5, True, "3"]}, extra=2)
    Signal.objects.create(project=project, turn_id=turns[0].id, kind="csat", value=3, dedupe_key="again")  # turn 0: (5 + 3) / 2
    _arm(project, "B", {"latency_ms": [120, 80]})
    _arm(other_project, "A", {"csat": [1, 1, 1]})  # another tenant's arm of the same name is not read

    with django_assert_num_queries(1):
        sums = arm_signal_values(project=project, arm_by="variant", arms=["A", "B"], kinds=["csat", "latency_ms"])

    assert sums["A"]["csat"].n == 3
    assert sums["A"]["csat"].total == pytest.approx(4 + 4 + 2.5)
    assert sums["A"]["csat"].squares == pytest.approx(16 + 16 + 6.25)
    assert sums["A"]["latency_ms"].n == 0 and sums["B"]["csat"].n == 0
    assert (sums["B"]["latency_ms"].n, sums["B"]["latency_ms"].total) == (2, 200.0)


CSAT = Goal("csat", Direction.INCREASE, stat=MEAN)


@pytest.mark.django_db
def test_a_higher_mean_past_its_horizon_ships_and_the_report_reads_in_the_signals_units(project):
    _arm(project, "A", {"csat": _values(3, 3.6, 1.0, 400), "latency_ms": _values(4, 900, 150, 400)})
    _arm(project, "B", {"csat": _values(5, 4.0, 1.0, 400), "latency_ms": _values(6, 905, 150, 400)})

    result = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=CSAT,
                      guardrails=[Goal("latency_ms", Direction.DECREASE, tolerance=50, stat=MEAN)], min_detectable_effect=0.3)

    target, latency = result.decision.metrics
    assert result.decision.verdict == Verdict.SHIP
    assert result.sample_needed == statistics.sample_size_per_arm_mean(
        standard_deviation=math.sqrt(statistics.Moments.of(_values(3, 3.6, 1.0, 400)).variance), min_detectable_effect=0.3)
    assert (target.unit, target.baseline_n, target.candidate_n) == ("value", 400, 400)
    assert latency.passed is True and latency.tolerance == 50
    lines = result.decision.explanation.split("\n")
    assert lines[0] == "Ship: csat improved significantly (p < 0.05) and every guardrail held."
    assert lines[1].startswith("mean csat rose from 3.53 to 4 (+0.475, 95 % CI 0.")
    assert lines[1].endswith(", n = 400 / 400 [Welch's t-test (mean of the signal's values, one a turn)]")
    assert lines[2].startswith("mean latency_ms fell from 910 to 909 (−0.937, 95 % CI −22.1 to 20.2), p = 0.931")
    assert "; tolerance 50 worse: held [Welch's t-test" in lines[2]
    assert result.counts["B"]["values"]["csat"]["n"] == 400


@pytest.mark.django_db
def test_a_mean_guardrail_worse_beyond_its_tolerance_holds(project):
    _arm(project, "A", {"csat": _values(3, 3.6, 1.0, 400), "latency_ms": _values(4, 900, 150, 400)})
    _arm(project, "B", {"csat": _values(5, 4.0, 1.0, 400), "latency_ms": _values(6, 1100, 150, 400)})

    result = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=CSAT,
                      guardrails=[Goal("latency_ms", Direction.DECREASE, tolerance=50, stat=MEAN)], min_detectable_effect=0.3)

    assert result.decision.verdict == Verdict.HOLD
    assert result.decision.explanation.startswith("Hold: guardrail latency_ms broke.")


@pytest.mark.django_db
def test_before_the_horizon_a_mean_is_running_and_without_values_it_waits_for_them(project):
    _arm(project, "A", {"csat": _values(3, 3.6, 1.0, 60)})
    _arm(project, "B", {"csat": _values(5, 4.4, 1.0, 60)})
    _arm(project, "C", {}, extra=50)

    early = evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=CSAT, guardrails=[],
                     min_detectable_effect=0.1)
    empty = evaluate(project=project, arm_by="variant", baseline="C", candidate="B", target=CSAT, guardrails=[],
                     min_detectable_effect=0.1)

    assert early.decision.verdict == Verdict.RUNNING and early.sample_needed > 60
    assert f"60 of the {early.sample_needed:,} csat values per arm" in early.decision.explanation
    assert empty.decision.verdict == Verdict.RUNNING and empty.sample_needed is None
    assert "the spread of the baseline's csat values is not yet known" in empty.decision.explanation


@pytest.mark.django_db
def test_the_sequential_design_refuses_a_mean(project):
    with pytest.raises(ValueError, match="sequential design covers rates only"):
        evaluate(project=project, arm_by="variant", baseline="A", candidate="B", target=CSAT, guardrails=[],
                 design=SEQUENTIAL, min_detectable_effect=0.1)


ONLINE = {"kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"}}


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"target": {"signal": "csat", "direction": "increase", "stat": "median"}}, "target.stat", "invalid"),
    ({"target": {"signal": "csat", "direction": "increase", "stat": "mean"}}, "min_detectable_effect", "required"),
    ({"target": {"signal": "csat", "direction": "increase", "stat": "mean"}, "min_detectable_effect": 0.2,
      "design": "sequential"}, "design", "invalid"),
    ({"target": {"signal": "csat", "direction": "increase", "stat": "mean"}, "min_detectable_effect": 0.2,
      "baseline_rate": 0.1}, "baseline_rate", "invalid"),
    ({"target": {"signal": "thumbs_down", "direction": "decrease"},
      "guardrails": [{"signal": "latency_ms", "direction": "decrease", "tolerance": -5, "stat": "mean"}]},
     "guardrails[0].tolerance", "invalid_tolerance"),
    ({"target": {"signal": "thumbs_down", "direction": "decrease"},
      "guardrails": [{"signal": "escalation", "direction": "decrease", "tolerance": 5}]},
     "guardrails[0].tolerance", "invalid_tolerance"),
])
def test_a_bad_mean_body_is_refused_with_its_field(body, field, code):
    with pytest.raises(ValidationFailed) as refused:
        normalise({**ONLINE, **body})

    assert (refused.value.field, refused.value.code) == (field, code)


def test_a_rate_goal_normalises_as_before_and_a_mean_goal_names_its_stat():
    rate = normalise({**ONLINE, "target": {"signal": "thumbs_down", "direction": "decrease", "stat": "rate"}})
    mean = normalise({**ONLINE, "target": {"signal": "thumbs_down", "direction": "decrease"},
                      "guardrails": [{"signal": "latency_ms", "direction": "decrease", "tolerance": 50, "stat": "mean"}]})

    assert rate["target"] == {"signal": "thumbs_down", "direction": "decrease"}
    assert mean["guardrails"] == [{"signal": "latency_ms", "direction": "decrease", "tolerance": 50.0, "stat": "mean"}]


@pytest.mark.django_db(transaction=True)
def test_the_validate_job_reports_a_mean_target_and_a_rerun_changes_nothing(project):
    _arm(project, "A", {"csat": _values(3, 3.6, 1.0, 400)})
    _arm(project, "B", {"csat": _values(5, 4.0, 1.0, 400)})
    validation, _ = validation_request(project=project, body={
        **ONLINE, "target": {"signal": "csat", "direction": "increase", "stat": "mean"}, "min_detectable_effect": 0.3})

    validate.run(project_id=str(project.pk), validation_id=validation.pk)
    validation.refresh_from_db()
    first = validation_body(validation)
    validate.run(project_id=str(project.pk), validation_id=validation.pk)
    validation.refresh_from_db()

    assert validation_body(validation) == first
    assert (first["status"], first["verdict"]) == ("done", "ship")
    (metric,) = first["metrics"]
    assert (metric["name"], metric["unit"], metric["baseline"]["n"], metric["role"]) == ("csat", "value", 400, "target")
    assert metric["test"].startswith("Welch's t-test")
