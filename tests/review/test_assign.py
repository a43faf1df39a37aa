"""Assigning an open item to a named reviewer: the service's rules and audit, the queue page."""

import pytest
from django.urls import reverse

from apps.core.errors import Conflict, ValidationFailed
from apps.core.roles import Role
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.core.audit import SYSTEM
from apps.review.models import ItemState, ReviewItem
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from tests.conftest import client_for
from tests.factories.organizations import MembershipFactory
from tests.factories.traces import TurnFactory
from tests.review.conftest import make_reviewer

pytestmark = pytest.mark.django_db


def _item(project, queue, **kwargs):
    turn = TurnFactory(project=project, input=kwargs.pop("input", "Where is my parcel?"))
    return ReviewItem.objects.create(project=project, queue=queue, turn_id=turn.id, **kwargs)


def _assigned(item):
    return ReviewItem.objects.for_project(item.project_id).values_list("assigned_to_id", flat=True).get(pk=item.pk)


def _audits(project):
    return list(AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.REVIEW_ASSIGNED)
                .order_by("id").values_list("target_id", "before", "after"))


def test_assigning_and_unassigning_is_audited(project, queue, reviewer):
    item = _item(project, queue)

    item_services.review_item_assign(item=item, membership=reviewer, actor=SYSTEM)
    item_services.review_item_assign(item=item, membership=reviewer, actor=SYSTEM)
    item_services.review_item_assign(item=item, membership=None, actor=SYSTEM)

    assert _assigned(item) is None
    assert _audits(project) == [
        (str(item.pk), {"assigned_to": None, "state": "pending"}, {"assigned_to": "alice@acme.test", "state": "pending"}),
        (str(item.pk), {"assigned_to": "alice@acme.test", "state": "pending"}, {"assigned_to": None, "state": "pending"}),
    ]


@pytest.mark.parametrize("who", ["unassigned reviewer", "assigned member", "other org"])
def test_the_assignee_must_be_a_reviewer_of_the_queue(project, queue, other_organization, who):
    item = _item(project, queue)
    if who == "unassigned reviewer":
        membership = make_reviewer(project.organization, "bob@acme.test")
    elif who == "assigned member":
        membership = MembershipFactory(organization=project.organization, role=Role.MEMBER, user__email="m@acme.test")
        queue_services.review_queue_assign(queue=queue, membership=membership, actor=SYSTEM)
    else:
        membership = make_reviewer(other_organization, "eve@globex.test")

    with pytest.raises(ValidationFailed) as refused:
        item_services.review_item_assign(item=item, membership=membership, actor=SYSTEM)

    assert refused.value.code in {"not_a_queue_reviewer", "unknown_member"}
    assert refused.value.field == "member"
    assert _assigned(item) is None
    assert _audits(project) == []


def test_a_decided_item_cannot_be_assigned(project, queue, reviewer):
    item = _item(project, queue, state=ItemState.REJECTED)

    with pytest.raises(Conflict) as refused:
        item_services.review_item_assign(item=item, membership=reviewer, actor=SYSTEM)

    assert refused.value.code == "item_closed"
    assert _audits(project) == []


@pytest.fixture
def page(project, queue):
    kwargs = {"org": project.organization.slug, "project": project.pk, "queue": queue.pk}
    return reverse("review_queue_settings", kwargs=kwargs)


def _assign_url(project, queue, item):
    return reverse("review_item_assign", kwargs={
        "org": project.organization.slug, "project": project.pk, "queue": queue.pk, "item": item.pk})


def test_the_queue_page_lists_open_items_with_preview_and_reviewers_to_assign(project, queue, reviewer, members):
    bob = make_reviewer(project.organization, "bob@acme.test")  # not assigned to this queue
    pending = _item(project, queue, priority=7, input="Refund for order 1234?")
    _item(project, queue, state=ItemState.CONFIRMED, input="Already decided question")
    admin = client_for(members[Role.ADMIN].user)
    page_url = reverse("review_queue_settings", kwargs={"org": "acme", "project": project.pk, "queue": queue.pk})

    response = admin.get(page_url)

    body = response.content.decode()
    assert [row["item"].pk for row in response.context["item_rows"]] == [pending.pk]
    assert "Refund for order 1234?" in body and "Already decided question" not in body
    assert reverse("turn_detail", kwargs={"org": "acme", "project": project.pk, "turn": pending.turn_id}) in body
    choices = response.context["item_rows"][0]["form"].fields["member"].choices
    assert choices == [("", "Anyone"), (reviewer.pk, "alice@acme.test")]
    assert bob.pk not in [value for value, _ in choices]


def test_an_admin_assigns_and_unassigns_from_the_queue_page(project, queue, reviewer, members):
    item = _item(project, queue)
    admin = client_for(members[Role.ADMIN].user)

    assigned = admin.post(_assign_url(project, queue, item), {"member": reviewer.pk, "page": "1"})
    after_assign = _assigned(item)
    unassigned = admin.post(_assign_url(project, queue, item), {"member": ""})

    assert assigned.status_code == 302 and assigned["Location"].endswith(f"/queues/{queue.pk}/?page=1")
    assert (after_assign, unassigned.status_code, _assigned(item)) == (reviewer.user_id, 302, None)
    assert len(_audits(project)) == 2


def test_the_page_refuses_an_assignee_who_is_not_a_queue_reviewer(project, queue, reviewer, members):
    bob = make_reviewer(project.organization, "bob@acme.test")
    item = _item(project, queue)

    response = client_for(members[Role.ADMIN].user).post(_assign_url(project, queue, item), {"member": bob.pk}, follow=True)

    assert "Choose one of this queue" in response.content.decode()
    assert _assigned(item) is None
    assert _audits(project) == []


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 302), ("outsider", 404), ("member", 404), ("assigned reviewer", 403), ("unassigned reviewer", 404), ("admin", 302), ("owner", 302)],
)
def test_only_admins_assign(project, queue, reviewer, members, outsider, who, status):
    item = _item(project, queue)
    users = {
        "anonymous": None, "outsider": outsider, "member": members[Role.MEMBER].user,
        "assigned reviewer": reviewer.user, "unassigned reviewer": members[Role.REVIEWER].user,
        "admin": members[Role.ADMIN].user, "owner": members[Role.OWNER].user,
    }

    response = client_for(users[who]).post(_assign_url(project, queue, item), {"member": reviewer.pk})

    assert response.status_code == status
    if who not in {"admin", "owner"}:
        assert _assigned(item) is None
        assert _audits(project) == []
        if who != "anonymous":
            assert "login" not in response.get("Location", "")


def test_an_item_of_another_queue_is_404(project, queue, second_level, reviewer, members):
    elsewhere = _item(project, second_level)

    response = client_for(members[Role.ADMIN].user).post(_assign_url(project, queue, elsewhere), {"member": reviewer.pk})

    assert response.status_code == 404
    assert _assigned(elsewhere) is None
