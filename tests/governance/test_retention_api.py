"""Retention over the API: read with the preview, change (audited, same services as the page),
preview a proposed value without saving it, refuse bad values with stable codes; admins only."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.governance.expiry import retention_for
from apps.governance.models import ProjectRetention
from tests.factories.traces import TurnFactory
from tests.organizations.matrix import AUTH_MODES, assert_api_refused, audit_count, caller, role_rows

pytestmark = pytest.mark.django_db


def _old_turns(project, n, days):
    for _ in range(n):
        TurnFactory(project=project, created_at=timezone.now() - dt.timedelta(days=days))


def test_project_retention_read_preview_set_and_clear(project, members, outsider):
    _old_turns(project, 3, 20)
    _old_turns(project, 1, 2)
    client = caller("admin", members=members, outsider=outsider, api=True)
    url = f"/api/v1/orgs/acme/projects/{project.pk}/retention"

    current = client.get(url).json()
    proposed = client.get(url, {"days": 10}).json()
    audits = audit_count()
    saved = client.put(url, {"days": 10}, format="json").json()
    cleared = client.put(url, {"days": None}, format="json").json()

    assert (current["days"], current["source"], current["deletes"], current["override_days"]) == (30, "organization", 0, None)
    assert (proposed["days"], proposed["source"], proposed["deletes"]) == (10, "proposed", 3)
    assert not ProjectRetention.objects.for_project(project).exists()  # a preview saves nothing
    assert (saved["days"], saved["source"], saved["override_days"], saved["deletes"]) == (10, "project", 10, 3)
    assert (cleared["source"], cleared["override_days"]) == ("organization", None)
    assert audit_count() == audits + 2
    assert retention_for(project=project).days == 30


def test_organization_retention_patch_and_preview(project, members, outsider):
    _old_turns(project, 2, 40)
    client = caller("owner", members=members, outsider=outsider, api=True)
    url = "/api/v1/orgs/acme/retention"

    proposed = client.get(url, {"retention_days": 50}).json()
    changed = client.patch(url, {"retention_days": 60, "rejected_days": 3}, format="json").json()

    assert proposed["retention_days"] == 50 and proposed["projects"][0]["deletes"] == 0
    assert client.get(url).json()["projects"][0]["deletes"] == 0
    assert (changed["retention_days"], changed["rejected_days"]) == (60, 3)
    assert retention_for(project=project).rejected_days == 3


@pytest.mark.parametrize(("url", "method", "body", "code"), [
    ("/api/v1/orgs/acme/projects/{project}/retention", "put", {"days": 0}, "min_value"),
    ("/api/v1/orgs/acme/projects/{project}/retention", "put", {"days": 3651}, "max_value"),
    ("/api/v1/orgs/acme/projects/{project}/retention", "put", {"days": "a week"}, "invalid"),
    ("/api/v1/orgs/acme/retention", "patch", {"rejected_days": -1}, "min_value"),
    ("/api/v1/orgs/acme/retention", "patch", {"retention_days": 4000}, "max_value"),
])
def test_out_of_range_values_are_refused_and_change_nothing(url, method, body, code, project, members, outsider):
    client = caller("admin", members=members, outsider=outsider, api=True)
    audits = audit_count()

    response = getattr(client, method)(url.format(project=project.pk), body, format="json")

    error = response.json()
    assert response.status_code == 400 and error["code"] == "invalid" and error["errors"][0]["code"] == code, error
    assert error["field"] == next(iter(body))
    assert audit_count() == audits and not ProjectRetention.objects.for_project(project).exists()


def test_a_bad_preview_value_is_refused(project, members, outsider):
    client = caller("admin", members=members, outsider=outsider, api=True)
    for value, code in (("0", "min_value"), ("ten", "invalid")):
        response = client.get(f"/api/v1/orgs/acme/projects/{project.pk}/retention", {"days": value})
        error = response.json()
        assert response.status_code == 400 and error["field"] == "days" and error["errors"][0]["code"] == code, error


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/orgs/acme/retention"), ("patch", "/api/v1/orgs/acme/retention"),
    ("get", "/api/v1/orgs/acme/projects/{project}/retention"), ("put", "/api/v1/orgs/acme/projects/{project}/retention"),
])
@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_retention_routes_are_for_admins(auth, role, status, allowed, method, path, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    body = {"days": 12} if method == "put" else {"rejected_days": 5}
    audits = audit_count()

    response = getattr(client, method)(path.format(project=project.pk), body, format="json")

    if allowed:
        assert response.status_code == 200, response.content
        assert audit_count() == audits + (0 if method == "get" else 1)
    else:
        assert_api_refused(response, role)
        assert audit_count() == audits and not ProjectRetention.objects.for_project(project).exists()
