"""Deleting turns: the one door both retention expiry and end-user deletion go through.

A turn goes together with what lives and dies with it (steps, signals, feedback, the detection
pass that saw it, the LLM judge's verdicts on it) and leaves a ``TurnTombstone`` for the lineage
that outlives it (dataset cases, review decisions, problem memberships, audit rows refer to
turns by id). One call is one
transaction over a bounded set of turns: a crash leaves either the whole batch or none of it,
never a turn without its tombstone or children without a turn they had. Callers choose the turns
(expiry excludes held ones in the same query, so a turn that became held after it was listed is
not deleted) and loop over batches; each loop is resumable because a deleted turn is not found
again and a tombstone insert ignores one already there.
"""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.utils import timezone

from apps.detection.models import DetectionPass, JudgeVerdict
from apps.traces.models import Feedback, Signal, Step, Turn, TurnTombstone

# What goes with its turn, by the name the deletion counts use.
TURN_CHILDREN = {
    "steps": Step, "signals": Signal, "feedback": Feedback, "detection_passes": DetectionPass, "judge_verdicts": JudgeVerdict,
}


def purge_turns(*, project, turns, reason: str, now=None) -> Counter:
    """Delete the turns of ``turns`` (a Turn queryset of ``project``) that no other transaction
    holds locked, with their children, leaving tombstones; returns row counts by kind.

    Rows locked by a concurrent writer (a turn being updated right now) are skipped, not waited
    for: the next batch or run takes them.
    """
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(turns.select_for_update(skip_locked=True, of=("self",)).values_list("id", "created_at"))
        if not rows:
            return Counter()
        ids = [turn_id for turn_id, _ in rows]
        TurnTombstone.objects.bulk_create(
            [TurnTombstone(project=project, id=turn_id, turn_created_at=created_at, deleted_at=now, reason=reason)
             for turn_id, created_at in rows],
            ignore_conflicts=True,
        )
        counts = Counter()
        for kind, model in TURN_CHILDREN.items():
            counts[kind] = model.objects.for_project(project).filter(turn_id__in=ids).delete()[0]
        counts["turns"] = Turn.objects.for_project(project).filter(id__in=ids).delete()[0]
    return +counts
