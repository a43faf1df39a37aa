"""The end-user routes: key routes for the key's project, session routes for admins (per project
and organization-wide); ids with any characters (url-encoded); unknown or another project's id
is 404 ``not_found`` with nothing deleted."""

import json
from urllib.parse import quote

import pytest

from apps.governance.end_users import selectors
from apps.governance.models import AuditEvent
from tests.conftest import client_for, key_client_for
from tests.factories.traces import TurnFactory

pytestmark = pytest.mark.django_db


def _streamed(response) -> dict:
    return json.loads(b"".join(response.streaming_content))


@pytest.mark.parametrize("end_user_id", ["alice", "with space", "a/b/c", "ünï 😀", "100%?#&", "x/export"])
def test_key_routes_export_and_delete_any_id(project, end_user_id):
    TurnFactory(project=project, end_user_id=end_user_id)
    TurnFactory(project=project, end_user_id="bob")
    client = key_client_for(project)
    url = f"/api/v1/end-users/{quote(end_user_id, safe='')}"

    exported = client.get(f"{url}/export")
    document = _streamed(exported) if exported.status_code == 200 else None
    deleted = client.delete(url)
    again = client.delete(url)

    assert exported.status_code == 200 and exported["Content-Type"] == "application/json"
    assert document["end_user_id"] == end_user_id and document["counts"]["turns"] == 1
    assert deleted.status_code == 200 and deleted.json()["deleted"]["turns"] == 1
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    assert selectors.end_user_counts(project=project, end_user_id="bob")["turns"] == 1


def test_an_end_user_of_another_project_is_404_and_nothing_is_deleted(project, other_project):
    TurnFactory(project=other_project, end_user_id="carol")
    client = key_client_for(project)

    responses = [client.get("/api/v1/end-users/carol/export"), client.delete("/api/v1/end-users/carol")]

    assert [(r.status_code, r.json()["code"]) for r in responses] == [(404, "not_found")] * 2
    assert selectors.end_user_counts(project=other_project, end_user_id="carol")["turns"] == 1


def test_a_nul_in_the_id_is_a_400(project):
    response = key_client_for(project).delete("/api/v1/end-users/a%00b")

    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_session_routes_per_project_and_across_the_organization(project, members, organization):
    from tests.factories.projects import ProjectFactory

    second = ProjectFactory(organization=organization)
    TurnFactory(project=project, end_user_id="dave")
    TurnFactory(project=second, end_user_id="dave")
    admin = client_for(members["admin"].user, api=True)
    base = f"/api/v1/orgs/{organization.slug}"

    per_project = admin.get(f"{base}/projects/{project.id}/end-users/dave")
    org_wide = admin.get(f"{base}/end-users/dave")
    exported = _streamed(admin.get(f"{base}/end-users/dave/export"))
    deleted = admin.delete(f"{base}/projects/{project.id}/end-users/dave")

    assert per_project.status_code == 200 and per_project.json()["counts"]["turns"] == 1
    assert org_wide.json()["counts"]["turns"] == 2 and len(org_wide.json()["projects"]) == 2
    assert exported["counts"]["turns"] == 2
    assert deleted.json()["deleted"]["turns"] == 1
    assert selectors.end_user_counts(project=second, end_user_id="dave")["turns"] == 1
    rows = list(AuditEvent.objects.for_org(organization).filter(target_type="end_user").order_by("id").values_list(
        "action", "actor_email", "target_id", "target_label", "after", "ip_address"))
    digest = selectors.end_user_digest(organization=organization, end_user_id="dave")
    assert sorted(rows[0][4]["projects"]) == sorted([str(project.pk), str(second.pk)])
    assert rows == [
        ("end_user.exported", "admin@acme.test", digest, "2 projects", rows[0][4], "127.0.0.1"),
        ("end_user.deleted", "admin@acme.test", digest, f"in {project.name}",
         {"project": str(project.pk), "deleted": {"turns": 1}}, "127.0.0.1"),
    ]


@pytest.mark.parametrize("role", ["member", "reviewer"])
def test_below_admin_is_refused_and_nothing_changes(project, members, organization, role):
    TurnFactory(project=project, end_user_id="erin")
    client = client_for(members[role].user, api=True)
    base = f"/api/v1/orgs/{organization.slug}/projects/{project.id}/end-users/erin"

    responses = [client.get(base), client.get(f"{base}/export"), client.delete(base)]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert selectors.end_user_counts(project=project, end_user_id="erin")["turns"] == 1


def test_the_page_looks_up_exports_and_deletes_with_a_typed_confirmation(project, members, organization):
    TurnFactory(project=project, end_user_id="frank <b>")
    admin = client_for(members["admin"].user)
    page = f"/orgs/{organization.slug}/projects/{project.id}/end-users/"

    looked_up = admin.get(page, {"id": "frank <b>"})
    document = json.loads(b"".join(admin.get(page, {"id": "frank <b>", "download": "json"}).streaming_content))
    refused = admin.post(page, {"id": "frank <b>", "confirm": "frank"})
    held_after_refusal = selectors.end_user_counts(project=project, end_user_id="frank <b>")["turns"]
    deleted = admin.post(page, {"id": "frank <b>", "confirm": "frank <b>"})
    unknown = admin.get(page, {"id": "nobody", "download": "json"})

    assert looked_up.status_code == 200 and b"frank &lt;b&gt;" in looked_up.content
    assert document["counts"]["turns"] == 1
    assert refused.status_code == 400 and held_after_refusal == 1
    assert deleted.status_code == 200 and b'data-testid="end-user-deleted"' in deleted.content
    assert selectors.end_user_counts(project=project, end_user_id="frank <b>")["turns"] == 0
    assert b"End-user data exported" in deleted.content and b"End-user data deleted" in deleted.content
    assert unknown.status_code == 404
    assert client_for(members["member"].user).get(page).status_code == 403
