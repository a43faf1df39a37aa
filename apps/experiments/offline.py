"""An offline validation's figures: a candidate and a baseline experiment on the same dataset
version, paired by case, compared scorer by scorer.

Pass/fail scorers: McNemar on the discordant pairs for the p-value, the paired bootstrap of the
pass-rate difference for the interval. Numeric scorers: the paired bootstrap interval of the mean
difference and the paired t-test. The first metric named (or the first scorer) is the target and
the rest are guardrails (tolerance 0 unless given); the verdict follows ``verdicts.decide``.
Only cases both experiments scored are compared, and the report says how many were left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.experiments import statistics
from apps.experiments.verdicts import Decision, Direction, Metric, decide


@dataclass(frozen=True)
class MetricSpec:
    scorer: str
    direction: Direction = Direction.INCREASE  # scores: higher is better unless said otherwise
    tolerance: float = 0.0


@dataclass(frozen=True)
class Flip:
    case_id: str
    scorer: str
    baseline: bool
    candidate: bool


@dataclass(frozen=True)
class OfflineResult:
    decision: Decision
    flipped: list[Flip]  # pass → fail first, then fail → pass
    paired_cases: int
    unpaired_cases: int


def _is_pass_fail(values) -> bool:
    return all(isinstance(v, bool) for v in values)


def _metric(spec: MetricSpec, role: str, pairs: list[tuple[str, object, object]]) -> tuple[Metric, list[Flip]]:
    baseline = [b for _, b, _ in pairs]
    candidate = [c for _, _, c in pairs]
    n = len(pairs)
    if n < 2:
        return Metric(spec.scorer, role, spec.direction, n, None, n, None, None, None, None, None,
                      "fewer than two cases scored by both experiments", spec.tolerance, unit="score"), []
    if _is_pass_fail(baseline + candidate):
        test = statistics.mcnemar(baseline, candidate)
        interval = statistics.paired_difference([float(v) for v in baseline], [float(v) for v in candidate])
        flips = [Flip(case, spec.scorer, b, c) for case, b, c in pairs if b != c]
        flips.sort(key=lambda flip: (not flip.baseline, flip.case_id))  # pass → fail first
        metric = Metric(spec.scorer, role, spec.direction, n, interval.baseline_mean, n, interval.candidate_mean,
                        interval.difference, interval.ci_low, interval.ci_high, test.p_value,
                        f"{test.test}; paired bootstrap interval ({interval.resamples:,} resamples, seed {interval.seed})",
                        spec.tolerance, unit="rate")
        return metric, flips
    numbers_b, numbers_c = [], []
    for _, b, c in pairs:
        if isinstance(b, bool) or isinstance(c, bool) or not isinstance(b, (int, float)) or not isinstance(c, (int, float)):
            raise ValueError(f"scorer {spec.scorer!r} mixes pass/fail and numeric scores")
        numbers_b.append(float(b))
        numbers_c.append(float(c))
    result = statistics.paired_difference(numbers_b, numbers_c)
    metric = Metric(spec.scorer, role, spec.direction, n, result.baseline_mean, n, result.candidate_mean, result.difference,
                    result.ci_low, result.ci_high, result.p_value,
                    f"paired t-test; paired bootstrap interval ({result.resamples:,} resamples, seed {result.seed})",
                    spec.tolerance, unit="score")
    return metric, []


def evaluate(*, baseline: dict[str, dict], candidate: dict[str, dict], metrics: list[MetricSpec] | None = None,
             alpha: float = 0.05) -> OfflineResult:
    """``baseline`` and ``candidate`` map case id → {scorer: bool | number}; ``metrics`` defaults to
    every scorer both have, the first as the target."""
    if baseline is candidate:
        raise ValueError("the candidate is the baseline: compare two different experiments")
    scorers = sorted({s for scores in baseline.values() for s in scores} & {s for scores in candidate.values() for s in scores})
    specs = metrics or [MetricSpec(s) for s in scorers]
    if not specs:
        raise ValueError("the two experiments have no scorer in common")
    shared = sorted(set(baseline) & set(candidate))
    unpaired = len(set(baseline) ^ set(candidate))
    computed, flipped = [], []
    for index, spec in enumerate(specs):
        pairs = [(case, baseline[case][spec.scorer], candidate[case][spec.scorer]) for case in shared
                 if spec.scorer in baseline[case] and spec.scorer in candidate[case]]
        metric, flips = _metric(spec, "target" if index == 0 else "guardrail", pairs)
        computed.append(metric)
        flipped.extend(flips)
    decision = decide(target=computed[0], guardrails=computed[1:], alpha=alpha)
    if unpaired:
        decision = Decision(decision.verdict, decision.metrics,
                            decision.explanation + f"\n{unpaired:,} cases scored by only one experiment were left out.")
    return OfflineResult(decision=decision, flipped=flipped, paired_cases=len(shared), unpaired_cases=unpaired)
