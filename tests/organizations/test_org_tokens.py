"""Organization API tokens: shown once and hashed, revoked at once, last used, scopes bounded by
the member's role, removed members, other organizations, CSRF, rate limit, audit."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.audit import Actor, AuditAction
from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.organizations.models import OrganizationToken, TokenScope
from apps.organizations.services import membership_change_role, membership_remove
from apps.organizations.tokens import org_token_create
from apps.projects.models import Project
from tests.conftest import client_for
from tests.factories.organizations import MembershipFactory, org_token_with_secret
from tests.factories.projects import api_key_with_secret

TOKENS = "/api/v1/orgs/acme/tokens/"


def bearer(secret: str, **kwargs) -> APIClient:
    client = APIClient(**kwargs)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _create(members, *, role=Role.ADMIN, name="ci", scopes=("read",)):
    return org_token_create(
        organization=members[role].organization, acting=members[role], name=name, scopes=list(scopes),
        actor=Actor(user=members[role].user),
    )


# --- shown once, hashed ---------------------------------------------------------------------------


def test_api_create_shows_the_secret_once_and_stores_only_its_hash(members, login):
    client = login(members[Role.ADMIN].user, api=True)

    created = client.post(TOKENS, {"name": "CI bot", "scopes": ["review", "read"]}, format="json")
    listed = client.get(TOKENS)

    body = created.json()
    token = OrganizationToken.objects.for_org(members[Role.ADMIN].organization).get()
    prefix, token_id, secret = body["token"][:6], body["token"][6:18], body["token"][19:]
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    assert (prefix, token_id, body["token"][18]) == ("al_ot_", token.token_id, "_")
    assert (body["name"], body["scopes"], body["owner"], body["is_active"]) == ("CI bot", ["read", "review"], "admin@acme.test", True)
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(OrganizationToken.objects.for_org(token.organization).values().get())
    assert listed.status_code == 200
    assert secret not in listed.content.decode()
    assert listed.json() == [{
        "token_id": token.token_id, "name": "CI bot", "prefix": f"al_ot_{token.token_id}_{secret[:4]}…",
        "scopes": ["read", "review"], "owner": "admin@acme.test", "is_active": True,
        "created_at": body["created_at"], "last_used_at": None, "revoked_at": None,
    }]


def test_html_create_redirects_then_shows_the_secret_once(members, login):
    client = login(members[Role.ADMIN].user)

    posted = client.post("/orgs/acme/settings/tokens/", {"name": "CI bot", "scopes": ["read", "review"]})
    shown = client.get(posted["Location"])
    again = client.get(posted["Location"])

    token = OrganizationToken.objects.for_org(members[Role.ADMIN].organization).get()
    assert posted.status_code == 303
    assert posted["Location"].startswith("/orgs/acme/settings/?created=")
    assert shown.status_code == 200
    assert shown["Cache-Control"] == "no-store"
    secret = shown.context["new_secret"]
    assert secret.startswith(f"al_ot_{token.token_id}_")
    assert token.secret_hash == hashlib.sha256(secret.split("_", 3)[3].encode()).hexdigest()
    assert bearer(secret).get("/api/v1/orgs/acme").status_code == 200
    assert again.status_code == 200
    assert "new_secret" not in again.context
    assert secret not in again.content.decode()
    assert token.prefix in again.content.decode()


def test_html_create_with_redis_down_shows_the_secret_in_the_answer(members, login, settings):
    # Given a cache (Redis) that refuses connections
    client = login(members[Role.ADMIN].user)
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}

    posted = client.post("/orgs/acme/settings/tokens/", {"name": "CI bot", "scopes": ["read"]})
    stale = client.get("/orgs/acme/settings/?created=whatever")

    assert posted.status_code == 201
    assert posted["Cache-Control"] == "no-store"
    assert posted.context["new_secret"].startswith(f"al_ot_{posted.context['new_token'].token_id}_")
    assert stale.status_code == 200
    assert "new_secret" not in stale.context


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "ci", "scopes": []}, "scopes"),
        ({"name": "ci", "scopes": ["root"]}, "scopes"),
        ({"name": "ci"}, "scopes"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "ci\u202e", "scopes": ["read"]}, "name"),
        ({"name": "ci", "scopes": "read"}, "scopes"),
    ],
)
def test_api_create_refuses_bad_input_and_writes_nothing(body, field, members, login):
    response = login(members[Role.ADMIN].user, api=True).post(TOKENS, body, format="json")

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "invalid", field)
    assert not OrganizationToken.objects.for_org(members[Role.ADMIN].organization).exists()


def test_html_create_refuses_no_scope_with_a_readable_message(members, login):
    response = login(members[Role.ADMIN].user).post("/orgs/acme/settings/tokens/", {"name": "ci"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not OrganizationToken.objects.for_org(members[Role.ADMIN].organization).exists()


@pytest.mark.parametrize("scopes", [[], ["root"], ["read", "read", "review", "datasets", "admin"]])
def test_the_database_refuses_scopes_outside_the_vocabulary(scopes, members):
    with pytest.raises(IntegrityError), transaction.atomic():
        org_token_with_secret(membership=members[Role.ADMIN], scopes=scopes)


# --- revoke, last used --------------------------------------------------------------------------


def test_revoke_is_immediate_and_a_second_revoke_is_409(members, login):
    token, secret = _create(members)
    admin = login(members[Role.ADMIN].user, api=True)
    assert bearer(secret).get("/api/v1/orgs/acme").status_code == 200

    revoked = admin.delete(f"{TOKENS}{token.token_id}/")
    after = bearer(secret).get("/api/v1/orgs/acme")
    twice = admin.delete(f"{TOKENS}{token.token_id}/")

    assert revoked.status_code == 204
    assert (after.status_code, after.json()["code"]) == (401, "invalid_token")
    assert after["WWW-Authenticate"] == 'Bearer realm="agentloop"'
    assert (twice.status_code, twice.json()["code"]) == (409, "already_revoked")
    listed = admin.get(TOKENS).json()[0]
    assert (listed["is_active"], listed["revoked_at"] is not None) == (False, True)


def test_html_revoke(members, login):
    token, secret = _create(members)

    response = login(members[Role.ADMIN].user).post(f"/orgs/acme/settings/tokens/{token.token_id}/revoke/")

    assert (response.status_code, response["Location"]) == (302, "/orgs/acme/settings/")
    assert bearer(secret).get("/api/v1/orgs/acme").status_code == 401


def test_last_used_is_written_at_most_once_a_minute(members):
    token, secret = _create(members)
    assert token.last_used_at is None

    bearer(secret).get("/api/v1/orgs/acme")
    token.refresh_from_db()
    first = token.last_used_at
    bearer(secret).get("/api/v1/orgs/acme")
    token.refresh_from_db()
    unchanged = token.last_used_at
    OrganizationToken.objects.for_org(token.organization).filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    bearer(secret).get("/api/v1/orgs/acme")
    token.refresh_from_db()

    assert first is not None and timezone.now() - first < timedelta(seconds=10)
    assert unchanged == first
    assert token.last_used_at > first - timedelta(seconds=1)


# --- scopes × roles ------------------------------------------------------------------------------

SCOPE_SETS = [["read"], ["review"], ["datasets"], ["admin"], ["read", "review", "datasets"]]
ROLES = [Role.MEMBER, Role.REVIEWER, Role.ADMIN, Role.OWNER]


def _operations(project, queue):
    base = f"/api/v1/orgs/acme/projects/{project.pk}"
    return {
        # name: (method, url, body, role needed, scope needed)
        "read problems": ("get", f"{base}/problems/", None, Role.MEMBER, "read"),
        "read members": ("get", "/api/v1/orgs/acme/members/", None, Role.MEMBER, "read"),
        "claim next": ("post", f"{base}/queues/{queue.pk}/claim-next/", None, Role.REVIEWER, "review"),
        "rename project": ("patch", f"{base}/", {"name": "Renamed"}, Role.ADMIN, "admin"),
        "list tokens": ("get", TOKENS, None, Role.ADMIN, "admin"),
    }


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=["+".join(s) for s in SCOPE_SETS])
@pytest.mark.parametrize("role", ROLES)
def test_scopes_by_roles_matrix(role, scopes, project, members):
    """A token may do an operation only if its member's role allows it (else 403
    ``permission_denied``, as the session) and one of its scopes covers it (else 403 ``token_scope``)."""
    from apps.core.audit import SYSTEM
    from apps.review.services import queues as queue_services

    queue = queue_services.review_queue_create(project=project, actor=SYSTEM, name="Triage")
    queue_services.review_queue_assign(queue=queue, membership=members[Role.REVIEWER], actor=SYSTEM)
    _, secret = org_token_with_secret(membership=members[role], scopes=scopes)
    client = bearer(secret)
    ranks = [Role.MEMBER, Role.REVIEWER, Role.ADMIN, Role.OWNER]

    for name, (method, url, body, needs_role, needs_scope) in _operations(project, queue).items():
        with transaction.atomic():
            response = getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
            role_ok = ranks.index(role) >= ranks.index(needs_role)
            scope_ok = "admin" in scopes or needs_scope in scopes or needs_scope == "read"
            if name == "claim next" and role == Role.MEMBER:
                expected = (404, "not_found")  # a member sees no queue: the same 404 as the session
            elif not role_ok:
                expected = (403, "permission_denied")
            elif not scope_ok:
                expected = (403, "token_scope")
            else:
                expected = (response.status_code, None)
                assert response.status_code in {200, 204}, (name, response.content)
            got = (response.status_code, response.json().get("code") if response.status_code >= 400 else None)
            assert got == expected, (name, role, scopes)
            if expected[1] == "token_scope":
                assert f"'{needs_scope}'" in response.json()["message"]
            transaction.set_rollback(True)
    assert Project.objects.for_org(project.organization).get().name == "Support agent"


def test_a_token_never_does_more_than_its_members_role(project, members):
    # Given an admin-scoped token whose member is a reviewer
    _, secret = org_token_with_secret(membership=members[Role.REVIEWER], scopes=["admin"])

    response = bearer(secret).patch(f"/api/v1/orgs/acme/projects/{project.pk}/", {"name": "Renamed"}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert Project.objects.for_org(project.organization).get().name == "Support agent"


def test_lowering_the_members_role_lowers_the_token_at_once(project, members):
    target = MembershipFactory(organization=members[Role.OWNER].organization, role=Role.ADMIN, user__email="ops@acme.test")
    token, secret = org_token_create(organization=target.organization, acting=target, name="ops", scopes=["admin"],
                                     actor=Actor(user=target.user))
    url = f"/api/v1/orgs/acme/projects/{project.pk}/"
    before = bearer(secret).patch(url, {"name": "Renamed"}, format="json")

    membership_change_role(membership=target, acting=members[Role.OWNER], role=Role.MEMBER, actor=Actor(user=None))
    write = bearer(secret).patch(url, {"name": "Renamed again"}, format="json")
    read = bearer(secret).get(url)

    assert before.status_code == 200
    assert (write.status_code, write.json()["code"]) == (403, "permission_denied")
    assert read.status_code == 200
    assert Project.objects.for_org(project.organization).get().name == "Renamed"


def test_a_removed_members_token_is_401_and_stays_disabled_if_they_rejoin(members):
    target = MembershipFactory(organization=members[Role.OWNER].organization, role=Role.ADMIN, user__email="ops@acme.test")
    token, secret = org_token_create(organization=target.organization, acting=target, name="ops", scopes=["read"],
                                     actor=Actor(user=target.user))
    audits = AuditEvent.objects.for_org(target.organization).filter(action=AuditAction.ORG_TOKEN_REVOKED).count()

    membership_remove(membership=target, acting=members[Role.OWNER], actor=Actor(user=members[Role.OWNER].user))
    gone = bearer(secret).get("/api/v1/orgs/acme")
    MembershipFactory(organization=target.organization, user=target.user, role=Role.ADMIN)
    rejoined = bearer(secret).get("/api/v1/orgs/acme")

    token.refresh_from_db()
    assert (gone.status_code, gone.json()["code"]) == (401, "invalid_token")
    assert rejoined.status_code == 401
    assert (token.membership_id, token.revoked_at is not None, token.is_active) == (None, True, False)
    revoked = AuditEvent.objects.for_org(target.organization).filter(action=AuditAction.ORG_TOKEN_REVOKED)
    assert revoked.count() == audits + 1
    assert revoked.latest("pk").after == {"is_active": False, "reason": "member_removed"}


def test_a_deactivated_users_token_is_401(members):
    _, secret = _create(members)
    user = members[Role.ADMIN].user
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = bearer(secret).get("/api/v1/orgs/acme")

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


def test_only_admins_manage_tokens_and_a_read_token_cannot_mint_one(members, login):
    _, read_secret = _create(members, scopes=["read"])
    _, admin_secret = _create(members, name="root", scopes=["admin"])

    by_reviewer = login(members[Role.REVIEWER].user, api=True).post(TOKENS, {"name": "x", "scopes": ["read"]}, format="json")
    by_read_token = bearer(read_secret).post(TOKENS, {"name": "x", "scopes": ["admin"]}, format="json")
    by_admin_token = bearer(admin_secret).post(TOKENS, {"name": "minted", "scopes": ["read"]}, format="json")

    assert (by_reviewer.status_code, by_reviewer.json()["code"]) == (403, "permission_denied")
    assert (by_read_token.status_code, by_read_token.json()["code"]) == (403, "token_scope")
    assert by_admin_token.status_code == 201
    assert by_admin_token.json()["owner"] == "admin@acme.test"
    names = set(OrganizationToken.objects.for_org(members[Role.ADMIN].organization).values_list("name", flat=True))
    assert names == {"ci", "root", "minted"}


# --- credentials: other organizations, project keys, CSRF ----------------------------------------


def test_a_token_on_another_organizations_url_is_the_strangers_404(members, other_organization, outsider):
    # Given a member of both organizations, and their acme token
    both = members[Role.ADMIN]
    MembershipFactory(organization=other_organization, user=both.user, role=Role.OWNER)
    _, secret = _create(members, scopes=["admin"])
    stranger = client_for(MembershipFactory(user__email="nobody@else.test").user, api=True)

    with_token = bearer(secret).get("/api/v1/orgs/globex/members/")
    as_stranger = stranger.get("/api/v1/orgs/globex/members/")
    missing = bearer(secret).get("/api/v1/orgs/no-such-org/members/")
    session = client_for(both.user, api=True).get("/api/v1/orgs/globex/members/")
    listed = bearer(secret).get("/api/v1/orgs")

    assert (with_token.status_code, with_token.json()) == (as_stranger.status_code, as_stranger.json())
    assert (missing.status_code, missing.json()) == (as_stranger.status_code, as_stranger.json())
    assert with_token.status_code == 404
    assert session.status_code == 200  # the session of the same person may: the token is bound to acme
    assert [org["slug"] for org in listed.json()] == ["acme"]


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer al_ot_0123456789ab_wrong", "invalid_token"),
        ("Bearer al_ot_", "invalid_token"),
        ("Bearer al_ot_nope", "invalid_token"),
        ("Bearer something-else", "invalid_token"),
    ],
)
def test_a_bad_bearer_token_is_401_invalid_token(header, code, members):
    response = APIClient().get("/api/v1/orgs/acme", HTTP_AUTHORIZATION=header)

    assert (response.status_code, response.json()["code"]) == (401, code)
    assert response["WWW-Authenticate"] == 'Bearer realm="agentloop"'


def test_a_project_key_is_refused_and_an_org_token_is_refused_for_ingestion(project, members):
    _, key_secret = api_key_with_secret(project=project)
    _, token_secret = _create(members, scopes=["admin"])

    management = bearer(key_secret).get("/api/v1/orgs/acme/members/")
    ingestion = bearer(token_secret).post("/api/v1/turns", {"question": "hi"}, format="json")

    assert (management.status_code, management.json()["code"]) == (401, "invalid_token")
    assert (ingestion.status_code, ingestion.json()["code"]) == (401, "invalid_api_key")


def test_a_proxys_basic_credentials_leave_the_session_in_charge(members):
    client = client_for(members[Role.MEMBER].user, api=True)

    response = client.get("/api/v1/orgs/acme", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")

    assert response.status_code == 200


def test_a_token_needs_no_csrf_but_a_session_still_does(project, members):
    _, secret = _create(members, scopes=["admin"])
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(members[Role.ADMIN].user)
    url = f"/api/v1/orgs/acme/projects/{project.pk}/"

    without_csrf = session.patch(url, {"name": "By session"}, format="json")
    with_token = bearer(secret, enforce_csrf_checks=True).patch(url, {"name": "By token"}, format="json")

    assert (without_csrf.status_code, without_csrf.json()["code"]) == (403, "permission_denied")
    assert "CSRF" in without_csrf.json()["message"]
    assert with_token.status_code == 200
    assert Project.objects.for_org(project.organization).get().name == "By token"


def test_anonymous_stays_403_not_authenticated(members):
    response = APIClient().get("/api/v1/orgs/acme")

    assert (response.status_code, response.json()["code"]) == (403, "not_authenticated")


def test_a_token_is_rate_limited_per_minute(members, settings):
    settings.ORG_TOKEN_RATE_LIMIT_PER_MINUTE = 2
    _, secret = _create(members)
    client = bearer(secret)

    statuses = [client.get("/api/v1/orgs/acme").status_code for _ in range(3)]
    limited = client.get("/api/v1/orgs/acme/members/")
    session = client_for(members[Role.ADMIN].user, api=True).get("/api/v1/orgs/acme")

    assert statuses == [200, 200, 429]
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert session.status_code == 200


# --- audit ----------------------------------------------------------------------------------------


def test_create_and_revoke_are_audited_and_actions_record_the_token(project, members, login):
    admin = login(members[Role.ADMIN].user, api=True)

    created = admin.post(TOKENS, {"name": "ops", "scopes": ["admin"]}, format="json", REMOTE_ADDR="203.0.113.9").json()
    bearer(created["token"]).patch(f"/api/v1/orgs/acme/projects/{project.pk}/", {"name": "Renamed"}, format="json")
    admin.delete(f"{TOKENS}{created['token_id']}/")

    rows = list(
        AuditEvent.objects.for_org(project.organization).order_by("pk").values_list("action", "actor_email", "target_id", "via")
    )
    assert rows[-3:] == [
        (AuditAction.ORG_TOKEN_CREATED, "admin@acme.test", created["token_id"], ""),
        (AuditAction.PROJECT_RENAMED, "admin@acme.test", str(project.pk), f"token:{created['token_id']}"),
        (AuditAction.ORG_TOKEN_REVOKED, "admin@acme.test", created["token_id"], ""),
    ]
    listed = admin.get("/api/v1/orgs/acme/audit-events/").json()["results"]
    assert listed[1]["via"] == f"token:{created['token_id']}"


def test_every_scope_includes_read_and_admin_includes_every_scope():
    from apps.organizations.models import token_scopes_allow

    table = {
        tuple(scopes): [token_scopes_allow(scopes, needed) for needed in TokenScope.values]
        for scopes in (["read"], ["review"], ["datasets"], ["admin"], [])
    }

    assert table == {
        ("read",): [True, False, False, False],
        ("review",): [True, True, False, False],
        ("datasets",): [True, False, True, False],
        ("admin",): [True, True, True, True],
        (): [False, False, False, False],
    }


def test_the_default_scope_follows_the_method_and_the_required_role():
    """A viewset's undeclared actions: safe → read; reviewer → review; admin/owner → admin; a
    member-level write → admin; a declared ``token_scope`` wins."""
    from rest_framework.test import APIRequestFactory

    from apps.organizations.tenancy import OrganizationScopedViewSet

    class Example(OrganizationScopedViewSet):
        required_role = {"a": Role.MEMBER, "b": Role.REVIEWER, "c": Role.ADMIN, "d": Role.OWNER, "e": Role.MEMBER, "f": Role.REVIEWER}
        token_scope = {"f": "datasets"}

    def needed(action, method):
        view = Example()
        view.action, view.request = action, getattr(APIRequestFactory(), method)("/")
        return view.token_scope_required()

    assert [needed("a", "get"), needed("b", "post"), needed("c", "delete"), needed("d", "patch"), needed("e", "delete"),
            needed("f", "post"), needed("b", "get"), needed("zz", "post")] == [
        "read", "review", "admin", "admin", "admin", "datasets", "read", None,
    ]


def test_every_management_viewset_declares_known_scopes_for_known_actions():
    """Each viewset under /api/v1/orgs takes tokens, and its ``token_scope`` names real scopes of
    actions its role map has (a typo would silently fall back to the default)."""
    import config.api  # noqa: F401 - every management viewset is imported by the router

    from apps.organizations.authentication import OrganizationTokenAuthentication
    from apps.organizations.tenancy import OrganizationScopedViewSet

    classes = {cls for cls in _all_subclasses(OrganizationScopedViewSet) if cls.__module__.startswith("apps.")}

    assert len(classes) >= 9
    for cls in classes:
        assert cls.authentication_classes[0] is OrganizationTokenAuthentication, cls
        assert set(cls.token_scope.values()) <= set(TokenScope.values), cls
        assert set(cls.token_scope) <= set(cls.required_role), cls


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)
