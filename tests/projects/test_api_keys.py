"""API keys: the secret is shown once, only its hash is kept, and revocation applies at once."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.projects.models import ApiKey
from tests.factories.projects import api_key_with_secret

AUTH_CHECK = "/api/v1/auth/check"


@pytest.fixture
def admin(members):
    return members[Role.ADMIN].user


@pytest.fixture
def key_and_secret(project):
    return api_key_with_secret(project=project, name="production agent")


def _secret_part(full: str, key_id: str) -> str:
    prefix = f"al_sk_{key_id}_"
    assert full.startswith(prefix)
    return full[len(prefix):]


def _stored_values(api_key: ApiKey) -> str:
    """Everything stored for a key and in the audit log, as one string to search."""
    row = ApiKey.all_tenants.filter(pk=api_key.pk).values().get()
    audit = list(AuditEvent.all_tenants.values_list("target_id", "target_label", "before", "after"))
    return repr(row) + repr({k: bytes(v).hex() for k, v in row.items() if isinstance(v, (bytes, memoryview))}) + repr(audit)


# --- shown exactly once -----------------------------------------------------------------------------


def test_api_create_shows_the_secret_once_and_stores_only_its_sha256(project, admin, login):
    client = login(admin, api=True)

    created = client.post(f"/api/v1/orgs/acme/projects/{project.pk}/keys/", {"name": "staging"}, format="json")
    listed = client.get(f"/api/v1/orgs/acme/projects/{project.pk}/keys/")

    assert created.status_code == 201
    body = created.json()
    secret = _secret_part(body["secret"], body["key_id"])
    api_key = ApiKey.objects.for_project(project).get(key_id=body["key_id"])
    assert api_key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert body["prefix"] == f"al_sk_{body['key_id']}_{secret[:4]}…"
    assert (body["name"], body["is_active"], body["created_by"]) == ("staging", True, "admin@acme.test")
    assert secret not in _stored_values(api_key)
    assert listed.status_code == 200
    assert [sorted(k) for k in listed.json()["results"]] == [
        ["created_at", "created_by", "is_active", "key_id", "last_used_at", "name", "prefix", "revoked_at"],
    ]
    assert secret not in listed.content.decode()


def test_html_create_shows_the_secret_once(project, admin, login):
    client = login(admin)
    path = f"/orgs/acme/projects/{project.pk}/keys/"

    posted = client.post(path, {"name": "staging"})
    created = client.get(posted["Location"])
    reloaded = client.get(posted["Location"])
    later = client.get(path)

    assert posted.status_code == 303
    assert posted["Location"].startswith(f"{path}?created=")
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    full = created.context["new_secret"]
    api_key = ApiKey.objects.for_project(project).get()
    secret = _secret_part(full, api_key.key_id)
    assert created.content.decode().count(full) == 1
    assert "new_secret" not in reloaded.context
    assert secret not in reloaded.content.decode()
    assert api_key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert later.status_code == 200
    assert "new_secret" not in later.context
    assert secret not in later.content.decode()
    assert f"al_sk_{api_key.key_id}_{secret[:4]}…" in later.content.decode()


def test_html_create_with_redis_down_shows_the_secret_in_the_answer(project, admin, login, settings):
    # Given a cache (Redis) that refuses connections
    client = login(admin)
    path = f"/orgs/acme/projects/{project.pk}/keys/"
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}

    # When an admin creates a key, then follows an old "created" link
    posted = client.post(path, {"name": "staging"})
    stale = client.get(f"{path}?created=whatever")

    # Then the secret is shown at once (not lost behind a redirect) and the page still works
    api_key = ApiKey.objects.for_project(project).get()
    assert posted.status_code == 201
    assert posted["Cache-Control"] == "no-store"
    secret = _secret_part(posted.context["new_secret"], api_key.key_id)
    assert api_key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stale.status_code == 200
    assert "new_secret" not in stale.context


# --- authenticating with a key ----------------------------------------------------------------------


def test_auth_check_with_a_bearer_key(project, key_and_secret, api_client):
    api_key, secret = key_and_secret

    response = api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 200
    assert response.json() == {
        "organization": "acme", "project": str(project.pk), "project_name": "Support agent", "key_id": api_key.key_id,
    }


def test_a_key_names_its_own_project(project, other_project, api_client):
    _, secret = api_key_with_secret(project=other_project)

    response = api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert (response.json()["organization"], response.json()["project"]) == ("globex", str(other_project.pk))


def test_revoked_key_fails_immediately(project, key_and_secret, admin, login, api_client):
    api_key, secret = key_and_secret
    before = api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {secret}")

    revoked = login(admin, api=True).delete(f"/api/v1/orgs/acme/projects/{project.pk}/keys/{api_key.key_id}/")
    after = api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert (before.status_code, revoked.status_code) == (200, 204)
    assert after.status_code == 401
    assert after.json() == {"code": "invalid_api_key", "message": "Invalid or revoked API key.", "field": None}
    assert after["WWW-Authenticate"] == 'Bearer realm="agentloop"'


def test_revoked_through_the_html_page_fails_immediately(project, key_and_secret, admin, login, api_client):
    api_key, secret = key_and_secret

    login(admin).post(f"/orgs/acme/projects/{project.pk}/keys/{api_key.key_id}/revoke/")
    after = api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert (after.status_code, after.json()["code"]) == (401, "invalid_api_key")


@pytest.mark.parametrize(
    "header",
    ["Token abc", "Bearer", "Bearer    ", "Basic dXNlcjpwYXNz", "al_sk_0123456789ab_secret", "Bearer\tal_sk_x_y"],
)
def test_malformed_authorization_header(header, project, api_client):
    response = api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_authorization", "message": "Use 'Authorization: Bearer <secret API key>'.", "field": None,
    }


@pytest.mark.parametrize("kind", ["garbage", "no_prefix", "unknown_key_id", "wrong_secret", "missing_secret"])
def test_wrong_key(kind, key_and_secret, api_client):
    api_key, secret = key_and_secret
    raw = {
        "garbage": "not-a-key",
        "no_prefix": secret.removeprefix("al_sk_"),
        "unknown_key_id": f"al_sk_ffffffffffff_{_secret_part(secret, api_key.key_id)}",
        "wrong_secret": f"al_sk_{api_key.key_id}_{'x' * 43}",
        "missing_secret": f"al_sk_{api_key.key_id}_",
    }[kind]

    response = api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert (response.status_code, response.json()["code"]) == (401, "invalid_api_key")


def test_auth_check_without_a_key_is_401_even_when_logged_in(admin, login):
    response = login(admin, api=True).get(AUTH_CHECK)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_key_does_not_authenticate_management_endpoints(key_and_secret, api_client):
    _, secret = key_and_secret

    response = api_client.get("/api/v1/orgs/acme/members/", HTTP_AUTHORIZATION=f"Bearer {secret}")

    # The management API takes organization tokens (al_ot_) and sessions; a project key there is
    # a Bearer credential it refuses, with a challenge and a message saying what to use instead.
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    assert "project API key" in response.json()["message"]
    assert response["WWW-Authenticate"] == 'Bearer realm="agentloop"'


# --- last_used_at -----------------------------------------------------------------------------------


def test_last_used_at_is_recorded_on_first_use(key_and_secret, api_client):
    api_key, secret = key_and_secret
    started = timezone.now()

    api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {secret}")

    api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert started <= api_key.last_used_at <= timezone.now()


def test_last_used_at_moves_on_when_older_than_a_minute(project, key_and_secret, api_client):
    api_key, secret = key_and_secret
    long_ago = timezone.now() - timedelta(hours=2)
    ApiKey.objects.for_project(project).filter(pk=api_key.pk).update(last_used_at=long_ago)
    started = timezone.now()

    api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {secret}")

    api_key.refresh_from_db()
    assert started <= api_key.last_used_at <= timezone.now()


def test_last_used_at_is_written_at_most_once_a_minute(project, key_and_secret, api_client):
    api_key, secret = key_and_secret
    recent = timezone.now() - timedelta(seconds=10)
    ApiKey.objects.for_project(project).filter(pk=api_key.pk).update(last_used_at=recent)

    api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer {secret}")

    api_key.refresh_from_db()
    assert api_key.last_used_at == recent


def test_failed_authentication_does_not_touch_last_used_at(key_and_secret, api_client):
    api_key, _ = key_and_secret

    api_client.get(AUTH_CHECK, HTTP_AUTHORIZATION=f"Bearer al_sk_{api_key.key_id}_{'x' * 43}")

    api_key.refresh_from_db()
    assert api_key.last_used_at is None
