"""Every figure of apps.experiments.statistics against an independent computation on known inputs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats

from apps.experiments import statistics


def _exact_two_sided(b: int, c: int) -> float:
    n, k = b + c, min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def _pairs(both: int, baseline_only: int, candidate_only: int, neither: int) -> tuple[list[bool], list[bool]]:
    baseline = [True] * both + [True] * baseline_only + [False] * candidate_only + [False] * neither
    candidate = [True] * both + [False] * baseline_only + [True] * candidate_only + [False] * neither
    return baseline, candidate


@pytest.mark.parametrize("b, c", [(0, 1), (1, 2), (3, 9), (10, 10), (2, 20)])
def test_mcnemar_below_25_discordant_pairs_is_the_exact_binomial(b, c):
    baseline, candidate = _pairs(40, b, c, 7)

    result = statistics.mcnemar(baseline, candidate)

    assert (result.baseline_only, result.candidate_only) == (b, c)
    assert result.p_value == pytest.approx(_exact_two_sided(b, c), rel=1e-12)
    assert result.test.startswith("exact McNemar")


@pytest.mark.parametrize("b, c", [(10, 15), (30, 12), (100, 140)])
def test_mcnemar_from_25_discordant_pairs_is_the_corrected_chi_square(b, c):
    baseline, candidate = _pairs(5, b, c, 5)

    result = statistics.mcnemar(baseline, candidate)

    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(statistic / 2)), rel=1e-9)  # χ²(1) tail
    assert "continuity correction" in result.test


def test_mcnemar_without_discordant_pairs_is_p_one():
    baseline, candidate = _pairs(10, 0, 0, 3)

    assert statistics.mcnemar(baseline, candidate).p_value == 1.0


def test_paired_t_test_matches_the_textbook_formula():
    rng = random.Random(7)
    baseline = [rng.random() for _ in range(60)]
    candidate = [x + 0.03 + rng.gauss(0, 0.1) for x in baseline]

    result = statistics.paired_difference(baseline, candidate)

    d = [y - x for x, y in zip(baseline, candidate)]
    mean = sum(d) / len(d)
    sd = math.sqrt(sum((v - mean) ** 2 for v in d) / (len(d) - 1))
    t = mean / (sd / math.sqrt(len(d)))
    assert result.difference == pytest.approx(mean, rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(t), len(d) - 1), rel=1e-9)


def test_bootstrap_interval_reproduces_with_its_seed_and_agrees_with_a_percentile_bootstrap():
    rng = random.Random(3)
    baseline = [rng.gauss(0.5, 0.2) for _ in range(400)]
    candidate = [x + rng.gauss(0.04, 0.15) for x in baseline]

    first = statistics.paired_difference(baseline, candidate)
    again = statistics.paired_difference(baseline, candidate)

    d = np.asarray(candidate) - np.asarray(baseline)
    means = np.random.default_rng(1).choice(d, (10_000, d.size)).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert (first.seed, first.resamples) == (statistics.BOOTSTRAP_SEED, 10_000)
    assert first.ci_low == pytest.approx(low, abs=0.004)
    assert first.ci_high == pytest.approx(high, abs=0.004)
    assert first.ci_low < first.difference < first.ci_high


def test_identical_scores_give_a_zero_difference_with_p_one():
    result = statistics.paired_difference([0.4, 0.6, 0.9], [0.4, 0.6, 0.9])

    assert (result.difference, result.ci_low, result.ci_high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def _wilson(count: int, n: int, z: float) -> tuple[float, float]:
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_rate_difference_interval_is_newcombes_hybrid_score_interval():
    result = statistics.rate_difference(baseline_count=402, baseline_n=4100, candidate_count=247, candidate_n=4050)

    z = stats.norm.ppf(0.975)
    p1, p2 = 247 / 4050, 402 / 4100
    l1, u1 = _wilson(247, 4050, z)
    l2, u2 = _wilson(402, 4100, z)
    d = p1 - p2
    assert result.difference == pytest.approx(d, rel=1e-12)
    assert result.ci_low == pytest.approx(d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), rel=1e-9)
    assert result.ci_high == pytest.approx(d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2), rel=1e-9)


def test_rate_difference_p_value_is_the_pooled_z_test():
    result = statistics.rate_difference(baseline_count=120, baseline_n=1000, candidate_count=90, candidate_n=1000)

    pooled = 210 / 2000
    z = (0.09 - 0.12) / math.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 1000))
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-9)


def test_mean_difference_is_welchs_t_test():
    rng = random.Random(4)
    baseline = [rng.gauss(3.0, 1.0) for _ in range(80)]
    candidate = [rng.gauss(3.4, 2.0) for _ in range(120)]

    result = statistics.mean_difference(baseline, candidate)

    def moments(values):
        mean = sum(values) / len(values)
        return mean, sum((v - mean) ** 2 for v in values) / (len(values) - 1), len(values)

    (m1, v1, n1), (m2, v2, n2) = moments(baseline), moments(candidate)
    se = math.sqrt(v1 / n1 + v2 / n2)
    df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    t = (m2 - m1) / se
    assert result.difference == pytest.approx(m2 - m1, rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    assert result.ci_low == pytest.approx(m2 - m1 - stats.t.ppf(0.975, df) * se, rel=1e-9)
    assert result.ci_high == pytest.approx(m2 - m1 + stats.t.ppf(0.975, df) * se, rel=1e-9)


def test_no_signal_in_either_arm_is_no_evidence():
    result = statistics.rate_difference(baseline_count=0, baseline_n=500, candidate_count=0, candidate_n=400)

    assert (result.difference, result.p_value) == (0.0, 1.0)


def test_sample_size_is_the_arcsine_formula():
    n = statistics.sample_size_per_arm(baseline_rate=0.098, min_detectable_effect=-0.02, alpha=0.05, power=0.8)

    # the arcsine transform has variance 1/n per arm, so the difference of two arms 2/n
    h = abs(2 * math.asin(math.sqrt(0.078)) - 2 * math.asin(math.sqrt(0.098)))
    z_alpha, z_power = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    assert n == math.ceil(2 * ((z_alpha + z_power) / h) ** 2)
    # and within 1 % of the classic normal-approximation formula for two proportions
    p1, p2, pooled = 0.098, 0.078, 0.088
    classic = (z_alpha * math.sqrt(2 * pooled * (1 - pooled)) + z_power * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / 0.02 ** 2
    assert n == pytest.approx(classic, rel=0.01)


@pytest.mark.parametrize("rate, effect", [(0.0, 0.02), (1.0, 0.1), (0.5, 0.0), (0.5, 0.7)])
def test_sample_size_refuses_rates_it_cannot_test(rate, effect):
    with pytest.raises(ValueError):
        statistics.sample_size_per_arm(baseline_rate=rate, min_detectable_effect=effect)


def test_holm_on_known_p_values():
    assert statistics.holm([0.01, 0.04, 0.03], alpha=0.05) == pytest.approx([0.03, 0.06, 0.06])
    assert statistics.holm([0.2, 0.001], alpha=0.05) == pytest.approx([0.2, 0.002])


def test_msprt_p_value_is_the_inverse_mixture_likelihood_ratio():
    d, v, tau = -0.03, 0.0001, 0.02

    p = statistics.msprt_p_value(difference=d, variance=v, tau=tau)

    ratio = math.sqrt(v / (v + tau ** 2)) * math.exp(tau ** 2 * d ** 2 / (2 * v * (v + tau ** 2)))
    assert p == pytest.approx(min(1.0, 1 / ratio), rel=1e-12)


def test_msprt_read_at_every_look_keeps_the_false_positive_rate():
    # 400 A/A tests, each looked at after every 100 turns per arm up to 5,000: stopping at the first
    # look with p < 0.05 must happen in at most 5 % of them (plus sampling slack).
    rng = np.random.default_rng(11)
    stopped = 0
    for _ in range(400):
        a = rng.random(5000) < 0.1
        b = rng.random(5000) < 0.1
        for n in range(100, 5001, 100):
            pa, pb = a[:n].mean(), b[:n].mean()
            variance = pa * (1 - pa) / n + pb * (1 - pb) / n
            if statistics.msprt_p_value(difference=pb - pa, variance=variance, tau=0.02) < 0.05:
                stopped += 1
                break
    assert stopped / 400 <= 0.05 + 0.025
