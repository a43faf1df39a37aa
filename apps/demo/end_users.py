"""The demo's end-user request: one export of li.wei@contoso.test's data by the owner, so the
project's "End users" page lists it under recent requests (and her lookup shows it as history).
Seeding twice records it once."""

from __future__ import annotations

import json

from apps.core.audit import Actor
from apps.core.roles import Role
from apps.governance.end_users import selectors, services
from apps.organizations.models import Membership

DEMO_END_USER = "li.wei@contoso.test"


def seed_end_users_demo(*, project) -> dict:
    """The export's counts by kind (the document itself is read through, as a download would)."""
    organization = project.organization
    owner = Membership.objects.for_org(organization).filter(role=Role.OWNER).select_related("user").first()
    document = json.loads(b"".join(selectors.end_user_export(projects=[project], end_user_id=DEMO_END_USER)))
    if not selectors.end_user_history(organization=organization, end_user_id=DEMO_END_USER):
        services.end_user_export_record(organization=organization, projects=[project], end_user_id=DEMO_END_USER,
                                        actor=Actor(user=owner.user if owner else None))
    return document["counts"]
