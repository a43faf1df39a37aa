"""Who may create, rename, delete, restrict and see projects, and manage their API keys.

HTML views and the REST API, for anonymous callers, outsiders, and every role in ``acme``.
Every refusal leaves the database as it was, audit log included.
"""

from __future__ import annotations

import pytest

from apps.core.permissions import object_permission_grant
from apps.core.roles import Role
from apps.projects.models import ACCESS_PERMISSION, ApiKey, Project, ProjectUserObjectPermission
from tests.factories.projects import ApiKeyFactory
from tests.organizations.matrix import (
    AUTH_MODES,
    assert_api_refused,
    assert_html_refused,
    audit_count,
    caller,
    role_rows,
)




@pytest.fixture
def api_key(project):
    return ApiKeyFactory(project=project, name="production agent")


def _project_names(organization) -> list[str]:
    return list(Project.objects.for_org(organization).order_by("name").values_list("name", flat=True))


# --- create ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_project_create(role, status, allowed, organization, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()

    response = client.post("/orgs/acme/projects/new/", {"name": "Billing bot"})

    if allowed:
        created = Project.objects.for_org(organization).get(name="Billing bot")
        assert response.status_code == status
        assert response["Location"] == f"/orgs/acme/projects/{created.pk}/keys/"
        assert _project_names(organization) == ["Billing bot", "Support agent"]
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, "/orgs/acme/projects/new/")
        assert _project_names(organization) == ["Support agent"]
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(201))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_project_create(auth, role, status, allowed, organization, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.post("/api/v1/orgs/acme/projects/", {"name": "Billing bot"}, format="json")

    if allowed:
        assert response.status_code == status
        assert (response.json()["name"], response.json()["is_restricted"]) == ("Billing bot", False)
        assert _project_names(organization) == ["Billing bot", "Support agent"]
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert _project_names(organization) == ["Support agent"]
        assert audit_count() == audits


# --- see ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200, minimum=Role.MEMBER))
def test_html_project_detail(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    path = f"/orgs/acme/projects/{project.pk}/"

    response = client.get(path)

    if allowed:
        assert response.status_code == status
        assert f'data-testid="project-id">{project.pk}<'.encode() in response.content
    else:
        assert_html_refused(response, role, path)


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200, minimum=Role.MEMBER))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_project_list_and_retrieve(auth, role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)

    listed = client.get("/api/v1/orgs/acme/projects/")
    retrieved = client.get(f"/api/v1/orgs/acme/projects/{project.pk}/")

    if allowed:
        assert (listed.status_code, retrieved.status_code) == (status, status)
        assert [p["id"] for p in listed.json()] == [str(project.pk)]
        assert retrieved.json()["name"] == "Support agent"
    else:
        assert_api_refused(listed, role)
        assert_api_refused(retrieved, role)


# --- rename ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_html_project_settings_page(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    path = f"/orgs/acme/projects/{project.pk}/settings/"

    response = client.get(path)

    if allowed:
        assert response.status_code == status
        assert b'value="Support agent"' in response.content
    else:
        assert_html_refused(response, role, path)


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_project_rename(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/projects/{project.pk}/settings/"

    response = client.post(path, {"name": "Support agent v2"})

    project.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert response["Location"] == path
        assert project.name == "Support agent v2"
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, path)
        assert project.name == "Support agent"
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_project_rename(auth, role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.patch(f"/api/v1/orgs/acme/projects/{project.pk}/", {"name": "Support agent v2"}, format="json")

    project.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert response.json()["name"] == "Support agent v2"
        assert project.name == "Support agent v2"
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert project.name == "Support agent"
        assert audit_count() == audits


# --- delete ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_html_project_delete_page(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    path = f"/orgs/acme/projects/{project.pk}/delete/"

    response = client.get(path)

    if allowed:
        assert response.status_code == status
        assert b"Delete Support agent?" in response.content
    else:
        assert_html_refused(response, role, path)


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_project_delete(role, status, allowed, organization, project, api_key, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/projects/{project.pk}/delete/"

    response = client.post(path, {"confirm_name": "Support agent"})

    if allowed:
        assert response.status_code == status
        assert response["Location"] == "/orgs/acme/"
        assert _project_names(organization) == []
        assert ApiKey.all_tenants.filter(pk=api_key.pk).exists() is False
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, path)
        assert _project_names(organization) == ["Support agent"]
        assert ApiKey.objects.for_project(project).count() == 1
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(204))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_project_delete(auth, role, status, allowed, organization, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.delete(f"/api/v1/orgs/acme/projects/{project.pk}/")

    if allowed:
        assert response.status_code == status
        assert _project_names(organization) == []
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert _project_names(organization) == ["Support agent"]
        assert audit_count() == audits


# --- access (restriction to named members) --------------------------------------------------------


def _granted_user_ids(project) -> list[int]:
    return sorted(ProjectUserObjectPermission.objects.filter(content_object=project).values_list("user_id", flat=True))


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_html_project_access_page(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    path = f"/orgs/acme/projects/{project.pk}/access/"

    response = client.get(path)

    if allowed:
        assert response.status_code == status
        assert b'name="is_restricted"' in response.content
    else:
        assert_html_refused(response, role, path)


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_project_access_update(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/projects/{project.pk}/access/"
    reviewer = members[Role.REVIEWER]

    response = client.post(path, {"is_restricted": "on", "member_ids": [str(reviewer.pk)]})

    project.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert project.is_restricted is True
        assert _granted_user_ids(project) == [reviewer.user_id]
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, path)
        assert project.is_restricted is False
        assert _granted_user_ids(project) == []
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_project_access_update(auth, role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()
    reviewer = members[Role.REVIEWER]

    response = client.put(
        f"/api/v1/orgs/acme/projects/{project.pk}/access",
        {"is_restricted": True, "member_ids": [reviewer.pk]},
        format="json",
    )

    project.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert response.json()["is_restricted"] is True
        assert _granted_user_ids(project) == [reviewer.user_id]
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert project.is_restricted is False
        assert _granted_user_ids(project) == []
        assert audit_count() == audits


@pytest.mark.parametrize(
    ("role", "granted", "status"),
    [
        (Role.MEMBER, False, 404),
        (Role.MEMBER, True, 200),
        (Role.REVIEWER, False, 404),
        (Role.REVIEWER, True, 200),
        (Role.ADMIN, False, 200),
        (Role.OWNER, False, 200),
    ],
)
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_restricted_project_is_visible_to_admins_and_granted_members_only(auth, 
    role, granted, status, project, members, outsider
):
    project.is_restricted = True
    project.save(update_fields=["is_restricted"])
    if granted:
        object_permission_grant(membership=members[role], permission=ACCESS_PERMISSION, obj=project)
    html = caller(role, members=members, outsider=outsider)
    api = caller(role, members=members, outsider=outsider, api=True, auth=auth)

    page = html.get(f"/orgs/acme/projects/{project.pk}/")
    retrieved = api.get(f"/api/v1/orgs/acme/projects/{project.pk}/")
    listed = api.get("/api/v1/orgs/acme/projects/")

    assert (page.status_code, retrieved.status_code) == (status, status)
    assert [p["name"] for p in listed.json()] == (["Support agent"] if status == 200 else [])


# --- API keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_html_api_key_list(role, status, allowed, project, api_key, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    path = f"/orgs/acme/projects/{project.pk}/keys/"

    response = client.get(path)

    if allowed:
        assert response.status_code == status
        assert [k.key_id for k in response.context["api_keys"]] == [api_key.key_id]
    else:
        assert_html_refused(response, role, path)


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_api_key_list(auth, role, status, allowed, project, api_key, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)

    response = client.get(f"/api/v1/orgs/acme/projects/{project.pk}/keys/")

    if allowed:
        assert response.status_code == status
        assert [(k["key_id"], k["name"]) for k in response.json()["results"]] == [(api_key.key_id, "production agent")]
    else:
        assert_api_refused(response, role)


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(303))
def test_html_api_key_create(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/projects/{project.pk}/keys/"

    response = client.post(path, {"name": "staging"})

    names = list(ApiKey.objects.for_project(project).values_list("name", flat=True))
    if allowed:
        assert response.status_code == status
        assert names == ["staging"]
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, path)
        assert names == []
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(201))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_api_key_create(auth, role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.post(f"/api/v1/orgs/acme/projects/{project.pk}/keys/", {"name": "staging"}, format="json")

    names = list(ApiKey.objects.for_project(project).values_list("name", flat=True))
    if allowed:
        assert response.status_code == status
        assert response.json()["name"] == "staging"
        assert names == ["staging"]
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert names == []
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_api_key_revoke(role, status, allowed, project, api_key, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/projects/{project.pk}/keys/{api_key.key_id}/revoke/"

    response = client.post(path)

    api_key.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert response["Location"] == f"/orgs/acme/projects/{project.pk}/keys/"
        assert api_key.revoked_at is not None
        assert api_key.revoked_by == members[role].user
        assert audit_count() == audits + 1
    else:
        assert_html_refused(response, role, path)
        assert (api_key.revoked_at, api_key.revoked_by) == (None, None)
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(204))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_api_key_revoke(auth, role, status, allowed, project, api_key, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()

    response = client.delete(f"/api/v1/orgs/acme/projects/{project.pk}/keys/{api_key.key_id}/")

    api_key.refresh_from_db()
    if allowed:
        assert response.status_code == status
        assert api_key.revoked_at is not None
        assert api_key.revoked_by == members[role].user
        assert audit_count() == audits + 1
    else:
        assert_api_refused(response, role)
        assert (api_key.revoked_at, api_key.revoked_by) == (None, None)
        assert audit_count() == audits


def test_revoking_a_revoked_key_is_a_conflict_and_writes_nothing(project, api_key, members, login):
    admin = members[Role.ADMIN].user
    html, api = login(admin), login(admin, api=True)
    api.delete(f"/api/v1/orgs/acme/projects/{project.pk}/keys/{api_key.key_id}/")
    audits = audit_count()

    page = html.post(f"/orgs/acme/projects/{project.pk}/keys/{api_key.key_id}/revoke/")
    again = api.delete(f"/api/v1/orgs/acme/projects/{project.pk}/keys/{api_key.key_id}/")

    assert page.status_code == 409
    assert b"This key is already revoked." in page.content
    assert (again.status_code, again.json()["code"]) == (409, "already_revoked")
    assert audit_count() == audits
