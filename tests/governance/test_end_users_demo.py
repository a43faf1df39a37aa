"""The demo's end-user export: li.wei's data exported once by the owner, shown on the End users
page; seeding twice records it once."""

from __future__ import annotations

import pytest

from apps.core.audit import AuditAction
from apps.demo import traffic as demo_traffic
from apps.demo.end_users import DEMO_END_USER, seed_end_users_demo
from apps.governance.models import AuditEvent
from tests.conftest import client_for
from tests.factories.projects import api_key_with_secret


@pytest.mark.django_db(transaction=True)
def test_the_demo_has_one_end_user_export(live_server, project, members):
    _, secret = api_key_with_secret(project=project)
    demo_traffic.send(host=live_server.url, api_key=secret, project_id=str(project.pk))

    counts = demo_traffic.seed_triage(project_id=str(project.pk))["end_users"]
    seed_end_users_demo(project=project)

    assert counts["turns"] >= 1 and counts["feedback"] >= 1
    exports = AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.END_USER_EXPORTED)
    assert exports.count() == 1 and exports.get().actor_email == "owner@acme.test"
    page = client_for(members["owner"].user).get(
        f"/orgs/{project.organization.slug}/projects/{project.pk}/end-users/", {"id": DEMO_END_USER}
    )
    assert page.status_code == 200 and b"End-user data exported" in page.content
