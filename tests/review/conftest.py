"""Review fixtures: a routing queue with a second level, reviewers assigned or not."""

from __future__ import annotations

import pytest

from apps.core.roles import Role
from apps.core.audit import SYSTEM
from apps.review.services import queues as queue_services
from tests.factories.organizations import MembershipFactory


@pytest.fixture
def second_level(project):
    return queue_services.review_queue_create(project=project, actor=SYSTEM, name="Second level")


@pytest.fixture
def queue(project, second_level):
    return queue_services.review_queue_create(
        project=project, actor=SYSTEM, name="Thumbs-down", escalate_to=second_level, lease_seconds=600,
        routing={"signal_kinds": ["thumbs_down", "escalation"], "priority": 5},
    )


def make_reviewer(organization, email: str, queue=None):
    membership = MembershipFactory(organization=organization, role=Role.REVIEWER, user__email=email)
    if queue is not None:
        queue_services.review_queue_assign(queue=queue, membership=membership, actor=SYSTEM)
    return membership


@pytest.fixture
def reviewer(organization, queue):
    return make_reviewer(organization, "alice@acme.test", queue)


@pytest.fixture
def people(project, queue, members, outsider):
    """Everyone a queue's permission matrix covers: memberships, or a user / None outside."""
    return {
        "anonymous": None,
        "outsider": outsider,
        "member": members[Role.MEMBER],
        "unassigned reviewer": members[Role.REVIEWER],
        "assigned reviewer": make_reviewer(project.organization, "assigned@acme.test", queue),
        "admin": members[Role.ADMIN],
        "owner": members[Role.OWNER],
    }
