"""The retention page and what other pages say about retention: preview before saving (and the
preview equals what the job then deletes), audited changes with before/after, bad retention
values refused with a clear message, the permission matrix, the turn page's hold or expiry date,
a deleted turn's page and the dated tombstone in a dataset case's lineage."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.core.audit import SYSTEM
from apps.core.errors import ValidationFailed
from apps.core.roles import Role
from apps.datasets.models import CaseRevision
from apps.datasets.services.turns import cases_add_from_turns
from apps.governance.expiry import project_expire
from apps.governance.models import AuditEvent, ExpiryDay, ProjectRetention, RejectedRetention
from apps.governance.purge import purge_turns
from apps.governance.services import project_retention_set
from apps.traces.models import Turn
from tests.factories.datasets import AUTHOR, DatasetFactory, confirmed_turn
from tests.factories.traces import TurnFactory
from tests.organizations.matrix import assert_html_refused, audit_count, caller, role_rows

pytestmark = pytest.mark.django_db


def _aged(project, days):
    return TurnFactory(project=project, created_at=timezone.now() - dt.timedelta(days=days))


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_retention_page_matrix(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()

    page = client.get("/orgs/acme/retention/")
    save = client.post("/orgs/acme/retention/", {"retention_days": "5", "rejected_days": "2", "action": "save"})

    if allowed:
        assert page.status_code == 200 and b'data-testid="retention-preview"' in page.content
        assert save.status_code == 302
    else:
        assert_html_refused(page, role, "/orgs/acme/retention/")
        assert save.status_code in (302, 403, 404)
        assert audit_count() == audits
        project.organization.refresh_from_db()
        assert project.organization.retention_days == 30 and RejectedRetention.objects.for_org(project.organization).count() == 0


def test_a_change_is_previewed_then_saved_and_the_job_deletes_what_the_preview_said(project, owner, login):
    for days in (3, 12, 12, 40):
        _aged(project, days)
    held, _ = confirmed_turn(project)
    Turn.objects.for_project(project).filter(id=held.id).update(created_at=timezone.now() - dt.timedelta(days=40))
    client = login(owner)

    preview = client.post("/orgs/acme/retention/", {"retention_days": "10", "rejected_days": "7", "action": "preview"})

    assert preview.status_code == 200
    assert "Support agent: this will delete 3 unreviewed turns on the next run; 1 held turn stay." in preview.content.decode()
    project.organization.refresh_from_db()
    assert project.organization.retention_days == 30

    saved = client.post("/orgs/acme/retention/", {"retention_days": "10", "rejected_days": "7", "action": "save"})

    assert saved.status_code == 302
    project.organization.refresh_from_db()
    assert project.organization.retention_days == 10
    event = AuditEvent.objects.for_org(project.organization).filter(action="retention.changed").get()
    assert (event.before, event.after) == ({"retention_days": 30}, {"retention_days": 10})
    assert project_expire(project=project)["turns"] == 3


def test_a_project_override_is_previewed_saved_and_audited(project, owner, login):
    _aged(project, 8), _aged(project, 2)
    client = login(owner)
    body = {"form": "project", "project": str(project.pk), "days": "7"}

    preview = client.post("/orgs/acme/retention/", {**body, "action": "preview"})
    saved = client.post("/orgs/acme/retention/", {**body, "action": "save"})

    assert "this will delete 1 unreviewed turn on the next run; 0 held turns stay." in preview.content.decode()
    assert saved.status_code == 302
    assert ProjectRetention.objects.for_project(project).get().days == 7
    event = AuditEvent.objects.for_org(project.organization).get(action="retention.changed", target_type="project")
    assert (event.before, event.after) == ({"retention_days": None}, {"retention_days": 7})

    client.post("/orgs/acme/retention/", {"form": "project", "project": str(project.pk), "days": "", "action": "save"})

    assert ProjectRetention.objects.for_project(project).count() == 0


@pytest.mark.parametrize("value", ["0", "3651", "-1", "ten"])
def test_a_retention_out_of_range_is_refused_and_nothing_changes(value, project, owner, login):
    client = login(owner)

    org = client.post("/orgs/acme/retention/", {"retention_days": value, "rejected_days": "7", "action": "save"})
    override = client.post("/orgs/acme/retention/", {"form": "project", "project": str(project.pk), "days": value, "action": "save"})

    assert org.status_code == 400 and override.status_code == 400
    assert "retention_days" in org.context["org_form"].errors and "days" in override.context["project_form"].errors
    assert ProjectRetention.objects.for_project(project).count() == 0 and audit_count() == 0


@pytest.mark.parametrize("days", [0, 3651, True, "30"])
def test_the_service_refuses_a_bad_override_with_a_stable_code(days, project):
    with pytest.raises(ValidationFailed) as refused:
        project_retention_set(project=project, actor=SYSTEM, days=days)

    assert refused.value.code in ("invalid", "out_of_range") and refused.value.field == "retention_days"
    assert ProjectRetention.objects.for_project(project).count() == 0


def test_the_settings_page_previews_a_retention_and_shows_the_deletion_history(project, owner, login):
    _aged(project, 20)
    _aged(project, 40)
    project_expire(project=project)
    client = login(owner)

    page = client.get("/orgs/acme/settings/")
    preview = client.post("/orgs/acme/settings/", {"name": "Acme", "retention_days": "10", "action": "preview"})

    assert b'data-testid="expiry-history"' in page.content and b'id="expiry-chart"' in page.content
    assert ExpiryDay.objects.for_project(project).get().turns == 1
    assert "Support agent: this will delete 1 unreviewed turn on the next run" in preview.content.decode()
    project.organization.refresh_from_db()
    assert project.organization.retention_days == 30


def test_the_turn_page_shows_the_hold_or_the_expiry_date_and_a_deleted_turn_its_tombstone(project, owner, login):
    held, _ = confirmed_turn(project, problem_title="Refund policy")
    free = _aged(project, 10)
    gone = _aged(project, 45)
    project_expire(project=project)
    client = login(owner)
    base = f"/orgs/acme/projects/{project.pk}/turns"

    held_page = client.get(f"{base}/{held.id}/").content.decode()
    free_page = client.get(f"{base}/{free.id}/").content.decode()
    deleted = client.get(f"{base}/{gone.id}/")

    assert "held: confirmed by a reviewer / " in held_page and ">problem Refund policy</a>" in held_page
    assert f"expires on {(free.created_at + dt.timedelta(days=30)):%Y-%m-%d}" in free_page
    assert deleted.status_code == 404
    assert f"deleted on {timezone.now():%Y-%m-%d} (retention)" in deleted.content.decode()


def test_a_case_whose_turn_expired_shows_the_dated_tombstone(project, owner, login):
    turn, _ = confirmed_turn(project)
    dataset = DatasetFactory(project=project)
    cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[turn.id], split="regression")
    case = CaseRevision.objects.for_project(project).get(dataset=dataset, turn_id=turn.id)
    purge_turns(project=project, turns=Turn.objects.for_project(project).filter(id=turn.id), reason="retention")
    base = f"/orgs/acme/projects/{project.pk}/datasets/{dataset.pk}"

    case_page = login(owner).get(f"{base}/cases/{case.case_id}/").content.decode()
    listing = login(owner).get(f"{base}/").content.decode()

    expected = f"deleted on {timezone.now():%Y-%m-%d} (retention)"
    assert expected in case_page and expected in listing


def test_a_retention_change_on_the_settings_page_is_previewed_before_it_is_saved(organization, members, login):
    client = login(members[Role.ADMIN].user)

    first = client.post("/orgs/acme/settings/", {"name": "Acme", "retention_days": "12"})
    organization.refresh_from_db()
    assert first.status_code == 200 and organization.retention_days == 30
    assert b'data-testid="retention-proposed"' in first.content and b'data-testid="retention-confirm"' in first.content

    confirmed = client.post("/orgs/acme/settings/", {"name": "Acme", "retention_days": "12", "confirm_retention": "12"})
    organization.refresh_from_db()
    assert confirmed.status_code == 302 and organization.retention_days == 12
    # A rename alone needs no confirmation.
    renamed = client.post("/orgs/acme/settings/", {"name": "Acme Inc", "retention_days": "12"})
    organization.refresh_from_db()
    assert renamed.status_code == 302 and organization.name == "Acme Inc"
