"""The post-deploy watch: after a promotion, the new version's signal rates against the previous
version's over the same hours of the week (the week before), one grouped count per arm
(``apps.traces.rates.arm_signal_counts``). A guardrail worse beyond its tolerance with
significance (Holm-adjusted across guardrails, α = 0.05) raises one ``Regression`` per signal.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.experiments import statistics
from apps.experiments.models import Change, ChangeStatus, Regression, Validation
from apps.experiments.selectors.prompts import prompt_version_reference
from apps.experiments.verdicts import Direction, describe, rate_metric, replace_passed
from apps.traces.rates import arm_signal_counts

WEEK = dt.timedelta(days=7)
WATCH_FOR = dt.timedelta(days=14)
ALPHA = 0.05
DEFAULT_GUARDRAILS = [{"signal": "thumbs_down", "direction": "decrease", "tolerance": 0.01},
                      {"signal": "escalation", "direction": "decrease", "tolerance": 0.01}]


def _guardrails(change: Change) -> list[dict]:
    online = (Validation.objects.for_project(change.project_id).filter(change=change, kind="online")
              .order_by("-created_at", "-id").first())
    if online is None:
        return DEFAULT_GUARDRAILS
    target = online.inputs["target"]
    return [{**target, "tolerance": 0.0}, *online.inputs.get("guardrails", [])]


def watch_change(*, change: Change, now: dt.datetime | None = None) -> list[Regression]:
    """Compare and raise; returns the regressions open on the change afterwards. Safe to run twice."""
    now = now or timezone.now()
    project = change.project
    new = prompt_version_reference(change.candidate.prompt.name, change.candidate.number)
    old = prompt_version_reference(change.baseline.prompt.name, change.baseline.number)
    guardrails = _guardrails(change)
    kinds = [g["signal"] for g in guardrails]
    after = arm_signal_counts(project=project, arm_by="prompt_version", arms=[new], kinds=kinds, since=change.promoted_at, until=now)[new]
    before = arm_signal_counts(project=project, arm_by="prompt_version", arms=[old], kinds=kinds,
                               since=change.promoted_at - WEEK, until=now - WEEK)[old]
    metrics = [rate_metric(name=g["signal"], role="guardrail", direction=Direction(g["direction"]),
                           baseline_count=before.with_signal[g["signal"]], baseline_n=before.turns,
                           candidate_count=after.with_signal[g["signal"]], candidate_n=after.turns, tolerance=g["tolerance"])
               for g in guardrails]
    adjusted = statistics.holm([m.p_value if m.p_value is not None else 1.0 for m in metrics], alpha=ALPHA)
    for metric, p in zip(metrics, adjusted):
        worse = metric.worse_by()
        if worse is None or min(metric.baseline_n, metric.candidate_n) < 30 or not (worse > metric.tolerance and p < ALPHA):
            continue
        checked = replace_passed(metric, p_adjusted=p, passed=False)
        Regression.objects.for_project(project).get_or_create(
            project=project, change=change, signal=metric.name,
            defaults={"version": change.candidate, "previous": change.baseline, "raised_at": now,
                      "explanation": describe(checked),
                      "figures": {"baseline": {"n": metric.baseline_n, "value": metric.baseline_value},
                                  "candidate": {"n": metric.candidate_n, "value": metric.candidate_value},
                                  "difference": metric.difference, "ci_low": metric.ci_low, "ci_high": metric.ci_high,
                                  "p_value": metric.p_value, "p_adjusted": p, "tolerance": metric.tolerance,
                                  "test": metric.test}},
        )
    return list(Regression.objects.for_project(project).filter(change=change, resolved_at__isnull=True))


def watch_due(*, project_id=None, now: dt.datetime | None = None) -> int:
    """Watch every change promoted in the last two weeks (and still promoted); returns how many."""
    now = now or timezone.now()
    changes = (Change.all_tenants.filter(status=ChangeStatus.PROMOTED, promoted_at__gte=now - WATCH_FOR)  # unscoped: the beat walks every tenant
               .select_related("project__organization", "candidate__prompt", "baseline__prompt"))
    if project_id is not None:
        changes = changes.filter(project_id=project_id)
    count = 0
    for change in changes:
        watch_change(change=change, now=now)
        count += 1
    return count
