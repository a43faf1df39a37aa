"""The demo's retention: a few days of deletion history made by actually running the expire job
on backdated turns, turns due on the next run (so the preview has something to say), and an old
turn held by a pending review item (its page says "held: in queue …"). Idempotent."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from apps.governance.expiry import project_expire, retention_for
from apps.governance.models import ExpiryDay
from apps.review.models import ItemState, ReviewItem, ReviewQueue
from apps.traces.models import Signal, Step, Turn

HELD_TURN = uuid.UUID("0d000000-0000-4000-8000-00000000e1d0")
RUN_DAYS_AGO = (3, 2, 1)
EXPIRED_PER_RUN = (14, 9, 21)
DUE_NEXT_RUN = 6


def _old_turns(project, *, count: int, happened: dt.datetime, tag: str) -> None:
    turns = [
        Turn(project=project, id=uuid.uuid5(HELD_TURN, f"{tag}-{n}"), session_id=f"s-old-{tag}-{n}", end_user_id=f"old-user-{n}",
             input=f"Where is my order #{4000 + n}?", output="It shipped yesterday.", created_at=happened + dt.timedelta(minutes=n))
        for n in range(count)
    ]
    Turn.objects.bulk_create(turns, ignore_conflicts=True)
    Step.objects.bulk_create([Step(project=project, turn_id=t.id, span_id="llm-1", kind="llm", name="answer") for t in turns],
                             ignore_conflicts=True)
    Signal.objects.bulk_create([Signal(project=project, turn_id=t.id, kind="thumbs_up", value=True) for t in turns],
                               ignore_conflicts=True)


def seed_retention_demo(*, project) -> dict:
    now = timezone.now()
    days = retention_for(project=project).days
    if not ExpiryDay.objects.for_project(project).exists():
        for ago, count in zip(RUN_DAYS_AGO, EXPIRED_PER_RUN):
            run_at = now - dt.timedelta(days=ago)
            _old_turns(project, count=count, happened=run_at - dt.timedelta(days=days + 2), tag=f"run-{ago}")
            project_expire(project=project, now=run_at)
        _old_turns(project, count=DUE_NEXT_RUN, happened=now - dt.timedelta(days=days + 1), tag="due")
    queue = ReviewQueue.objects.for_project(project).order_by("pk").first()
    if queue is not None and not Turn.objects.for_project(project).filter(id=HELD_TURN).exists():
        Turn.objects.create(project=project, id=HELD_TURN, session_id="s-held", end_user_id="old-user-held",
                            input="You charged me twice in March, I want my money back.",
                            output="I can't see a second charge.", created_at=now - dt.timedelta(days=days + 30))
        ReviewItem.objects.create(project=project, queue=queue, turn_id=HELD_TURN, state=ItemState.PENDING,
                                  note="Old complaint kept for the billing investigation")
    history = ExpiryDay.objects.for_project(project).order_by("day")
    return {"history": [(row.day.isoformat(), row.turns) for row in history], "held_turn": str(HELD_TURN)}
