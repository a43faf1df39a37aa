"""Demo data for the LLM judge: it stays off (the demo has no model endpoint), but the Detectors
tab shows what a past run left — verdicts on the escalation and agent-punted turns and on a few
unflagged ones, stored through the same writer a run uses (``judge_verdicts_record``), so the
agreement table, the judge's usage and its signals have figures.

Safe to call again: verdicts are cached per turn, kind, prompt and model; a second call adds none.
"""

from __future__ import annotations

import hashlib

from apps.core.audit import SYSTEM
from apps.detection.judge import Verdict
from apps.detection.models import JudgeVerdict
from apps.detection.selectors import judge_settings_get
from apps.detection.services.judge import judge_settings_update, judge_verdicts_record
from apps.traces.models import Signal, SignalSource, Turn

KINDS = ["escalation", "agent_punted"]
MODEL = "demo-judge-small"
TURNS_PER_KIND = 40


def _agrees(turn_id, kind) -> bool:
    """Deterministic: the judge agrees with the rule on about 85% of turns."""
    return hashlib.blake2b(f"{turn_id}:{kind}".encode(), digest_size=2).digest()[0] % 100 < 85


def seed_judge_demo(*, project) -> int:
    settings = judge_settings_get(project=project)
    if not settings.pk:
        settings = judge_settings_update(
            project=project, actor=SYSTEM, enabled=False, endpoint_url="", model=MODEL, api_key=None, signal_kinds=KINDS,
            prompts={}, requests_per_minute=60, turns_per_day=1000, price_per_1k_tokens="0.0002",
        )
    if JudgeVerdict.objects.for_project(project).exists():
        return 0
    verdicts = []
    for kind in KINDS:
        flagged = list(dict.fromkeys(
            Signal.objects.for_project(project).filter(kind=kind, source=SignalSource.DETECTOR)
            .order_by("-created_at").values_list("turn_id", flat=True)[:TURNS_PER_KIND]
        ))
        plain = list(
            Turn.objects.for_project(project).exclude(id__in=flagged).order_by("-created_at")
            .values_list("id", flat=True)[:TURNS_PER_KIND // 2]
        )
        for turn_id in flagged + plain:
            fired = turn_id in flagged
            verdict = fired if _agrees(turn_id, kind) else not fired
            reason = f"The answer {'does' if verdict else 'does not'} look like {kind.replace('_', ' ')}."
            verdicts.append((turn_id, kind, Verdict(verdict, 0.9 if verdict == fired else 0.6, reason, 310, 40)))
    return judge_verdicts_record(project=project, settings=settings, verdicts=verdicts, requests=len(verdicts))
