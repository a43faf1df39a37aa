"""Who may look up, export and delete an end user's data: admins and owners (session or an
organization token with the admin scope), per project and organization-wide; everyone else is
refused (anonymous, outsiders 404, members and reviewers 403) and nothing changes."""

from __future__ import annotations

import json

import pytest

from apps.governance.end_users import selectors
from tests.factories.traces import TurnFactory
from tests.organizations.matrix import AUTH_MODES, assert_api_refused, assert_html_refused, audit_count, caller, role_rows

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/v1/orgs/acme/projects/{project}/end-users/grace", 200),
    ("get", "/api/v1/orgs/acme/projects/{project}/end-users/grace/export", 200),
    ("delete", "/api/v1/orgs/acme/projects/{project}/end-users/grace", 200),
    ("get", "/api/v1/orgs/acme/end-users/grace", 200),
    ("get", "/api/v1/orgs/acme/end-users/grace/export", 200),
    ("delete", "/api/v1/orgs/acme/end-users/grace", 200),
]


def _held(project) -> int:
    return selectors.end_user_counts(project=project, end_user_id="grace")["turns"]


@pytest.mark.parametrize(("method", "path", "ok"), ROUTES)
@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_end_user_routes(auth, role, status, allowed, method, path, ok, project, members, outsider):
    TurnFactory(project=project, end_user_id="grace")
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = getattr(client, method)(path.format(project=project.pk))

    if allowed:
        assert response.status_code == ok
        if response.streaming:
            assert json.loads(b"".join(response.streaming_content))["counts"]["turns"] == 1
        assert _held(project) == (0 if method == "delete" else 1)
        assert audit_count() == audits + (0 if path.endswith("grace") and method == "get" else 1)
    else:
        assert_api_refused(response, role)
        assert _held(project) == 1 and audit_count() == audits


@pytest.mark.parametrize("page", ["/orgs/acme/projects/{project}/end-users/", "/orgs/acme/end-users/"])
@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_html_end_user_page(role, status, allowed, page, project, members, outsider):
    TurnFactory(project=project, end_user_id="grace")
    client = caller(role, members=members, outsider=outsider)
    page = page.format(project=project.pk)
    audits = audit_count()

    shown = client.get(page, {"id": "grace"})
    exported = client.get(page, {"id": "grace", "download": "json"})
    deleted = client.post(page, {"id": "grace", "confirm": "grace"})

    if allowed:
        assert (shown.status_code, exported.status_code, deleted.status_code) == (200, 200, 200)
        assert _held(project) == 0 and audit_count() == audits + 2
    else:
        assert_html_refused(client.get(page), role, page)
        assert_html_refused(deleted, role, page)
        assert _held(project) == 1 and audit_count() == audits
