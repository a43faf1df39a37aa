"""The statistics a validation's verdict rests on, each computed by a kept library function.

Offline (paired: the same dataset cases under a baseline and a candidate):
- pass/fail scorers: McNemar's test on the discordant pairs — exact (``scipy.stats.binomtest``
  on the smaller discordant count, two-sided, p = 0.5) below ``MCNEMAR_EXACT_BELOW`` discordant
  pairs, otherwise the continuity-corrected chi-square form (``scipy.stats.chi2.sf`` of
  ``(|b − c| − 1)² / (b + c)``, one degree of freedom);
- numeric scorers (and pass rates, as 0/1): a paired bootstrap 95 % interval of the mean
  difference (``scipy.stats.bootstrap`` over the per-case differences, BCa, ``BOOTSTRAP_RESAMPLES``
  resamples, a fixed seed stated on the report) and the paired t-test (``scipy.stats.ttest_rel``).

Online (independent arms: live turns of two variants or prompt versions):
- a rate per arm (turns with the signal / turns), the difference with its 95 % interval
  (Newcombe's hybrid score interval, ``statsmodels.stats.proportion.confint_proportions_2indep``)
  and the two-sided pooled two-proportion z-test (``statsmodels.stats.proportion.proportions_ztest``);
- the mean of a numeric signal per arm (one value a turn; the arms' counts, sums and sums of
  squares come from one grouped query): Welch's t-test (``scipy.stats.ttest_ind_from_stats`` with
  ``equal_var=False``) and its interval (Welch–Satterthwaite degrees of freedom, ``scipy.stats.t``);
  its fixed horizon from ``NormalIndPower.solve_power`` on Cohen's d (the effect over the
  baseline's standard deviation);
- the fixed-horizon sample per arm from a power calculation
  (``statsmodels.stats.power.NormalIndPower.solve_power`` on Cohen's h,
  ``statsmodels.stats.proportion.proportion_effectsize``);
- or an always-valid p-value (mixture SPRT, Johari, Koomen, Pekelis & Walsh 2017, "Peeking at
  A/B tests"): a normal mixture over the difference with the prior's variance τ² = the minimum
  detectable effect², so it may be read at every look; ``msprt_p_value`` writes the formula out,
  as no kept library computes it;
- guardrails corrected for multiplicity with Holm's step-down
  (``statsmodels.stats.multitest.multipletests(method="holm")``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

MCNEMAR_EXACT_BELOW = 25
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_BATCH = 500
BOOTSTRAP_SEED = 20_261_203  # printed on every report, so its interval reproduces
CONFIDENCE = 0.95


@dataclass(frozen=True)
class McNemar:
    baseline_only: int  # pairs the baseline passed and the candidate failed (b)
    candidate_only: int  # pairs the candidate passed and the baseline failed (c)
    p_value: float
    test: str


def mcnemar(baseline: Sequence[bool], candidate: Sequence[bool]) -> McNemar:
    """McNemar's test of paired pass/fail outcomes (see the module doc for which form)."""
    if len(baseline) != len(candidate):
        raise ValueError("paired outcomes need the same number of cases")
    b = sum(1 for x, y in zip(baseline, candidate) if x and not y)
    c = sum(1 for x, y in zip(baseline, candidate) if y and not x)
    discordant = b + c
    if discordant == 0:
        return McNemar(b, c, 1.0, "McNemar: no discordant pairs (p = 1)")
    if discordant < MCNEMAR_EXACT_BELOW:
        p_value = stats.binomtest(min(b, c), discordant, 0.5, alternative="two-sided").pvalue
        return McNemar(b, c, float(min(1.0, p_value)), f"exact McNemar (binomial on {discordant} discordant pairs)")
    statistic = (abs(b - c) - 1) ** 2 / discordant
    return McNemar(b, c, float(stats.chi2.sf(statistic, 1)),
                   f"McNemar chi-square with continuity correction ({discordant} discordant pairs)")


@dataclass(frozen=True)
class PairedDifference:
    n: int
    baseline_mean: float
    candidate_mean: float
    difference: float  # candidate − baseline
    ci_low: float
    ci_high: float
    p_value: float  # paired t-test
    seed: int
    resamples: int


def paired_difference(baseline: Sequence[float], candidate: Sequence[float], *, seed: int = BOOTSTRAP_SEED,
                      resamples: int = BOOTSTRAP_RESAMPLES) -> PairedDifference:
    """Mean difference of paired numbers with its bootstrap interval and the paired t-test."""
    x = np.asarray(baseline, dtype=float)
    y = np.asarray(candidate, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired scores need the same number of cases")
    if x.size < 2:
        raise ValueError("a paired comparison needs at least two cases")
    differences = y - x
    mean = float(differences.mean())
    if np.all(differences == differences[0]):
        # No spread: every resample gives the same mean, and the t statistic is 0/0 or ±∞.
        low = high = mean
        p_value = 1.0 if mean == 0 else 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            # In batches: all resamples at once is a resamples × n array (10⁸ values for 10,000
            # cases), several times slower than batches of BOOTSTRAP_BATCH (bench/validation.py).
            interval = stats.bootstrap(
                (differences,), np.mean, n_resamples=resamples, confidence_level=CONFIDENCE, method="BCa",
                rng=np.random.default_rng(seed), batch=BOOTSTRAP_BATCH,
            ).confidence_interval
        low, high = float(interval.low), float(interval.high)
        if math.isnan(low) or math.isnan(high):  # BCa undefined (e.g. almost all differences equal): percentile
            generator = np.random.default_rng(seed)
            means = np.concatenate([
                differences[generator.integers(0, differences.size, (min(BOOTSTRAP_BATCH, resamples - start), differences.size))].mean(axis=1)
                for start in range(0, resamples, BOOTSTRAP_BATCH)
            ])
            low, high = (float(v) for v in np.percentile(means, [100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2]))
        p_value = float(stats.ttest_rel(y, x).pvalue)
    return PairedDifference(int(x.size), float(x.mean()), float(y.mean()), mean, low, high, p_value, seed, resamples)


@dataclass(frozen=True)
class RateDifference:
    baseline_n: int
    baseline_rate: float
    candidate_n: int
    candidate_rate: float
    difference: float  # candidate − baseline
    ci_low: float
    ci_high: float
    p_value: float


def rate_difference(*, baseline_count: int, baseline_n: int, candidate_count: int, candidate_n: int) -> RateDifference:
    """Two independent rates (the share of turns with a signal): difference, Newcombe interval, pooled z-test."""
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    if baseline_n <= 0 or candidate_n <= 0:
        raise ValueError("each arm needs at least one turn")
    for count, n in ((baseline_count, baseline_n), (candidate_count, candidate_n)):
        if not 0 <= count <= n:
            raise ValueError("a count lies between 0 and its arm's turns")
    p_baseline, p_candidate = baseline_count / baseline_n, candidate_count / candidate_n
    low, high = confint_proportions_2indep(candidate_count, candidate_n, baseline_count, baseline_n,
                                           method="newcomb", compare="diff", alpha=1 - CONFIDENCE)
    if baseline_count + candidate_count in (0, baseline_n + candidate_n):
        p_value = 1.0  # both arms all-or-nothing alike: no evidence of a difference (the z statistic is 0/0)
    else:
        p_value = proportions_ztest([candidate_count, baseline_count], [candidate_n, baseline_n],
                                    alternative="two-sided")[1]
    return RateDifference(baseline_n, p_baseline, candidate_n, p_candidate, p_candidate - p_baseline,
                          float(low), float(high), float(p_value))


@dataclass(frozen=True)
class MeanDifference:
    baseline_n: int
    baseline_mean: float
    candidate_n: int
    candidate_mean: float
    difference: float  # candidate − baseline
    ci_low: float
    ci_high: float
    p_value: float
    baseline_sd: float = 0.0


@dataclass(frozen=True)
class Moments:
    """A sample summarised the way SQL can (``count``, ``sum``, ``sum`` of squares), so an arm of a
    million values is three numbers, never a million rows in Python."""

    n: int
    total: float
    squares: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Moments":
        x = np.asarray(values, dtype=float)
        return cls(int(x.size), float(x.sum()), float((x * x).sum()))

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def variance(self) -> float:
        """The sample variance (n − 1), never below zero (the sum-of-squares form can round under it)."""
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


def mean_difference(baseline: Sequence[float], candidate: Sequence[float]) -> MeanDifference:
    """Two independent samples of a numeric signal: Welch's t-test and its 95 % interval."""
    return mean_difference_from_moments(Moments.of(baseline), Moments.of(candidate))


def mean_difference_from_moments(baseline: Moments, candidate: Moments) -> MeanDifference:
    """Welch's t-test from each arm's count, sum and sum of squares: the p-value by
    ``scipy.stats.ttest_ind_from_stats(equal_var=False)``, the 95 % interval as
    difference ± ``scipy.stats.t.ppf(0.975, ν)`` × standard error, ν the Welch–Satterthwaite
    degrees of freedom (what ``scipy.stats.ttest_ind(equal_var=False).confidence_interval`` gives)."""
    if baseline.n < 2 or candidate.n < 2:
        raise ValueError("each arm needs at least two values")
    m1, v1, n1 = baseline.mean, baseline.variance, baseline.n
    m2, v2, n2 = candidate.mean, candidate.variance, candidate.n
    difference = m2 - m1
    if v1 == 0 and v2 == 0:
        return MeanDifference(n1, m1, n2, m2, difference, difference, difference, 1.0 if difference == 0 else 0.0, 0.0)
    result = stats.ttest_ind_from_stats(m2, math.sqrt(v2), n2, m1, math.sqrt(v1), n1, equal_var=False)
    a, b = v1 / n1, v2 / n2
    freedom = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    half = float(stats.t.ppf((1 + CONFIDENCE) / 2, freedom)) * math.sqrt(a + b)
    return MeanDifference(n1, m1, n2, m2, difference, difference - half, difference + half, float(result.pvalue),
                          math.sqrt(v1))


def sample_size_per_arm(*, baseline_rate: float, min_detectable_effect: float, alpha: float = 0.05,
                        power: float = 0.8) -> int:
    """Turns per arm for a fixed-horizon two-sided test to detect an absolute change of
    ``min_detectable_effect`` in a rate of ``baseline_rate`` (0.02 = 2 points)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    if not 0 < baseline_rate < 1:
        raise ValueError("the baseline rate lies strictly between 0 and 1")
    if min_detectable_effect == 0:
        raise ValueError("the minimum detectable effect is not zero")
    target = baseline_rate + min_detectable_effect
    if not 0 < target < 1:
        target = baseline_rate - min_detectable_effect  # the same distance the other way
    if not 0 < target < 1:
        raise ValueError("the baseline rate plus or minus the effect must stay between 0 and 1")
    effect = abs(proportion_effectsize(target, baseline_rate))
    n = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=1.0, alternative="two-sided")
    return int(math.ceil(n))


def sample_size_per_arm_mean(*, standard_deviation: float, min_detectable_effect: float, alpha: float = 0.05,
                             power: float = 0.8) -> int:
    """Values per arm for a fixed-horizon two-sided test to detect a change of the mean by
    ``min_detectable_effect`` (in the signal's own units) when values spread by
    ``standard_deviation``: ``NormalIndPower.solve_power`` on Cohen's d = effect / deviation
    (the normal approximation of Welch's test, close to it from a few dozen values an arm)."""
    from statsmodels.stats.power import NormalIndPower

    if not standard_deviation > 0:
        raise ValueError("the values' standard deviation is not yet known (no spread)")
    if not min_detectable_effect > 0:
        raise ValueError("the minimum detectable effect is above zero")
    effect = min_detectable_effect / standard_deviation
    n = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=1.0, alternative="two-sided")
    return max(2, int(math.ceil(n)))


def msprt_p_value(*, difference: float, variance: float, tau: float) -> float:
    """Always-valid p-value of a normal mixture SPRT for H0: difference = 0.

    ``difference`` is the current estimate, ``variance`` its variance (for rates
    p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂), ``tau`` the prior's standard deviation. The mixture likelihood
    ratio is Λ = sqrt(V / (V + τ²)) · exp(τ² d² / (2 V (V + τ²))); by Ville's inequality
    P(Λ ever ≥ 1/α | H0) ≤ α, so p = min(1, 1/Λ) may be read at every look.
    """
    if variance <= 0:
        return 1.0 if difference == 0 else 0.0
    total = variance + tau * tau
    log_ratio = 0.5 * math.log(variance / total) + (tau * tau * difference * difference) / (2 * variance * total)
    return float(min(1.0, math.exp(-log_ratio)))


def holm(p_values: Sequence[float], *, alpha: float) -> list[float]:
    """Holm-adjusted p-values (the family-wise error held at ``alpha``), in the given order."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return []
    return [float(p) for p in multipletests(list(p_values), alpha=alpha, method="holm")[1]]
