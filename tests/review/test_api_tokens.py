"""The review API with organization tokens: the same matrix as the session, bounded by scopes,
and a review-scoped token claiming and deciding as its member (guardian per-queue grants)."""

import pytest
from rest_framework.test import APIClient

from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.organizations.models import Membership
from apps.review.models import Decision, ItemState, ReviewItem
from tests.factories.organizations import org_token_with_secret
from tests.review.test_api import MATRIX, _base, _call, _item, _snapshot

pytestmark = pytest.mark.django_db

WHO = ["outsider", "member", "unassigned reviewer", "assigned reviewer", "admin", "owner"]
# Actions whose required role is admin: a write needs the admin scope; a read (GET) needs read.
ADMIN_WRITES = {"create", "update", "delete", "reviewer-add", "reviewer-remove", "assign", "taxonomy-put"}
REVIEW_WRITES = {"claim-next", "decision"}


def _token_client(people, who, scopes):
    person = people[who]
    membership = person if isinstance(person, Membership) else Membership.all_tenants.get(user=person)  # unscoped: the outsider's own organization
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {org_token_with_secret(membership=membership, scopes=scopes)[1]}")
    return client


def _expected(action, who, scopes):
    status = MATRIX[action][who]
    if status in {403, 404}:
        return status, "permission_denied" if status == 403 else "not_found"
    needs = "admin" if action in ADMIN_WRITES else "review" if action in REVIEW_WRITES else "read"
    if "admin" not in scopes and needs not in scopes and needs != "read":
        return 403, "token_scope"
    return status, {409: "not_claimed"}.get(status)


@pytest.mark.parametrize("scopes", [["read", "review", "datasets", "admin"], ["review"], ["read"]], ids=["all", "review", "read"])
@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("action", list(MATRIX))
def test_permission_matrix_with_a_token(project, queue, people, action, who, scopes):
    item = _item(project, queue)
    before = _snapshot(project, queue)

    response = _call(_token_client(people, who, scopes), action, project, queue, item, people)

    expected_status, expected_code = _expected(action, who, scopes)
    assert response.status_code == expected_status, response.content
    if expected_status >= 400:
        assert response.json()["code"] == expected_code
        assert _snapshot(project, queue) == before


def test_a_review_token_claims_and_decides_as_its_member(project, queue, people):
    item = _item(project, queue)
    reviewer = people["assigned reviewer"]
    token, secret = org_token_with_secret(membership=reviewer, scopes=["review"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    q = f"{_base(project)}/queues/{queue.pk}"

    backlog = client.get(f"{_base(project)}/problems/")
    claimed = client.post(f"{q}/claim-next")
    decided = client.post(f"{q}/items/{item.pk}/decision", {"verdict": "confirm", "category": "hallucination", "correction": "Refunds take 5 days."}, format="json")

    assert backlog.status_code == 200
    assert (claimed.status_code, claimed.json()["item"]["id"]) == (200, item.pk)
    assert decided.status_code == 201
    decision = Decision.objects.for_project(project).get()
    assert (decision.reviewer_id, ReviewItem.objects.for_project(project).get().state) == (reviewer.user_id, ItemState.CONFIRMED)
    row = AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.REVIEW_DECIDED).get()
    assert (row.actor_id, row.via) == (reviewer.user_id, f"token:{token.token_id}")


def test_a_review_token_of_an_unassigned_reviewer_sees_no_queue(project, queue, people):
    _item(project, queue)
    _, secret = org_token_with_secret(membership=people["unassigned reviewer"], scopes=["review"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    response = client.post(f"{_base(project)}/queues/{queue.pk}/claim-next")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert ReviewItem.objects.for_project(project).get().state == ItemState.PENDING
