"""Verdicts: A/A false positives at the nominal rate, no ship for a worse candidate, small samples
inconclusive, no ship before a fixed horizon, guardrails with Holm, sentences with every figure."""

from __future__ import annotations

import numpy as np
import pytest

from apps.experiments import statistics
from apps.experiments.verdicts import Direction, Verdict, decide, describe, rate_metric


def _target(baseline: tuple[int, int], candidate: tuple[int, int], **kwargs):
    return rate_metric(name="thumbs-down", role="target", direction=Direction.DECREASE, baseline_count=baseline[0],
                       baseline_n=baseline[1], candidate_count=candidate[0], candidate_n=candidate[1], **kwargs)


def _guardrail(name, baseline, candidate, tolerance=0.0, direction=Direction.DECREASE):
    return rate_metric(name=name, role="guardrail", direction=direction, baseline_count=baseline[0], baseline_n=baseline[1],
                       candidate_count=candidate[0], candidate_n=candidate[1], tolerance=tolerance)


def test_a_clear_improvement_ships_and_says_so_with_every_figure():
    decision = decide(target=_target((402, 4100), (247, 4050)), guardrails=[], alpha=0.05)

    assert decision.verdict == Verdict.SHIP
    assert decision.explanation.splitlines()[1].startswith(
        "thumbs-down fell from 9.8 % to 6.1 % (−3.7 points, 95 % CI −4.9 to −2.5), p < 0.00001, n = 4,100 / 4,050")


def test_a_worse_candidate_is_held():
    decision = decide(target=_target((247, 4050), (402, 4100)), guardrails=[], alpha=0.05)

    assert decision.verdict == Verdict.HOLD
    assert "thumbs-down got worse" in decision.explanation


def test_a_broken_guardrail_holds_an_improved_target():
    escalations = _guardrail("escalation", (100, 4100), (200, 4050), tolerance=0.01)

    decision = decide(target=_target((402, 4100), (247, 4050)), guardrails=[escalations], alpha=0.05)

    assert decision.verdict == Verdict.HOLD
    assert [m.passed for m in decision.metrics] == [False, False]
    assert "guardrail escalation broke" in decision.explanation


def test_a_guardrail_worse_within_its_tolerance_holds():
    escalations = _guardrail("escalation", (100, 4100), (130, 4050), tolerance=0.02)

    decision = decide(target=_target((402, 4100), (247, 4050)), guardrails=[escalations], alpha=0.05)

    assert decision.verdict == Verdict.SHIP
    assert decision.metrics[1].passed is True


def test_guardrails_are_holm_adjusted():
    # each guardrail alone would break at 0.05 (p ≈ 0.03), but not after Holm over three
    rails = [_guardrail(f"g{i}", (100, 2000), (132, 2000)) for i in range(3)]
    raw = [g.p_value for g in rails]

    decision = decide(target=_target((402, 4100), (247, 4050)), guardrails=rails, alpha=0.05)

    assert all(0.01 < p < 0.05 for p in raw)
    assert [m.p_adjusted for m in decision.metrics[1:]] == pytest.approx(statistics.holm(raw, alpha=0.05))
    assert decision.verdict == Verdict.SHIP


def test_small_samples_are_inconclusive():
    decision = decide(target=_target((5, 20), (0, 20)), guardrails=[], alpha=0.05)

    assert decision.verdict == Verdict.INCONCLUSIVE
    assert "too few observations" in decision.explanation


def test_an_empty_arm_is_inconclusive_not_an_error():
    decision = decide(target=_target((5, 200), (0, 0)), guardrails=[], alpha=0.05)

    assert decision.verdict == Verdict.INCONCLUSIVE
    assert "no data" in decision.explanation


def test_before_a_fixed_horizon_even_a_huge_effect_is_running():
    decision = decide(target=_target((402, 4100), (100, 4050)), guardrails=[], alpha=0.05, horizon_reached=False)

    assert decision.verdict == Verdict.RUNNING


@pytest.mark.parametrize("alpha", [0, -0.1, 0.51, 1, True])
def test_alpha_outside_the_open_interval_is_refused(alpha):
    with pytest.raises(ValueError):
        decide(target=_target((402, 4100), (247, 4050)), guardrails=[], alpha=alpha)


def test_a_negative_tolerance_is_refused():
    with pytest.raises(ValueError):
        decide(target=_target((402, 4100), (247, 4050)), guardrails=[_guardrail("g", (1, 100), (1, 100), tolerance=-0.01)],
               alpha=0.05)


def test_a_a_experiments_ship_at_most_at_the_nominal_rate():
    rng = np.random.default_rng(5)
    verdicts = []
    for _ in range(200):
        a, b = rng.binomial(2000, 0.1), rng.binomial(2000, 0.1)
        verdicts.append(decide(target=_target((int(a), 2000), (int(b), 2000)), guardrails=[], alpha=0.05).verdict)

    # two-sided at 0.05: a one-directional ship happens in about 2.5 % of A/A tests
    assert verdicts.count(Verdict.SHIP) / 200 <= 0.05 + 0.03


def test_a_worse_candidate_never_ships():
    rng = np.random.default_rng(6)
    verdicts = [decide(target=_target((int(rng.binomial(2000, 0.10)), 2000), (int(rng.binomial(2000, 0.12)), 2000)),
                       guardrails=[], alpha=0.05).verdict for _ in range(200)]

    assert Verdict.SHIP not in verdicts


def test_peeking_at_a_fixed_horizon_design_never_ships_before_the_horizon():
    rng = np.random.default_rng(8)
    horizon = statistics.sample_size_per_arm(baseline_rate=0.1, min_detectable_effect=-0.02)
    early_ships = 0
    for _ in range(50):
        a, b = rng.random(horizon) < 0.1, rng.random(horizon) < 0.1
        for n in range(200, horizon, 200):
            verdict = decide(target=_target((int(a[:n].sum()), n), (int(b[:n].sum()), n)), guardrails=[], alpha=0.05,
                             horizon_reached=n >= horizon).verdict
            early_ships += verdict == Verdict.SHIP
    assert early_ships == 0


def test_the_sequential_test_names_itself_on_the_report():
    metric = _target((402, 4100), (247, 4050), sequential_tau=0.02)

    assert "mSPRT" in describe(metric)
