"""Bad input on every form and endpoint of the foundation gets a clear error and changes nothing.

API errors are JSON ``{"code", "message", "field"[, "errors"]}``; HTML forms re-render with
status 400 and a readable message on the field at fault.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.organizations.models import Invitation, Membership, Organization
from apps.projects.models import ApiKey, Project
from tests.factories.organizations import MembershipFactory

TOO_LONG = "x" * 101


@pytest.fixture
def owner_api(members, login):
    return login(members[Role.OWNER].user, api=True)


@pytest.fixture
def owner_html(members, login):
    return login(members[Role.OWNER].user)


@pytest.fixture
def endpoints(project, members):
    """Every JSON write endpoint of the foundation: (method, path)."""
    return {
        "organization": ("patch", "/api/v1/orgs/acme"),
        "invitation": ("post", "/api/v1/orgs/acme/invitations/"),
        "member": ("patch", f"/api/v1/orgs/acme/members/{members[Role.MEMBER].pk}/"),
        "project_create": ("post", "/api/v1/orgs/acme/projects/"),
        "project_rename": ("patch", f"/api/v1/orgs/acme/projects/{project.pk}/"),
        "project_access": ("put", f"/api/v1/orgs/acme/projects/{project.pk}/access"),
        "api_key": ("post", f"/api/v1/orgs/acme/projects/{project.pk}/keys/"),
    }


def _snapshot(organization) -> tuple:
    """Everything the foundation endpoints can change, to compare before and after."""
    return (
        list(Organization.objects.order_by("pk").values_list("name", "retention_days")),
        list(Membership.objects.for_org(organization).order_by("pk").values_list("user_id", "role")),
        Invitation.all_tenants.count(),
        list(Project.objects.for_org(organization).order_by("name").values_list("name", "is_restricted")),
        ApiKey.all_tenants.count(),
        AuditEvent.all_tenants.count(),
    )


def _send(client, method, path, raw: bytes):
    return getattr(client, method)(path, raw, content_type="application/json")


ENDPOINT_NAMES = [
    "organization", "invitation", "member", "project_create", "project_rename", "project_access", "api_key",
]


# --- JSON itself ----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
@pytest.mark.parametrize("raw", [b'{"name": ', b"{'name': 'x'}", b'{"name": "a",}', b'{"name": "tab\there"}'])
def test_malformed_json_is_400_malformed_json(endpoint, raw, endpoints, organization, owner_api):
    method, path = endpoints[endpoint]
    before = _snapshot(organization)

    response = _send(owner_api, method, path, raw)

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert response.json()["message"].startswith("Malformed JSON: ")
    assert _snapshot(organization) == before


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
@pytest.mark.parametrize(("raw", "detail"), [
    (b"\xff\xfe", "byte 0xff at offset 0 (invalid start byte)"),  # a UTF-16 byte order mark
    (b'{"name": "\xed\xa0\x80"}', "byte 0xed at offset 10 (invalid continuation byte)"),  # an encoded surrogate
])
def test_a_body_that_is_not_utf8_is_400_invalid_encoding(endpoint, raw, detail, endpoints, organization, owner_api):
    method, path = endpoints[endpoint]
    before = _snapshot(organization)

    response = _send(owner_api, method, path, raw)

    assert (response.status_code, response.json()) == (
        400, {"code": "invalid_encoding", "message": f"The body is not valid UTF-8: {detail}.", "field": None},
    )
    assert _snapshot(organization) == before


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
@pytest.mark.parametrize(
    "raw", [b'{"name": "\\ud800"}', b'{"email": "a\\udfff@example.test"}', b'{"\\ud800": 1}', b'{"role": ["\\udc00"]}']
)
def test_lone_surrogate_is_400_invalid_unicode(endpoint, raw, endpoints, organization, owner_api):
    method, path = endpoints[endpoint]
    before = _snapshot(organization)

    response = _send(owner_api, method, path, raw)

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_unicode",
        "message": "text contains a lone UTF-16 surrogate, which is not valid Unicode",
        "field": None,
    }
    assert _snapshot(organization) == before


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
@pytest.mark.parametrize(("raw", "kind"), [(b"[]", "list"), (b'"x"', "str"), (b"1", "int")])
def test_a_body_that_is_not_an_object_is_refused(endpoint, raw, kind, endpoints, organization, owner_api):
    method, path = endpoints[endpoint]
    before = _snapshot(organization)

    response = _send(owner_api, method, path, raw)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"], response.json()["message"]) == (
        "invalid", None, f"Invalid data. Expected a dictionary, but got {kind}.",
    )
    assert _snapshot(organization) == before


def test_form_encoded_body_is_415(organization, owner_api):
    before = _snapshot(organization)

    response = owner_api.post("/api/v1/orgs/acme/projects/", "name=x", content_type="application/x-www-form-urlencoded")

    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")
    assert _snapshot(organization) == before


# --- NUL characters -------------------------------------------------------------------------------


def test_nul_characters_are_stripped_from_api_input(organization, project, owner_api):
    created = _send(owner_api, "post", "/api/v1/orgs/acme/projects/", b'{"na\\u0000me": "Bil\\u0000ling\\u0000"}')
    renamed = _send(owner_api, "patch", "/api/v1/orgs/acme", b'{"name": "\\u0000Acme\\u0000 Inc"}')
    key = _send(owner_api, "post", f"/api/v1/orgs/acme/projects/{project.pk}/keys/", b'{"name": "ci\\u0000"}')

    assert (created.status_code, created.json()["name"]) == (201, "Billing")
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Acme Inc")
    assert (key.status_code, key.json()["name"]) == (201, "ci")
    assert Project.objects.for_org(organization).filter(name="Billing").count() == 1
    organization.refresh_from_db()
    assert organization.name == "Acme Inc"
    assert ApiKey.objects.for_project(project).get().name == "ci"


def test_a_name_of_only_nul_characters_is_blank(organization, owner_api):
    before = _snapshot(organization)

    response = _send(owner_api, "post", "/api/v1/orgs/acme/projects/", b'{"name": "\\u0000\\u0000"}')

    assert response.status_code == 400
    assert (response.json()["field"], response.json()["message"]) == ("name", "This field may not be blank.")
    assert _snapshot(organization) == before


def test_html_forms_refuse_nul_characters(organization, owner_html):
    before = _snapshot(organization)

    response = owner_html.post("/orgs/acme/projects/new/", {"name": "Bil\x00ling"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"name": ["Null characters are not allowed."]}
    assert _snapshot(organization) == before


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "value", "message"),
    [
        ("organization", TOO_LONG, "Ensure this field has no more than 100 characters."),
        ("project_create", TOO_LONG, "Ensure this field has no more than 100 characters."),
        ("project_rename", TOO_LONG, "Ensure this field has no more than 100 characters."),
        ("api_key", TOO_LONG, "Ensure this field has no more than 100 characters."),
        ("organization", "   ", "This field may not be blank."),
        ("project_create", "", "This field may not be blank."),
        ("project_rename", "\t ", "This field may not be blank."),
        ("api_key", None, "This field may not be null."),
        ("project_create", ["a"], "Not a valid string."),
    ],
)
def test_api_bad_names(endpoint, value, message, endpoints, organization, owner_api):
    method, path = endpoints[endpoint]
    before = _snapshot(organization)

    response = getattr(owner_api, method)(path, {"name": value}, format="json")

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"], response.json()["message"]) == ("invalid", "name", message)
    assert _snapshot(organization) == before


@pytest.mark.parametrize("endpoint", ["project_create", "project_rename", "api_key", "organization"])
def test_api_names_of_exactly_100_characters_are_accepted(endpoint, endpoints, owner_api):
    method, path = endpoints[endpoint]

    response = getattr(owner_api, method)(path, {"name": "y" * 100}, format="json")

    assert response.status_code in (200, 201)
    assert response.json()["name"] == "y" * 100


@pytest.mark.parametrize("endpoint", ["project_create", "api_key", "project_access", "member", "invitation"])
def test_api_missing_required_field(endpoint, endpoints, organization, owner_api):
    method, path = endpoints[endpoint]
    before = _snapshot(organization)

    response = getattr(owner_api, method)(path, {}, format="json")

    required = {"project_create": "name", "api_key": "name", "project_access": "is_restricted",
                "member": "role", "invitation": "email"}[endpoint]
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["message"]) == (required, "This field is required.")
    assert _snapshot(organization) == before


def test_api_duplicate_project_name_is_a_conflict(project, organization, owner_api):
    before = _snapshot(organization)

    response = owner_api.post("/api/v1/orgs/acme/projects/", {"name": "SUPPORT AGENT"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "name_taken", "message": "A project named 'SUPPORT AGENT' already exists.", "field": "name",
    }
    assert _snapshot(organization) == before


def test_html_duplicate_project_name_is_shown_on_the_field(project, organization, owner_html):
    before = _snapshot(organization)

    response = owner_html.post("/orgs/acme/projects/new/", {"name": "support agent"})

    assert response.status_code == 409
    assert response.context["form"].errors == {"name": ["A project named 'support agent' already exists."]}
    assert _snapshot(organization) == before


# --- retention ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "Ensure this value is greater than or equal to 1."),
        (-1, "Ensure this value is greater than or equal to 1."),
        (3651, "Ensure this value is less than or equal to 3650."),
        (10**30, "Ensure this value is less than or equal to 3650."),
        ("abc", "A valid integer is required."),
        (True, "A valid integer is required."),
        (False, "A valid integer is required."),
        (3.5, "A valid integer is required."),
        ("", "A valid integer is required."),
        (None, "This field may not be null."),
        ([30], "A valid integer is required."),
    ],
)
def test_api_bad_retention(value, message, organization, owner_api):
    before = _snapshot(organization)

    response = owner_api.patch("/api/v1/orgs/acme", {"retention_days": value}, format="json")

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"], response.json()["message"]) == (
        "invalid", "retention_days", message,
    )
    assert _snapshot(organization) == before


@pytest.mark.parametrize("value", [1, 3650])
def test_api_retention_bounds_are_accepted(value, organization, owner_api):
    response = owner_api.patch("/api/v1/orgs/acme", {"retention_days": value}, format="json")

    organization.refresh_from_db()
    assert (response.status_code, organization.retention_days) == (200, value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("3651", "Ensure this value is less than or equal to 3650."),
        ("abc", "Enter a whole number."),
        ("true", "Enter a whole number."),
        ("", "This field is required."),
    ],
)
def test_html_bad_retention(value, message, organization, owner_html):
    before = _snapshot(organization)

    response = owner_html.post("/orgs/acme/settings/", {"name": "Acme", "retention_days": value})

    assert response.status_code == 400
    assert response.context["form"].errors == {"retention_days": [message]}
    assert message.encode() in response.content
    assert _snapshot(organization) == before


# --- roles and e-mail addresses -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["superuser", "OWNER", "", None, 1])
def test_api_unknown_role(role, members, organization, owner_api):
    before = _snapshot(organization)

    changed = owner_api.patch(f"/api/v1/orgs/acme/members/{members[Role.MEMBER].pk}/", {"role": role}, format="json")
    invited = owner_api.post("/api/v1/orgs/acme/invitations/", {"email": "a@example.test", "role": role}, format="json")

    for response in (changed, invited):
        assert response.status_code == 400
        assert (response.json()["code"], response.json()["field"]) == ("invalid", "role")
    assert _snapshot(organization) == before


def test_api_unknown_role_message_names_the_value(members, owner_api):
    response = owner_api.patch(
        f"/api/v1/orgs/acme/members/{members[Role.MEMBER].pk}/", {"role": "superuser"}, format="json"
    )

    assert response.json()["message"] == '"superuser" is not a valid choice.'


def test_html_unknown_role_on_the_members_page(members, organization, owner_html):
    before = _snapshot(organization)

    changed = owner_html.post(f"/orgs/acme/members/{members[Role.MEMBER].pk}/role/", {"role": "superuser"})
    invited = owner_html.post("/orgs/acme/members/", {"email": "a@example.test", "role": "superuser"})

    assert changed.status_code == 400
    assert b"Choose one of the listed roles." in changed.content
    assert invited.status_code == 400
    assert invited.context["form"].errors == {
        "role": ["Select a valid choice. superuser is not one of the available choices."],
    }
    assert _snapshot(organization) == before


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "Enter a valid email address."),
        ("a@b", "Enter a valid email address."),
        ("two@@example.test", "Enter a valid email address."),
        ("", "This field may not be blank."),
        (f"{'a' * 250}@example.test", "Ensure this field has no more than 254 characters."),
    ],
)
def test_api_invalid_email(email, message, organization, owner_api):
    before = _snapshot(organization)

    response = owner_api.post("/api/v1/orgs/acme/invitations/", {"email": email}, format="json")

    assert response.status_code == 400
    assert (response.json()["field"], response.json()["message"]) == ("email", message)
    assert _snapshot(organization) == before


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "Enter a valid email address."),
        ("", "This field is required."),
    ],
)
def test_html_invalid_email(email, message, organization, owner_html):
    before = _snapshot(organization)

    response = owner_html.post("/orgs/acme/members/", {"email": email, "role": "member"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"email": [message]}
    assert message.encode() in response.content
    assert _snapshot(organization) == before


def test_inviting_a_member_again_is_a_conflict_on_the_email_field(organization, owner_html):
    before = _snapshot(organization)

    response = owner_html.post("/orgs/acme/members/", {"email": "MEMBER@acme.test", "role": "member"})

    assert response.status_code == 409
    assert response.context["form"].errors == {"email": ["member@acme.test is already a member."]}
    assert _snapshot(organization) == before


# --- project access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member_ids", "field", "message"),
    [
        (["abc"], "member_ids", "A valid integer is required."),
        ([0], "member_ids", "Ensure this value is greater than or equal to 1."),
        ("1,2", "member_ids", 'Expected a list of items but got type "str".'),
    ],
)
def test_api_project_access_bad_member_ids(member_ids, field, message, project, organization, owner_api):
    before = _snapshot(organization)

    response = owner_api.put(
        f"/api/v1/orgs/acme/projects/{project.pk}/access",
        {"is_restricted": True, "member_ids": member_ids}, format="json",
    )

    assert response.status_code == 400
    assert response.json()["message"] == message
    assert response.json()["field"].startswith(field)
    assert _snapshot(organization) == before


def test_api_project_access_refuses_ids_from_another_organization(project, organization, other_organization, owner_api):
    stranger = MembershipFactory(organization=other_organization)
    before = _snapshot(organization)

    response = owner_api.put(
        f"/api/v1/orgs/acme/projects/{project.pk}/access",
        {"is_restricted": True, "member_ids": [stranger.pk, 999999]}, format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "unknown_member", "message": f"Unknown member id(s): {sorted([stranger.pk, 999999])}.",
        "field": "member_ids",
    }
    assert _snapshot(organization) == before


def test_html_project_access_refuses_unknown_member_ids(project, organization, owner_html):
    before = _snapshot(organization)

    response = owner_html.post(
        f"/orgs/acme/projects/{project.pk}/access/", {"is_restricted": "on", "member_ids": ["999999"]}
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "member_ids": ["Select a valid choice. 999999 is not one of the available choices."],
    }
    assert _snapshot(organization) == before


# --- every HTML form ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "data", "field", "message"),
    [
        ("org_create", {"name": ""}, "name", "This field is required."),
        ("org_create", {"name": TOO_LONG}, "name", "Ensure this value has at most 100 characters (it has 101)."),
        ("settings", {"name": TOO_LONG, "retention_days": "30"}, "name",
         "Ensure this value has at most 100 characters (it has 101)."),
        ("settings", {"name": "", "retention_days": "30"}, "name", "This field is required."),
        ("project_create", {"name": TOO_LONG}, "name", "Ensure this value has at most 100 characters (it has 101)."),
        ("project_create", {"name": "   "}, "name", "This field is required."),
        ("project_rename", {"name": TOO_LONG}, "name", "Ensure this value has at most 100 characters (it has 101)."),
        ("api_key", {"name": TOO_LONG}, "name", "Ensure this value has at most 100 characters (it has 101)."),
        ("api_key", {}, "name", "This field is required."),
    ],
)
def test_html_forms_re_render_with_a_field_error(form, data, field, message, project, organization, owner_html):
    path = {
        "org_create": "/orgs/",
        "settings": "/orgs/acme/settings/",
        "project_create": "/orgs/acme/projects/new/",
        "project_rename": f"/orgs/acme/projects/{project.pk}/settings/",
        "api_key": f"/orgs/acme/projects/{project.pk}/keys/",
    }[form]
    before = _snapshot(organization)

    response = owner_html.post(path, data)

    assert response.status_code == 400
    assert response.context["form"].errors == {field: [message]}
    assert message.encode() in response.content
    assert _snapshot(organization) == before


def test_html_project_delete_needs_the_exact_name(project, organization, owner_html):
    before = _snapshot(organization)

    response = owner_html.post(f"/orgs/acme/projects/{project.pk}/delete/", {"confirm_name": "support agent"})

    assert response.status_code == 400
    assert b"Type the project&#x27;s exact name to confirm." in response.content
    assert _snapshot(organization) == before


# --- bootstrap_org ------------------------------------------------------------------------------


def _bootstrap(*extra: str, org: str = "Initech", project: str = "Helpdesk bot") -> dict:
    out = StringIO()
    call_command(
        "bootstrap_org", "--org", org, "--owner-email", "Boss@Initech.test",
        "--owner-password", "a-long-unusual-passphrase", "--project", project, "--json", *extra, stdout=out,
    )
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_bootstrap_org_twice_reuses_everything_and_issues_a_new_key(api_client):
    first = _bootstrap()

    second = _bootstrap(project=" helpdesk BOT ")

    assert sorted(first) == ["api_key", "organization", "project"]
    assert sorted(second) == ["api_key", "organization", "project"]
    assert (second["organization"], second["project"]) == (first["organization"], first["project"]) == (
        "initech", str(Project.all_tenants.get().pk),
    )
    assert second["api_key"] != first["api_key"]
    assert Organization.objects.count() == 1
    assert list(Membership.all_tenants.values_list("user__email", "role")) == [("boss@initech.test", "owner")]
    assert ApiKey.all_tenants.filter(revoked_at=None).count() == 2
    for key in (first["api_key"], second["api_key"]):
        check = api_client.get("/api/v1/auth/check", HTTP_AUTHORIZATION=f"Bearer {key}")
        assert (check.status_code, check.json()["project"]) == (200, first["project"])


@pytest.mark.django_db
def test_bootstrap_org_without_json_prints_readable_lines():
    out = StringIO()

    call_command(
        "bootstrap_org", "--org", "Initech", "--owner-email", "boss@initech.test",
        "--owner-password", "a-long-unusual-passphrase", "--project", "Helpdesk bot", stdout=out,
    )

    lines = out.getvalue().splitlines()
    assert [line.split(": ")[0] for line in lines] == ["organization", "project", "api key"]
    assert lines[0] == "organization: initech"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "!!!", "--owner-password", "a-long-unusual-passphrase", "--project", "P"],
         "--org must contain letters or digits."),
        (["--org", "Initech", "--owner-password", "123", "--project", "P"], "Owner password rejected: "),
        (["--org", "Initech", "--owner-password", "a-long-unusual-passphrase", "--project", "  "],
         "A name is required."),
    ],
)
def test_bootstrap_org_bad_input_is_a_command_error_and_creates_nothing(args, message):
    with pytest.raises(CommandError) as raised:
        call_command("bootstrap_org", "--owner-email", "boss@initech.test", *args, stdout=StringIO())

    assert str(raised.value).startswith(message)
    assert Organization.objects.count() == 0
    assert Project.all_tenants.count() == 0
    assert AuditEvent.all_tenants.count() == 0


@pytest.mark.django_db
def test_oversized_management_api_body_is_413_and_changes_nothing(organization, members, settings):
    from tests.conftest import client_for

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = client_for(members["owner"].user, api=True)

    response = client.post(f"/api/v1/orgs/{organization.slug}/projects/",
                           data='{"name": "' + "x" * 2000 + '"}', content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert Project.objects.for_org(organization).count() == 0
