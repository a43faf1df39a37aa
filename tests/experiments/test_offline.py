"""Offline validation figures on known paired experiments."""

from __future__ import annotations

import random

import pytest

from apps.experiments import statistics
from apps.experiments.offline import MetricSpec, evaluate
from apps.experiments.verdicts import Direction, Verdict


def _experiments(both: int, baseline_only: int, candidate_only: int, neither: int):
    baseline, candidate, case = {}, {}, 0
    for b, c, count in ((True, True, both), (True, False, baseline_only), (False, True, candidate_only), (False, False, neither)):
        for _ in range(count):
            baseline[f"case-{case:04d}"] = {"exact_match": b}
            candidate[f"case-{case:04d}"] = {"exact_match": c}
            case += 1
    return baseline, candidate


def test_a_candidate_that_fixes_cases_ships_with_mcnemar_and_lists_the_flips():
    baseline, candidate = _experiments(both=50, baseline_only=2, candidate_only=30, neither=18)

    result = evaluate(baseline=baseline, candidate=candidate)

    target = result.decision.metrics[0]
    assert result.decision.verdict == Verdict.SHIP
    assert target.p_value == pytest.approx(statistics.mcnemar([True] * 2 + [False] * 30, [False] * 2 + [True] * 30).p_value)
    assert "continuity correction (32 discordant pairs)" in target.test
    assert (target.baseline_value, target.candidate_value) == (0.52, 0.80)
    assert [(f.baseline, f.candidate) for f in result.flipped[:3]] == [(True, False), (True, False), (False, True)]
    assert len(result.flipped) == 32


def test_few_discordant_pairs_use_the_exact_test_and_stay_inconclusive():
    baseline, candidate = _experiments(both=60, baseline_only=1, candidate_only=4, neither=35)

    result = evaluate(baseline=baseline, candidate=candidate)

    assert result.decision.metrics[0].test.startswith("exact McNemar (binomial on 5 discordant pairs)")
    assert result.decision.verdict == Verdict.INCONCLUSIVE


def test_a_numeric_guardrail_that_gets_worse_holds():
    rng = random.Random(2)
    baseline, candidate = _experiments(both=50, baseline_only=2, candidate_only=30, neither=18)
    for case in baseline:
        score = rng.random()
        baseline[case]["similarity"] = score
        candidate[case]["similarity"] = score - 0.2 + rng.gauss(0, 0.02)

    result = evaluate(baseline=baseline, candidate=candidate,
                      metrics=[MetricSpec("exact_match"), MetricSpec("similarity", Direction.INCREASE, tolerance=0.05)])

    assert result.decision.verdict == Verdict.HOLD
    assert result.decision.metrics[1].test.startswith("paired t-test; paired bootstrap interval (10,000 resamples, seed")


def test_cases_scored_by_one_experiment_only_are_left_out_and_said():
    baseline, candidate = _experiments(both=50, baseline_only=2, candidate_only=30, neither=18)
    baseline["extra"] = {"exact_match": True}

    result = evaluate(baseline=baseline, candidate=candidate)

    assert (result.paired_cases, result.unpaired_cases) == (100, 1)
    assert "1 cases scored by only one experiment were left out" in result.decision.explanation


def test_mixed_score_kinds_and_no_common_scorer_are_refused():
    with pytest.raises(ValueError, match="mixes"):
        evaluate(baseline={"a": {"s": True}, "b": {"s": 0.5}}, candidate={"a": {"s": 0.1}, "b": {"s": 0.2}})
    with pytest.raises(ValueError, match="no scorer in common"):
        evaluate(baseline={"a": {"s": True}}, candidate={"a": {"t": True}})
