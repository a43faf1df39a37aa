"""Project names are unique per organization (case-insensitively), even when two requests race."""

from __future__ import annotations

import pytest

from apps.core.errors import Conflict
from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.core.audit import Actor
from apps.projects import services
from apps.projects.models import Project
from tests.factories.projects import ProjectFactory


@pytest.fixture
def race_window(monkeypatch):
    """The name check ran before a concurrent request took the name: only the constraint is left."""
    monkeypatch.setattr(services, "_name_taken", lambda *args, **kwargs: False)


def _names(organization) -> list[str]:
    return list(Project.objects.for_org(organization).order_by("name").values_list("name", flat=True))


def test_rename_racing_for_a_taken_name_is_a_conflict_not_a_server_error(
    race_window, organization, project, members
):
    other = ProjectFactory(organization=organization, name="Billing bot")
    count = AuditEvent.all_tenants.count()

    with pytest.raises(Conflict) as raised:
        services.project_rename(project=other, name="SUPPORT AGENT", actor=Actor(user=members[Role.ADMIN].user))

    assert (raised.value.code, raised.value.field) == ("name_taken", "name")
    assert other.name == "Billing bot"
    assert _names(organization) == ["Billing bot", "Support agent"]
    assert AuditEvent.all_tenants.count() == count


def test_create_racing_for_a_taken_name_is_a_conflict_not_a_server_error(race_window, organization, project, members):
    with pytest.raises(Conflict) as raised:
        services.project_create(organization=organization, name="support agent", actor=Actor(user=members[Role.ADMIN].user))

    assert (raised.value.code, raised.value.field) == ("name_taken", "name")
    assert _names(organization) == ["Support agent"]


def test_the_same_name_in_another_organization_is_fine(organization, project, other_organization, members):
    created = services.project_create(
        organization=other_organization, name="Support agent", actor=Actor(user=members[Role.ADMIN].user)
    )

    assert created.name == "Support agent"
    assert _names(other_organization) == ["Support agent"]


def test_renaming_only_the_case_of_a_name_is_allowed(organization, project, members):
    renamed = services.project_rename(project=project, name="SUPPORT AGENT", actor=Actor(user=members[Role.ADMIN].user))

    assert renamed.name == "SUPPORT AGENT"
    assert _names(organization) == ["SUPPORT AGENT"]
