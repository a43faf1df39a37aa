"""Pages that link a turn say "deleted on … (reason)" once it is gone: the review queue's item
list, the review page holding its item, the problem's member list, and the turn's own URL."""

import re

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.governance.purge import purge_turns
from apps.problems.models import Problem, ProblemTurn
from apps.review.models import ReviewItem, ReviewQueue
from apps.traces.models import Turn
from tests.factories.traces import TurnFactory

pytestmark = pytest.mark.django_db
DELETED = re.compile(r"deleted on \d{4}-\d{2}-\d{2} \((retention|end-user deletion)\)")


@pytest.fixture
def deleted_turn(project):
    turn = TurnFactory(project=project)
    queue = ReviewQueue.objects.create(project=project, name="Flags", routing={"signal_kinds": ["thumbs_down"]})
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id=turn.id)
    problem = Problem.objects.create(project=project, title="Refunds", status="fixed")
    ProblemTurn.objects.create(project=project, problem=problem, turn_id=turn.id, turn_created_at=turn.created_at,
                               affected_key=turn.end_user_id)
    purge_turns(project=project, turns=Turn.objects.for_project(project).filter(id=turn.id), reason="retention")
    return turn, queue, item, problem


def test_every_page_linking_a_deleted_turn_renders_its_tombstone(deleted_turn, project, members, login):
    turn, queue, item, problem = deleted_turn
    client = login(members[Role.ADMIN].user)
    org = project.organization.slug
    pages = {
        "queue": reverse("review_queue_settings", kwargs={"org": org, "project": project.pk, "queue": queue.pk}),
        "review": reverse("review_queue_review", kwargs={"org": org, "project": project.pk, "queue": queue.pk}),
        "problem": reverse("problem_detail", kwargs={"org": org, "project": project.pk, "problem": problem.pk}),
    }

    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        assert DELETED.search(response.content.decode()), name

    response = client.get(reverse("turn_detail", kwargs={"org": org, "project": project.pk, "turn": turn.id}))
    assert response.status_code == 404 and DELETED.search(response.content.decode())
