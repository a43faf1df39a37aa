"""Queue pages: the permission matrix (nothing changes on a denial) and the review flow."""

import pytest
from django.urls import reverse

from apps.core.permissions import object_permission_user_ids
from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.review.models import WORK_PERMISSION, Decision, ItemState, ReviewItem, ReviewQueue
from tests.conftest import client_for
from tests.factories.organizations import MembershipFactory
from tests.factories.traces import SignalFactory, TurnFactory

pytestmark = pytest.mark.django_db


def _snapshot(project, queue):
    return {
        "queues": sorted(ReviewQueue.objects.for_project(project).values_list("pk", "name", "routing", "lease_seconds")),
        "items": sorted(ReviewItem.objects.for_project(project).values_list("pk", "state", "claimed_by_id")),
        "decisions": Decision.objects.for_project(project).count(),
        "grants": sorted(object_permission_user_ids(permission=WORK_PERMISSION, obj=queue)),
        "audit": AuditEvent.objects.for_org(project.organization).count(),
    }


@pytest.fixture
def people(people):
    """The page tests log in as users."""
    return {who: getattr(person, "user", person) for who, person in people.items()}


def _urls(project, queue):
    kwargs = {"org": project.organization.slug, "project": project.pk}
    return {
        "list": reverse("review_queue_list", kwargs=kwargs),
        "settings": reverse("review_queue_settings", kwargs={**kwargs, "queue": queue.pk}),
        "review": reverse("review_queue_review", kwargs={**kwargs, "queue": queue.pk}),
    }


EXPECTED_GET = {
    "anonymous": {"list": 302, "settings": 302, "review": 302},
    "outsider": {"list": 404, "settings": 404, "review": 404},
    "member": {"list": 200, "settings": 404, "review": 404},
    "unassigned reviewer": {"list": 200, "settings": 404, "review": 404},
    "assigned reviewer": {"list": 200, "settings": 403, "review": 200},
    "admin": {"list": 200, "settings": 200, "review": 200},
}


@pytest.mark.parametrize("who", list(EXPECTED_GET))
def test_get_permission_matrix(project, queue, people, who):
    urls = _urls(project, queue)

    statuses = {name: client_for(people[who]).get(url).status_code for name, url in urls.items()}

    assert statuses == EXPECTED_GET[who]


EXPECTED_POST = {
    "anonymous": {"list": 302, "settings": 302, "review": 302},
    "outsider": {"list": 404, "settings": 404, "review": 404},
    "member": {"list": 403, "settings": 404, "review": 404},
    "unassigned reviewer": {"list": 403, "settings": 404, "review": 404},
    "assigned reviewer": {"list": 403, "settings": 403},
    "admin": {},
}


@pytest.mark.parametrize("who", list(EXPECTED_POST))
def test_denied_writes_change_nothing(project, queue, people, who):
    turn = TurnFactory(project=project)
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id=turn.id)
    urls = _urls(project, queue)
    bodies = {
        "list": {"name": "Sneaky", "lease_seconds": 600, "priority": 0, "sample_percent": 100},
        "settings": {"delete": "1"},
        "review": {"item": item.pk, "verdict": "reject"},
    }
    before = _snapshot(project, queue)

    statuses = {name: client_for(people[who]).post(urls[name], bodies[name]).status_code for name in EXPECTED_POST[who]}

    assert statuses == EXPECTED_POST[who]
    assert _snapshot(project, queue) == before


def test_reviewers_see_only_their_queues_and_admins_all(project, queue, second_level, people):
    reviewer_page = client_for(people["assigned reviewer"]).get(_urls(project, queue)["list"]).content.decode()
    admin_page = client_for(people["admin"]).get(_urls(project, queue)["list"]).content.decode()

    assert "Thumbs-down" in reviewer_page and "Second level" not in reviewer_page
    assert "Thumbs-down" in admin_page and "Second level" in admin_page


def test_admin_creates_a_queue_with_rules_and_reviewers(project, members):
    admin = members[Role.ADMIN].user
    reviewer = members[Role.REVIEWER]
    url = reverse("review_queue_list", kwargs={"org": project.organization.slug, "project": project.pk})

    response = client_for(admin).post(url, {
        "name": "Punts", "lease_seconds": 300, "signal_kinds": "agent_punted, rephrase", "priority": 3,
        "sample_percent": 50, "categories": "", "member_ids": [reviewer.pk],
    })

    assert response.status_code == 302
    queue = ReviewQueue.objects.for_project(project).get(name="Punts")
    assert (queue.lease_seconds, queue.routing) == (300, {"signal_kinds": ["agent_punted", "rephrase"], "any_turn": False, "priority": 3, "sample_percent": 50})
    assert object_permission_user_ids(permission=WORK_PERMISSION, obj=queue) == {reviewer.user_id}


def test_admin_unassigns_a_reviewer_who_then_gets_404(project, queue, people, members):
    url = _urls(project, queue)
    assigned = people["assigned reviewer"]

    response = client_for(people["admin"]).post(url["settings"], {
        "name": queue.name, "lease_seconds": 600, "signal_kinds": "thumbs_down", "priority": 1, "sample_percent": 100,
    })

    assert response.status_code == 302
    assert client_for(assigned).get(url["review"]).status_code == 404


def test_reviewing_a_queue_claims_decides_and_moves_on(project, queue, people):
    first = SignalFactory(turn=TurnFactory(project=project, input="Where is my refund?"), kind="thumbs_down").turn_id
    second = SignalFactory(turn=TurnFactory(project=project, input="Cancel my plan"), kind="thumbs_down").turn_id
    from apps.review.services.items import review_route_turns
    review_route_turns(project=project, turn_ids=[first, second])
    client = client_for(people["assigned reviewer"])
    url = _urls(project, queue)["review"]

    page = client.get(url)
    item = page.context["item"]
    decided = client.post(url, {"item": item.pk, "verdict": "confirm", "category": "hallucination", "correction": "5 days"})
    following = client.get(url)

    inputs = {first: "Where is my refund?", second: "Cancel my plan"}
    assert inputs[item.turn_id] in page.content.decode()
    assert decided.status_code == 302
    assert {item.turn_id, following.context["item"].turn_id} == {first, second}
    assert Decision.objects.for_project(project).get().category == "hallucination"
    assert ReviewItem.objects.for_project(project).get(pk=item.pk).state == ItemState.CONFIRMED


def test_a_decision_on_an_item_not_held_is_refused(project, queue, people):
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).id)

    response = client_for(people["admin"]).post(_urls(project, queue)["review"], {"item": item.pk, "verdict": "reject"})

    assert response.status_code == 400
    assert Decision.objects.for_project(project).count() == 0


def test_a_member_assigned_to_a_queue_still_needs_the_reviewer_role(project, queue, members):
    from apps.core.audit import SYSTEM
    from apps.review.services.queues import review_queue_assign

    member = MembershipFactory(organization=project.organization, role=Role.MEMBER, user__email="m2@acme.test")
    review_queue_assign(queue=queue, membership=member, actor=SYSTEM)

    assert client_for(member.user).get(_urls(project, queue)["review"]).status_code == 403


@pytest.mark.parametrize("blind", [True, False], ids=["blind", "open"])
def test_the_review_page_hides_earlier_verdicts_in_a_blind_queue(project, queue, people, blind):
    from apps.core.audit import SYSTEM
    from apps.review.services import items as item_services
    from apps.review.services import queues as queue_services

    queue = queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=2, blind=blind)
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).id)
    first = people["assigned reviewer"]
    item_services.review_item_claim_next(queue=queue, reviewer=first)
    item_services.review_item_decide(item=item, reviewer=first, verdict="reject", notes="secret-note-y2")

    page = client_for(people["admin"]).get(_urls(project, queue)["review"])

    body = page.content.decode()
    assert page.context["item"].pk == item.pk
    assert "You are reviewer 2 of 2" in body
    assert ("secret-note-y2" in body) is (not blind)
    assert ("earlier-decisions" in body) is (not blind)
