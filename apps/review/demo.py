"""Demo data for review queues: two queues, the demo reviewers assigned, flagged turns routed,
and a few decisions (one confirmed, one rejected, one escalated to the second level).

Safe to call again: queues are found by name, routing is idempotent, and the sample decisions
are made only while the project has none.
"""

from __future__ import annotations

from apps.core.permissions import object_permission_user_ids
from apps.governance.services import SYSTEM
from apps.review import services
from apps.review.models import WORK_PERMISSION, Decision, ReviewQueue
from apps.traces.models import Signal

FIRST_LEVEL = "Thumbs-down and escalations"
SECOND_LEVEL = "Second level"
ROUTED_KINDS = ["thumbs_down", "escalation", "rephrase", "agent_punted"]


def _queue(*, project, name: str, **fields) -> ReviewQueue:
    existing = ReviewQueue.objects.for_project(project).filter(name=name).first()
    return existing or services.review_queue_create(project=project, actor=SYSTEM, name=name, **fields)


def seed_review_demo(*, project, reviewers) -> dict:
    """``reviewers``: memberships (role reviewer or above) of the project's organization."""
    second = _queue(
        project=project, name=SECOND_LEVEL, description="Hard cases escalated by first-level reviewers.",
    )
    first = _queue(
        project=project, name=FIRST_LEVEL, escalate_to=second,
        description="Turns users disliked or escalated, and what the detectors flagged.",
        routing={"signal_kinds": ROUTED_KINDS, "priority": 10, "sample_percent": 100},
    )
    for queue in (first, second):
        granted = object_permission_user_ids(permission=WORK_PERMISSION, obj=queue)
        for membership in reviewers:
            if membership.user_id not in granted:
                services.review_queue_assign(queue=queue, membership=membership, actor=SYSTEM)
    turn_ids = list(dict.fromkeys(
        Signal.objects.for_project(project).filter(kind__in=ROUTED_KINDS).order_by("-created_at")
        .values_list("turn_id", flat=True)[:5000]
    ))
    routed = services.review_route_turns(project=project, turn_ids=turn_ids)
    decided = 0
    if reviewers and not Decision.objects.for_project(project).exists():
        reviewer = reviewers[0].user
        plan = [
            {"verdict": "confirm", "category": "hallucination", "correction": "Refunds take 5 business days.",
             "notes": "Invented a same-day refund policy."},
            {"verdict": "reject", "notes": "The user was satisfied; the thumbs-down was about the product."},
            {"verdict": "escalate", "notes": "Possible legal question: needs a second opinion."},
        ]
        for decision in plan:
            item = services.review_item_claim_next(queue=first, reviewer=reviewer)
            if item is None:
                break
            services.review_item_decide(item=item, reviewer=reviewer, **decision)
            decided += 1
    return {"queues": [first, second], "routed": routed, "decided": decided}
