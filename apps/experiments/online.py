"""An online validation's figures: two live arms (A/B variants or prompt versions) compared on a
target signal and guardrail signals, over a window of traffic, by the rules of ``verdicts``.

The counts come from capture in two grouped statements (``apps.traces.rates``); nothing here
reads turns one by one, so a million live turns cost what two index-range aggregates cost.

A goal is a rate (``stat="rate"``: the share of turns with the signal, tolerance in rate points)
or the mean of a numeric signal (``stat="mean"``: one value a turn, Welch's t-test, tolerance in
the signal's own units — a ``csat`` of 1–5, a ``latency_ms``); ``apps.traces.rates`` reads the
means' counts, sums and sums of squares in one more grouped statement.

Designs: ``fixed`` — the horizon is the sample per arm a power calculation asks for (for a rate
target the baseline rate, the minimum detectable effect as a rate difference, α and power; for a
mean target the effect in the signal's units over the baseline's standard deviation), and the
verdict stays ``running`` until both arms reach it; ``sequential`` — an always-valid mSPRT p-value
that may stop early, for rates only (its prior is set in rate points; a mean goal is refused).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from apps.experiments import statistics
from apps.experiments.verdicts import Decision, Direction, Verdict, decide, mean_metric, rate_metric, validate_alpha
from apps.traces.rates import arm_signal_counts, arm_signal_values

FIXED, SEQUENTIAL = "fixed", "sequential"
RATE, MEAN = "rate", "mean"
DEFAULT_MIN_DETECTABLE_EFFECT = 0.02  # two points of the target's rate
DEFAULT_POWER = 0.8


@dataclass(frozen=True)
class Goal:
    signal: str
    direction: Direction
    tolerance: float = 0.0  # guardrails only: rate points (0.01 = one point), or the signal's units for a mean
    stat: str = RATE  # RATE: the share of turns with the signal; MEAN: the mean of its numeric values


@dataclass(frozen=True)
class OnlineResult:
    decision: Decision
    sample_needed: int | None  # per arm, fixed design
    design: str
    counts: dict  # arm → {"turns": n, signal: turns with it}


def evaluate(*, project, arm_by: str, baseline: str, candidate: str, target: Goal, guardrails: list[Goal],
             since: dt.datetime | None = None, until: dt.datetime | None = None, alpha: float = 0.05,
             design: str = FIXED, min_detectable_effect: float = DEFAULT_MIN_DETECTABLE_EFFECT,
             power: float = DEFAULT_POWER, baseline_rate: float | None = None) -> OnlineResult:
    """Compare ``candidate`` with ``baseline`` (values of ``arm_by``) on live turns in the window."""
    alpha = validate_alpha(alpha)
    if baseline == candidate:
        raise ValueError("the candidate is the baseline: compare two different arms")
    if design not in (FIXED, SEQUENTIAL):
        raise ValueError(f"the design is {FIXED!r} or {SEQUENTIAL!r}")
    goals = [target, *guardrails]
    if any(goal.stat not in (RATE, MEAN) for goal in goals):
        raise ValueError(f"a goal's stat is {RATE!r} or {MEAN!r}")
    means = [goal.signal for goal in goals if goal.stat == MEAN]
    if means and design == SEQUENTIAL:
        raise ValueError("the sequential design covers rates only: compare the mean of a numeric signal with the fixed design")
    if target.stat == MEAN:
        if not 0 < min_detectable_effect < 1e12:
            raise ValueError(f"the minimum detectable effect of mean {target.signal} is above zero, in the signal's units")
        if baseline_rate is not None:
            raise ValueError("baseline_rate is for a rate target")
    elif not 0 < abs(min_detectable_effect) < 1:
        raise ValueError("the minimum detectable effect is a rate difference between 0 and 1 (0.02 = two points)")
    if not 0.5 <= power < 1:
        raise ValueError("power lies in [0.5, 1)")
    signals = [goal.signal for goal in goals]
    if len(set(signals)) != len(signals):
        raise ValueError("each signal is the target or one guardrail, once")
    rates = [goal.signal for goal in goals if goal.stat == RATE]
    counts = arm_signal_counts(project=project, arm_by=arm_by, arms=[baseline, candidate], kinds=rates,
                               since=since, until=until)
    values = arm_signal_values(project=project, arm_by=arm_by, arms=[baseline, candidate], kinds=means,
                               since=since, until=until) if means else {}
    base, cand = counts[baseline], counts[candidate]
    tau = abs(min_detectable_effect) if design == SEQUENTIAL else None

    def moments(arm: str, signal: str) -> statistics.Moments:
        sums = values[arm][signal]
        return statistics.Moments(sums.n, sums.total, sums.squares)

    def metric(goal: Goal, role: str):
        if goal.stat == MEAN:
            return mean_metric(name=goal.signal, role=role, direction=goal.direction, baseline=moments(baseline, goal.signal),
                               candidate=moments(candidate, goal.signal), tolerance=goal.tolerance)
        return rate_metric(name=goal.signal, role=role, direction=goal.direction,
                           baseline_count=base.with_signal[goal.signal], baseline_n=base.turns,
                           candidate_count=cand.with_signal[goal.signal], candidate_n=cand.turns,
                           tolerance=goal.tolerance, sequential_tau=tau)

    sample_needed, horizon_reached, note = None, True, ""
    design_line = ("Design: fixed horizon (two-sided pooled z-test at the planned sample per arm)." if design == FIXED
                   else f"Design: sequential (always-valid mSPRT p-value, τ = {tau:g}); it may stop early.")
    if design == FIXED and target.stat == MEAN:
        spread = moments(baseline, target.signal)
        sd = math.sqrt(spread.variance) if spread.n >= 2 else 0.0
        if sd > 0:
            sample_needed = statistics.sample_size_per_arm_mean(standard_deviation=sd, min_detectable_effect=min_detectable_effect,
                                                                alpha=alpha, power=power)
        observed = min(spread.n, moments(candidate, target.signal).n)
        if sample_needed is None:
            horizon_reached, note = False, (f"Running: the spread of the baseline's {target.signal} values is not yet known "
                                            "(fewer than two values, or all equal), so the horizon cannot be set.")
        else:
            horizon_reached = observed >= sample_needed
            note = (f"Running: {observed:,} of the {sample_needed:,} {target.signal} values per arm the test needs "
                    f"(to detect a change of {min_detectable_effect:g} in its mean, the baseline's standard deviation "
                    f"being {sd:.3g}, at α = {alpha:g}, power {power:g}); no verdict before the horizon.")
        design_line = (f"Design: fixed horizon (Welch's t-test at the planned values per arm; the horizon from a power "
                       f"calculation on the effect over the baseline's standard deviation, {sd:.3g}).")
    elif design == FIXED:
        rate = baseline_rate if baseline_rate is not None else base.rate(target.signal)
        if rate is not None and 0 < rate < 1:
            try:
                sample_needed = statistics.sample_size_per_arm(baseline_rate=rate, min_detectable_effect=min_detectable_effect,
                                                               alpha=alpha, power=power)
            except ValueError:
                sample_needed = None
        if sample_needed is None:
            horizon_reached, note = False, (f"Running: the baseline's {target.signal} rate is not yet known "
                                            "(no turns, or none or all with the signal), so the horizon cannot be set.")
        else:
            horizon_reached = min(base.turns, cand.turns) >= sample_needed
            note = (f"Running: {min(base.turns, cand.turns):,} of the {sample_needed:,} turns per arm the test needs "
                    f"(to detect {abs(min_detectable_effect) * 100:g} points at α = {alpha:g}, power {power:g}); "
                    "no verdict before the horizon.")
    decision = decide(target=metric(target, "target"), guardrails=[metric(g, "guardrail") for g in guardrails],
                      alpha=alpha, horizon_reached=horizon_reached, horizon_note=note)
    if decision.verdict == Verdict.INCONCLUSIVE and design == FIXED and not horizon_reached:
        decision = Decision(Verdict.RUNNING, decision.metrics, note + "\n" + decision.explanation.split("\n", 1)[-1])
    decision = Decision(decision.verdict, decision.metrics, decision.explanation + "\n" + design_line)
    report_counts = {arm: {"turns": c.turns, **c.with_signal} for arm, c in counts.items()}
    for arm, sums in values.items():  # the means' figures: values per arm and their mean
        report_counts[arm]["values"] = {kind: {"n": v.n, "mean": v.total / v.n if v.n else None} for kind, v in sums.items()}
    return OnlineResult(decision=decision, sample_needed=sample_needed, design=design, counts=report_counts)
