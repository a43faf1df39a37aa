"""Demo data for review queues: three queues, the demo reviewers assigned, flagged turns routed,
a few decisions (one confirmed, one rejected, one escalated to the second level), an item
reserved for riley@acme.test, and a blind two-reviewer queue with two double-reviewed items (one
agreement, one tie that escalates) so the agreement figure shows.

Safe to call again: queues are found by name, routing is idempotent, and the sample decisions
and the assignment are made only while there are none.
"""

from __future__ import annotations

from apps.core.permissions import object_permission_user_ids
from apps.core.audit import SYSTEM
from apps.review.models import WORK_PERMISSION, Decision, ItemState, ReviewItem, ReviewQueue
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from apps.traces.models import Signal

FIRST_LEVEL = "Thumbs-down and escalations"
SECOND_LEVEL = "Second level"
DOUBLE_REVIEW = "Punts, double-checked"
ROUTED_KINDS = ["thumbs_down", "escalation", "rephrase", "agent_punted"]
DOUBLE_REVIEW_KINDS = ["agent_punted", "rephrase"]
ASSIGNEE = "riley@acme.test"


def _queue(*, project, name: str, **fields) -> ReviewQueue:
    existing = ReviewQueue.objects.for_project(project).filter(name=name).first()
    return existing or queue_services.review_queue_create(project=project, actor=SYSTEM, name=name, **fields)


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
    double = _queue(
        project=project, name=DOUBLE_REVIEW, escalate_to=second, reviewers_per_item=2, blind=True,
        description="Agent punts and rephrases, each decided by two reviewers who do not see each other's verdict; "
                    "a tie goes to the second level.",
        routing={"signal_kinds": DOUBLE_REVIEW_KINDS, "priority": 5, "sample_percent": 100},
    )
    for queue in (first, second, double):
        granted = object_permission_user_ids(permission=WORK_PERMISSION, obj=queue)
        for membership in reviewers:
            if membership.user_id not in granted:
                queue_services.review_queue_assign(queue=queue, membership=membership, actor=SYSTEM)
    turn_ids = list(dict.fromkeys(
        Signal.objects.for_project(project).filter(kind__in=ROUTED_KINDS).order_by("-created_at")
        .values_list("turn_id", flat=True)[:5000]
    ))
    routed = item_services.review_route_turns(project=project, turn_ids=turn_ids)
    decided = 0
    if reviewers and not Decision.objects.for_project(project).filter(queue=first).exists():
        decided += _first_level_decisions(first, reviewers[0].user)
    if len(reviewers) >= 2 and not Decision.objects.for_project(project).filter(queue=double).exists():
        decided += _double_reviews(double, [m.user for m in reviewers[:2]])
    assigned = _assign_one(first, reviewers)
    return {"queues": [first, second, double], "routed": routed, "decided": decided, "assigned": assigned}


def _first_level_decisions(queue, reviewer) -> int:
    plan = [
        {"verdict": "confirm", "category": "hallucination", "correction": "Refunds take 5 business days.",
         "notes": "Invented a same-day refund policy."},
        {"verdict": "reject", "notes": "The user was satisfied; the thumbs-down was about the product."},
        {"verdict": "escalate", "notes": "Possible legal question: needs a second opinion."},
    ]
    decided = 0
    for decision in plan:
        item = item_services.review_item_claim_next(queue=queue, reviewer=reviewer)
        if item is None:
            break
        item_services.review_item_decide(item=item, reviewer=reviewer, **decision)
        decided += 1
    return decided


def _double_reviews(queue, reviewers) -> int:
    """Two items, each decided by both reviewers: they agree on the first and split on the second."""
    plans = [
        [{"verdict": "confirm", "category": "retrieval miss", "notes": "The shipping policy page was not retrieved."},
         {"verdict": "confirm", "category": "retrieval miss", "notes": "Answer was in the docs."}],
        [{"verdict": "confirm", "category": "tone", "notes": "Curt refusal."},
         {"verdict": "reject", "notes": "Punting was right: this needs a human."}],
    ]
    decided = 0
    for plan in plans:
        for reviewer, decision in zip(reviewers, plan):
            item = item_services.review_item_claim_next(queue=queue, reviewer=reviewer)
            if item is None:
                return decided
            item_services.review_item_decide(item=item, reviewer=reviewer, **decision)
            decided += 1
    return decided


def _assign_one(queue, reviewers) -> bool:
    """Reserve the next pending first-level item for riley (the demo reviewer), once."""
    assignee = next((m for m in reviewers if m.user.email == ASSIGNEE), None)
    items = ReviewItem.objects.for_project(queue.project_id).filter(queue=queue)
    if assignee is None or items.filter(assigned_to__isnull=False).exists():
        return False
    item = items.filter(state=ItemState.PENDING).order_by("-priority", "created_at", "id").first()
    if item is None:
        return False
    item_services.review_item_assign(item=item, membership=assignee, actor=SYSTEM)
    return True
