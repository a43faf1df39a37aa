"""The demo's organization tokens: one active review token whose secret only the local data
folder holds (the README's curl example), one revoked; seeding twice changes nothing."""

from __future__ import annotations

from rest_framework.test import APIClient

from apps.core.audit import SYSTEM
from apps.demo import seed as seed_demo
from apps.demo.tokens import DEMO_TOKEN_NAME, OLD_TOKEN_NAME, demo_token_file
from apps.organizations.models import Organization, OrganizationToken
from apps.projects.models import Project
from apps.review.models import ItemState, ReviewItem
from apps.review.services import queues as queue_services
from tests.factories.traces import TurnFactory


def test_the_demo_seeds_a_working_review_token_once(db, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setenv("AGENTLOOP_DATA_DIR", str(tmp_path))

    with django_capture_on_commit_callbacks(execute=True):
        seeded = seed_demo.seed()
    secret = demo_token_file().read_text().strip()
    with django_capture_on_commit_callbacks(execute=True):
        seed_demo.seed()

    organization = Organization.objects.get(slug=seed_demo.DEMO_ORG_SLUG)
    tokens = OrganizationToken.objects.for_org(organization).order_by("name")
    assert [(t.name, t.scopes, t.is_active, t.created_by.email) for t in tokens] == [
        (DEMO_TOKEN_NAME, ["read", "review"], True, seed_demo.DEMO_EMAIL),
        (OLD_TOKEN_NAME, ["read"], False, seed_demo.DEMO_EMAIL),
    ]
    assert demo_token_file().read_text().strip() == secret
    assert secret not in repr(seeded)

    # The README's flow: read the backlog, claim, decide; a write outside the scopes is refused.
    project = Project.objects.for_org(organization).get(name="Support agent")
    queue = queue_services.review_queue_create(project=project, actor=SYSTEM, name="Token demo")
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id=TurnFactory(project=project).id)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    api = f"/api/v1/orgs/{organization.slug}/projects/{project.pk}"

    backlog = client.get(f"{api}/problems/?limit=5")
    claimed = client.post(f"{api}/queues/{queue.pk}/claim-next")
    decided = client.post(f"{api}/queues/{queue.pk}/items/{item.pk}/decision",
                          {"verdict": "confirm", "category": "hallucination", "correction": "Refunds take 5 business days."},
                          format="json")
    rename = client.patch(f"{api}/", {"name": "Nope"}, format="json")

    assert backlog.status_code == 200
    assert claimed.json()["item"]["id"] == item.pk
    assert decided.status_code == 201
    assert ReviewItem.objects.for_project(project).get(pk=item.pk).state == ItemState.CONFIRMED
    assert (rename.status_code, rename.json()["code"]) == (403, "token_scope")
