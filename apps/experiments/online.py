"""An online validation's figures: two live arms (A/B variants or prompt versions) compared on a
target signal and guardrail signals, over a window of traffic, by the rules of ``verdicts``.

The counts come from capture in two grouped statements (``apps.traces.rates``); nothing here
reads turns one by one, so a million live turns cost what two index-range aggregates cost.

Designs: ``fixed`` — the horizon is the sample per arm a power calculation asks for (the
baseline rate, the minimum detectable effect, α and power), and the verdict stays ``running``
until both arms reach it; ``sequential`` — an always-valid mSPRT p-value that may stop early.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apps.experiments import statistics
from apps.experiments.verdicts import Decision, Direction, Verdict, decide, rate_metric, validate_alpha
from apps.traces.rates import arm_signal_counts

FIXED, SEQUENTIAL = "fixed", "sequential"
DEFAULT_MIN_DETECTABLE_EFFECT = 0.02  # two points of the target's rate
DEFAULT_POWER = 0.8


@dataclass(frozen=True)
class Goal:
    signal: str
    direction: Direction
    tolerance: float = 0.0  # guardrails only, in rate points (0.01 = one point)


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
    if not 0 < abs(min_detectable_effect) < 1:
        raise ValueError("the minimum detectable effect is a rate difference between 0 and 1 (0.02 = two points)")
    if not 0.5 <= power < 1:
        raise ValueError("power lies in [0.5, 1)")
    signals = [target.signal, *[g.signal for g in guardrails]]
    if len(set(signals)) != len(signals):
        raise ValueError("each signal is the target or one guardrail, once")
    counts = arm_signal_counts(project=project, arm_by=arm_by, arms=[baseline, candidate], kinds=signals,
                               since=since, until=until)
    base, cand = counts[baseline], counts[candidate]
    tau = abs(min_detectable_effect) if design == SEQUENTIAL else None

    def metric(goal: Goal, role: str):
        return rate_metric(name=goal.signal, role=role, direction=goal.direction,
                           baseline_count=base.with_signal[goal.signal], baseline_n=base.turns,
                           candidate_count=cand.with_signal[goal.signal], candidate_n=cand.turns,
                           tolerance=goal.tolerance, sequential_tau=tau)

    sample_needed, horizon_reached, note = None, True, ""
    if design == FIXED:
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
    design_line = ("Design: fixed horizon (two-sided pooled z-test at the planned sample per arm)." if design == FIXED
                   else f"Design: sequential (always-valid mSPRT p-value, τ = {tau:g}); it may stop early.")
    decision = Decision(decision.verdict, decision.metrics, decision.explanation + "\n" + design_line)
    return OnlineResult(decision=decision, sample_needed=sample_needed, design=design,
                        counts={arm: {"turns": c.turns, **c.with_signal} for arm, c in counts.items()})
