import datetime as dt

import pytest
from django.utils import timezone

from apps.core.errors import Conflict, ValidationFailed
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.projects.services import project_create
from apps.core.audit import Actor
from apps.review import selectors, tasks
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from apps.review.models import Decision, ItemState, ReviewItem, ReviewQueue
from apps.traces.models import ReviewState, Turn
from tests.factories.traces import SignalFactory, TurnFactory
from tests.review.conftest import make_reviewer

pytestmark = pytest.mark.django_db


def _items(project):
    return list(ReviewItem.objects.for_project(project).order_by("id").values_list("queue__name", "turn_id", "state"))


def test_routing_puts_matching_turns_in_queues_once(project, queue):
    flagged = SignalFactory(turn=TurnFactory(project=project), kind="thumbs_down").turn_id
    detected = SignalFactory(turn=TurnFactory(project=project), kind="escalation", source="detector").turn_id
    SignalFactory(turn=TurnFactory(project=project), kind="thumbs_up")
    ids = [flagged, detected]

    first = item_services.review_route_turns(project=project, turn_ids=ids)
    second = item_services.review_route_turns(project=project, turn_ids=ids)

    assert (first, second) == (2, 0)
    assert sorted(_items(project)) == sorted([("Thumbs-down", flagged, "pending"), ("Thumbs-down", detected, "pending")])
    assert set(Turn.objects.for_project(project).filter(id__in=ids).values_list("review_state", flat=True)) == {ReviewState.QUEUED}


def test_routing_ignores_turns_and_signals_of_other_projects(project, queue, other_project):
    foreign = SignalFactory(turn=TurnFactory(project=other_project), kind="thumbs_down").turn_id

    created = item_services.review_route_turns(project=project, turn_ids=[foreign])

    assert created == 0
    assert _items(project) == []


def test_sampling_is_deterministic(project, queue, second_level):
    queue_services.review_queue_update(queue=queue, actor=Actor(user=None), routing={"signal_kinds": ["thumbs_down"], "sample_percent": 30})
    turns = [SignalFactory(turn=TurnFactory(project=project)).turn_id for _ in range(60)]

    item_services.review_route_turns(project=project, turn_ids=turns)
    chosen = {t for _, t, _ in _items(project)}
    item_services.review_route_turns(project=project, turn_ids=turns)

    assert 5 < len(chosen) < 35
    assert {t for _, t, _ in _items(project)} == chosen


def test_route_task_twice_with_ids_and_as_a_sweep(project, queue):
    turn_id = SignalFactory(turn=TurnFactory(project=project), kind="thumbs_down").turn_id

    tasks.route.apply(kwargs={"project_id": str(project.pk), "turn_ids": [str(turn_id)]})
    tasks.route.apply(kwargs={"project_id": str(project.pk), "turn_ids": [str(turn_id)]})
    tasks.route_recent.apply()
    tasks.route.apply(kwargs={"project_id": str(project.pk)})
    tasks.route.apply(kwargs={"project_id": str(project.pk)})

    assert _items(project) == [("Thumbs-down", turn_id, "pending")]


def test_sweep_routes_recent_flagged_turns_without_ids(project, queue):
    turn_id = SignalFactory(turn=TurnFactory(project=project), kind="escalation", source="detector").turn_id

    tasks.route.apply(kwargs={"project_id": str(project.pk)})
    tasks.route.apply(kwargs={"project_id": str(project.pk)})

    assert _items(project) == [("Thumbs-down", turn_id, "pending")]


def test_route_task_for_a_deleted_project_does_nothing(project, queue):
    tasks.route.apply(kwargs={"project_id": "00000000-0000-0000-0000-000000000000"})
    tasks.route.apply(kwargs={"project_id": "00000000-0000-0000-0000-000000000000"})

    assert _items(project) == []


def _pending(project, queue, n=1, **kwargs):
    now = timezone.now()
    return [
        ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).id,
                                  created_at=now + dt.timedelta(seconds=i), **kwargs)
        for i in range(n)
    ]


def test_claim_takes_highest_priority_then_oldest(project, queue, reviewer):
    old, young = _pending(project, queue, 2)
    urgent = _pending(project, queue, 1, priority=9)[0]

    claims = [item_services.review_item_claim_next(queue=queue, reviewer=make_reviewer(project.organization, f"r{i}@acme.test", queue).user) for i in range(4)]

    assert [c.pk if c else None for c in claims] == [urgent.pk, old.pk, young.pk, None]


def test_a_reviewer_gets_back_the_item_they_hold(project, queue, reviewer):
    _pending(project, queue, 2)

    first = item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)
    again = item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)

    assert again.pk == first.pk


def test_an_expired_lease_returns_the_item_to_the_queue(project, queue, reviewer):
    item = _pending(project, queue)[0]
    bob = make_reviewer(project.organization, "bob@acme.test", queue)
    item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)
    assert item_services.review_item_claim_next(queue=queue, reviewer=bob.user) is None

    ReviewItem.objects.for_project(project).filter(pk=item.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    taken = item_services.review_item_claim_next(queue=queue, reviewer=bob.user)

    assert taken.pk == item.pk
    assert taken.claimed_by_id == bob.user_id
    with pytest.raises(Conflict):
        item_services.review_item_decide(item=item, reviewer=reviewer.user, verdict="reject")
    assert Decision.objects.for_project(project).count() == 0


def test_an_item_assigned_to_a_named_reviewer_goes_only_to_them(project, queue, reviewer):
    bob = make_reviewer(project.organization, "bob@acme.test", queue)
    item = _pending(project, queue, priority=9)[0]
    other = _pending(project, queue)[0]
    item_services.review_item_assign(item=item, membership=bob, actor=Actor(user=None))

    alice_gets = item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)
    bob_gets = item_services.review_item_claim_next(queue=queue, reviewer=bob.user)

    assert (alice_gets.pk, bob_gets.pk) == (other.pk, item.pk)


def test_decisions_are_recorded_and_audited(project, queue, reviewer):
    item = _pending(project, queue)[0]
    item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)

    decision = item_services.review_item_decide(
        item=item, reviewer=reviewer.user, verdict="confirm", category="hallucination",
        correction="Refunds take 5 days.", notes="made up a policy",
    )

    item.refresh_from_db()
    assert item.state == ItemState.CONFIRMED
    assert (decision.verdict, decision.category, decision.correction, decision.notes) == (
        "confirm", "hallucination", "Refunds take 5 days.", "made up a policy")
    assert decision.seconds_spent >= 0
    event = AuditEvent.objects.for_org(project.organization).get(action=AuditAction.REVIEW_DECIDED)
    assert (event.actor_id, event.target_id, event.after["verdict"], event.after["category"]) == (
        reviewer.user_id, str(item.pk), "confirm", "hallucination")
    assert Turn.objects.for_project(project).get(id=item.turn_id).review_state == ReviewState.REVIEWED


def test_confirm_needs_a_known_category(project, queue, reviewer):
    item = _pending(project, queue)[0]
    item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)

    with pytest.raises(ValidationFailed):
        item_services.review_item_decide(item=item, reviewer=reviewer.user, verdict="confirm", category="")
    with pytest.raises(ValidationFailed):
        item_services.review_item_decide(item=item, reviewer=reviewer.user, verdict="confirm", category="nonsense")

    item.refresh_from_db()
    assert item.state == ItemState.CLAIMED
    assert AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.REVIEW_DECIDED).count() == 0


def test_escalation_moves_the_item_to_the_second_level_with_the_note(project, queue, second_level, reviewer):
    item = _pending(project, queue)[0]
    item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)

    item_services.review_item_decide(item=item, reviewer=reviewer.user, verdict="escalate", notes="legal question")

    moved = ReviewItem.objects.for_project(project).get(queue=second_level)
    assert (moved.turn_id, moved.state, moved.note) == (item.turn_id, ItemState.PENDING, "legal question")
    item.refresh_from_db()
    assert item.state == ItemState.ESCALATED


def test_progress_per_queue_and_reviewer(project, queue, reviewer):
    first, _second, _third = _pending(project, queue, 3)
    item_services.review_item_claim_next(queue=queue, reviewer=reviewer.user)
    item_services.review_item_decide(item=first, reviewer=reviewer.user, verdict="reject")

    progress = selectors.review_queue_progress(project=project, queues=[queue])[queue.pk]
    per_reviewer = selectors.review_reviewer_progress(queue=queue)

    assert (progress["pending"], progress["claimed"], progress["done_today"]) == (2, 0, 1)
    assert progress["median_seconds"] is not None
    assert [(r["reviewer"], r["done_today"]) for r in per_reviewer] == [("alice@acme.test", 1)]


def test_queue_names_are_unique_per_project(project, queue):
    with pytest.raises(ValidationFailed):
        queue_services.review_queue_create(project=project, actor=Actor(user=None), name="Thumbs-down")


def test_review_demo_seeds_queues_decisions_an_assignment_and_double_reviews_once(project):
    from apps.demo.review import seed_review_demo

    owner = make_reviewer(project.organization, "demo@acme.test")
    riley = make_reviewer(project.organization, "riley@acme.test")
    for _ in range(6):
        SignalFactory(turn=TurnFactory(project=project), kind="thumbs_down")
    for _ in range(3):
        SignalFactory(turn=TurnFactory(project=project), kind="agent_punted", source="detector")

    first = seed_review_demo(project=project, reviewers=[owner, riley])
    second = seed_review_demo(project=project, reviewers=[owner, riley])

    queues = first["queues"]
    assert [q.name for q in queues] == ["Thumbs-down and escalations", "Second level", "Punts, double-checked"]
    assert (queues[2].reviewers_per_item, queues[2].blind) == (2, True)
    assert (first["routed"], first["decided"], first["assigned"]) == (12, 7, True)
    assert (second["routed"], second["decided"], second["assigned"]) == (0, 0, False)
    verdicts = Decision.objects.for_project(project).order_by("verdict").values_list("queue__name", "verdict")
    assert sorted(verdicts) == sorted([
        ("Thumbs-down and escalations", "confirm"), ("Thumbs-down and escalations", "escalate"),
        ("Thumbs-down and escalations", "reject"),
        ("Punts, double-checked", "confirm"), ("Punts, double-checked", "confirm"),
        ("Punts, double-checked", "confirm"), ("Punts, double-checked", "reject"),
    ])
    # One escalated by a first-level reviewer, one tie from the blind pair.
    assert ReviewItem.objects.for_project(project).filter(queue=queues[1]).count() == 2
    assert selectors.review_queue_agreement(project=project, queues=[queues[2]])[queues[2].pk] == {
        "items": 2, "unanimous_percent": 50.0, "kappa": -0.333}
    assigned = ReviewItem.objects.for_project(project).get(assigned_to__isnull=False)
    assert (assigned.queue_id, assigned.assigned_to_id, assigned.state) == (queues[0].pk, riley.user_id, ItemState.PENDING)


# --- The catch-all route ------------------------------------------------------------------------


def test_a_new_project_gets_one_default_queue_and_unflagged_turns_land_there(organization, owner):
    project = project_create(organization=organization, name="Fresh", actor=Actor(user=owner))
    flags = ReviewQueue.objects.create(project=project, name="Flags", routing={"signal_kinds": ["thumbs_down"]})
    plain, flagged = TurnFactory(project=project), TurnFactory(project=project)
    SignalFactory(turn=flagged, kind="thumbs_down")

    first = item_services.review_route_turns(project=project, turn_ids=[plain.id, flagged.id])
    second = item_services.review_route_turns(project=project, turn_ids=[plain.id, flagged.id])

    default = ReviewQueue.objects.for_project(project).get(is_default=True)
    assert queue_services.review_default_queue_ensure(project=project) == default and default.name == "Catch-all"
    assert (first, second) == (2, 0)
    assert set(ReviewItem.objects.for_project(project).values_list("queue_id", "turn_id")) == {
        (default.pk, plain.id), (flags.pk, flagged.id),
    }


def test_an_any_turn_queue_takes_every_turn_at_its_sample_rate(project):
    everything = ReviewQueue.objects.create(project=project, name="All", routing={"any_turn": True, "sample_percent": 100})
    tenth = ReviewQueue.objects.create(project=project, name="Tenth", routing={"any_turn": True, "sample_percent": 10})
    turns = [TurnFactory(project=project) for _ in range(200)]
    SignalFactory(turn=turns[0], kind="thumbs_down")

    item_services.review_route_turns(project=project, turn_ids=[t.id for t in turns])

    assert ReviewItem.objects.for_project(project).filter(queue=everything).count() == 200
    assert 5 <= ReviewItem.objects.for_project(project).filter(queue=tenth).count() <= 40


def test_any_turn_must_be_a_boolean(project):
    with pytest.raises(ValidationFailed) as error:
        queue_services.review_queue_create(project=project, name="Bad", routing={"any_turn": "yes"}, actor=Actor(user=None))

    assert error.value.field == "any_turn"
    assert not ReviewQueue.objects.for_project(project).exists()
