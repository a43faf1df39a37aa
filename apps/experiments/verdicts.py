"""A validation's verdict from its figures, and the sentences a product manager reads.

``ship``: the target moved the right way with p < α and its interval excludes zero, and no
guardrail is worse beyond its tolerance with significance (Holm-adjusted across guardrails).
``hold``: the target got significantly worse, or a guardrail broke. ``inconclusive``: not
significant at the horizon, or an arm too small or empty (the reason is given). ``running``: a
fixed-horizon test before its horizon — whatever the p-value says, so peeking cannot ship.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from apps.experiments import statistics


class Verdict(StrEnum):
    SHIP = "ship"
    HOLD = "hold"
    INCONCLUSIVE = "inconclusive"
    RUNNING = "running"


class Direction(StrEnum):
    DECREASE = "decrease"
    INCREASE = "increase"


MIN_ARM = 30  # below this many observations per arm no verdict but inconclusive


@dataclass(frozen=True)
class Metric:
    """One compared figure: a rate (``unit="rate"``, shown in percent and points), a score, or the
    mean of a numeric signal (``unit="value"``, in the signal's own units)."""

    name: str
    role: str  # "target" | "guardrail"
    direction: Direction
    baseline_n: int
    baseline_value: float | None
    candidate_n: int
    candidate_value: float | None
    difference: float | None  # candidate − baseline
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    test: str
    tolerance: float = 0.0  # guardrails: how much worse is still acceptable (≥ 0, in the metric's unit)
    unit: str = "rate"
    p_adjusted: float | None = None  # guardrails, after Holm
    passed: bool | None = None

    def worse_by(self) -> float | None:
        """How much worse the candidate is (positive = worse), in the metric's unit."""
        if self.difference is None:
            return None
        return self.difference if self.direction == Direction.DECREASE else -self.difference


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    metrics: list[Metric]
    explanation: str


def validate_alpha(alpha: float) -> float:
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 < alpha <= 0.5:
        raise ValueError("alpha lies in (0, 0.5]")
    return float(alpha)


def decide(*, target: Metric, guardrails: list[Metric], alpha: float, horizon_reached: bool = True,
           horizon_note: str = "") -> Decision:
    """The verdict (module doc) with every metric's pass/fail and the explanation."""
    alpha = validate_alpha(alpha)
    for guardrail in guardrails:
        if guardrail.tolerance < 0:
            raise ValueError(f"the tolerance of {guardrail.name} is how much worse is acceptable: zero or more")
    adjusted = statistics.holm([g.p_value if g.p_value is not None else 1.0 for g in guardrails], alpha=alpha)
    checked = []
    for guardrail, p in zip(guardrails, adjusted):
        worse = guardrail.worse_by()
        broke = worse is not None and worse > guardrail.tolerance and p < alpha
        checked.append(replace(guardrail, p_adjusted=p, passed=not broke))
    lines = [describe(target)] + [describe(g) for g in checked]
    reason = _small(target)
    improved = (target.p_value is not None and target.p_value < alpha and target.ci_low is not None
                and target.worse_by() is not None and target.worse_by() < 0 and _excludes_zero(target))
    worsened = (target.p_value is not None and target.p_value < alpha and target.worse_by() is not None
                and target.worse_by() > 0 and _excludes_zero(target))
    broken = [g for g in checked if not g.passed]
    if reason:
        verdict, summary = Verdict.INCONCLUSIVE, reason
    elif not horizon_reached:
        verdict, summary = Verdict.RUNNING, horizon_note or "The test has not reached its planned sample; no verdict before it."
    elif worsened or broken:
        verdict = Verdict.HOLD
        causes = ([f"{target.name} got worse"] if worsened else []) + [f"guardrail {g.name} broke" for g in broken]
        summary = "Hold: " + " and ".join(causes) + "."
    elif improved:
        verdict, summary = Verdict.SHIP, f"Ship: {target.name} improved significantly (p < {alpha:g}) and every guardrail held."
    else:
        verdict, summary = Verdict.INCONCLUSIVE, f"Inconclusive: the change in {target.name} is not significant at α = {alpha:g}."
    target = replace(target, passed=verdict == Verdict.SHIP)
    return Decision(verdict=verdict, metrics=[target, *checked], explanation="\n".join([summary, *lines]))


def _excludes_zero(metric: Metric) -> bool:
    return metric.ci_low is not None and metric.ci_high is not None and (metric.ci_low > 0 or metric.ci_high < 0)


def _small(metric: Metric) -> str:
    if metric.baseline_value is None or metric.candidate_value is None or metric.difference is None:
        return f"Inconclusive: no data for {metric.name} in one of the arms."
    if min(metric.baseline_n, metric.candidate_n) < MIN_ARM:
        return (f"Inconclusive: too few observations ({metric.baseline_n:,} / {metric.candidate_n:,}; "
                f"at least {MIN_ARM} per arm).")
    return ""


def _plain(value: float, unit: str) -> str:
    """A score to three significant figures; a signal's value (a latency of 1,234 ms) without an exponent."""
    if unit == "value" and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _figure(value: float, unit: str) -> str:
    return f"{value * 100:.1f} %" if unit == "rate" else _plain(value, unit)


def _change(value: float, unit: str) -> str:
    sign = "−" if value < 0 else "+"
    return f"{sign}{abs(value) * 100:.1f} points" if unit == "rate" else f"{sign}{_plain(abs(value), unit)}"


def _bound(value: float, unit: str) -> str:
    text = f"{value * 100:.1f}" if unit == "rate" else _plain(value, unit)
    return text.replace("-", "−")


def format_p(p: float) -> str:
    if p < 0.00001:
        return "p < 0.00001"
    return f"p = {p:.2g}" if p < 0.001 else f"p = {p:.3f}".rstrip("0").rstrip(".")


def describe(metric: Metric) -> str:
    """"thumbs-down fell from 9.8 % to 6.1 % (−3.7 points, 95 % CI −5.0 to −2.4), p = 2e-05, n = 4,100 / 4,050"."""
    if metric.difference is None or metric.baseline_value is None or metric.candidate_value is None:
        return f"{'mean ' if metric.unit == 'value' else ''}{metric.name}: no data."
    verb = "fell" if metric.difference < 0 else "rose" if metric.difference > 0 else "stayed"
    label = f"mean {metric.name}" if metric.unit == "value" else metric.name
    text = f"{label} {verb} from {_figure(metric.baseline_value, metric.unit)} to {_figure(metric.candidate_value, metric.unit)}"
    if metric.ci_low is not None and metric.ci_high is not None and not math.isnan(metric.ci_low):
        text += (f" ({_change(metric.difference, metric.unit)}, 95 % CI {_bound(metric.ci_low, metric.unit)} "
                 f"to {_bound(metric.ci_high, metric.unit)})")
    if metric.p_value is not None:
        text += f", {format_p(metric.p_value)}"
        if metric.p_adjusted is not None:
            text += f" (Holm-adjusted {format_p(metric.p_adjusted).removeprefix('p ').lstrip('= ')})"
    text += f", n = {metric.baseline_n:,} / {metric.candidate_n:,}"
    if metric.role == "guardrail":
        text += f"; tolerance {_change(metric.tolerance, metric.unit).lstrip('+')} worse: {'held' if metric.passed else 'BROKE'}"
    return text + f" [{metric.test}]"


def rate_metric(*, name: str, role: str, direction: Direction, baseline_count: int, baseline_n: int,
                candidate_count: int, candidate_n: int, tolerance: float = 0.0, sequential_tau: float | None = None) -> Metric:
    """A rate compared between two live arms: the score test, or the always-valid mSPRT p-value."""
    if baseline_n == 0 or candidate_n == 0:
        return Metric(name, role, direction, baseline_n, None, candidate_n, None, None, None, None, None,
                      "no turns in an arm", tolerance)
    result = statistics.rate_difference(baseline_count=baseline_count, baseline_n=baseline_n,
                                        candidate_count=candidate_count, candidate_n=candidate_n)
    p_value, test = result.p_value, "pooled two-proportion z-test, Newcombe interval"
    if sequential_tau is not None:
        variance = (result.baseline_rate * (1 - result.baseline_rate) / baseline_n
                    + result.candidate_rate * (1 - result.candidate_rate) / candidate_n)
        p_value = statistics.msprt_p_value(difference=result.difference, variance=variance, tau=sequential_tau)
        test = f"always-valid mSPRT p-value (normal mixture, τ = {sequential_tau:g}), Newcombe interval"
    return Metric(name, role, direction, baseline_n, result.baseline_rate, candidate_n, result.candidate_rate,
                  result.difference, result.ci_low, result.ci_high, p_value, test, tolerance)


def mean_metric(*, name: str, role: str, direction: Direction, baseline: statistics.Moments,
                candidate: statistics.Moments, tolerance: float = 0.0) -> Metric:
    """The mean of a numeric signal compared between two live arms: Welch's t-test and interval.
    ``n`` is the turns with a value; the tolerance is in the signal's own units."""
    test = "Welch's t-test (mean of the signal's values, one a turn)"
    if baseline.n < 2 or candidate.n < 2:
        return Metric(name, role, direction, baseline.n, baseline.mean if baseline.n else None, candidate.n,
                      candidate.mean if candidate.n else None, None, None, None, None,
                      "fewer than two values in an arm", tolerance, unit="value")
    result = statistics.mean_difference_from_moments(baseline, candidate)
    return Metric(name, role, direction, result.baseline_n, result.baseline_mean, result.candidate_n,
                  result.candidate_mean, result.difference, result.ci_low, result.ci_high, result.p_value, test,
                  tolerance, unit="value")


def replace_passed(metric: Metric, *, p_adjusted: float | None, passed: bool) -> Metric:
    """The metric with its Holm-adjusted p-value and pass/fail set (the watch's guardrails)."""
    return replace(metric, p_adjusted=p_adjusted, passed=passed)
