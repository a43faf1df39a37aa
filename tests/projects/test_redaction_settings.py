"""The redaction settings page and API: admins only (the permission matrix), audited, bad
patterns refused with stable codes and nothing changed, the "test your settings" box, and the
per-kind counts on the project overview."""

from __future__ import annotations

import uuid

import pytest

from apps.core.audit import Actor
from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.projects.models import RedactionSettings
from apps.projects.redaction import redaction_settings_save
from tests.conftest import key_client_for, post_json
from tests.organizations.matrix import AUTH_MODES, assert_api_refused, assert_html_refused, audit_count, caller, role_rows

pytestmark = pytest.mark.django_db

BODY = {"kinds": ["email", "card"], "placeholder_style": "keyed", "patterns": [{"name": "ticket", "regex": r"TCK-\d{6}"}]}


def _saved(project):
    return RedactionSettings.objects.for_project(project).first()


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_html_redaction_page(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    path = f"/orgs/acme/projects/{project.pk}/redaction/"

    response = client.get(path)

    if allowed:
        assert response.status_code == status
        assert b"Payment card numbers (Luhn-checked)" in response.content
    else:
        assert_html_refused(response, role, path)


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(302))
def test_html_redaction_save(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider)
    audits = audit_count()
    path = f"/orgs/acme/projects/{project.pk}/redaction/"

    response = client.post(path, {"kinds": ["email", "phone"], "placeholder_style": "plain",
                                  "patterns": "ticket: TCK-\\d{6}\n", "action": "save"})

    if allowed:
        assert response.status_code == status
        settings = _saved(project)
        assert (settings.kinds, settings.patterns, settings.version) == (
            ["email", "phone"], [{"name": "ticket", "regex": r"TCK-\d{6}"}], 1)
        assert audit_count() == audits + 1
        event = AuditEvent.objects.for_org(project.organization).get(action="redaction.changed")
        assert event.after["kinds"] == ["email", "phone"] and event.before["kinds"] == []
    else:
        assert_html_refused(response, role, path)
        assert _saved(project) is None
        assert audit_count() == audits


def test_html_test_box_shows_what_a_text_becomes_and_stores_nothing(project, members, outsider):
    client = caller(Role.ADMIN, members=members, outsider=outsider)

    response = client.post(f"/orgs/acme/projects/{project.pk}/redaction/", {
        "kinds": ["email"], "placeholder_style": "plain", "patterns": "order: ORD-\\d+", "action": "test",
        "sample": "Mail ann@example.com about ORD-991 <b>now</b>",
    })

    html = response.content.decode()
    assert response.status_code == 200
    assert "Mail [EMAIL] about [ORDER] &lt;b&gt;now&lt;/b&gt;" in html
    assert "email: 1, order: 1" in html
    assert _saved(project) is None


def test_html_a_catastrophic_pattern_is_refused_on_the_form(project, members, outsider):
    client = caller(Role.ADMIN, members=members, outsider=outsider)

    response = client.post(f"/orgs/acme/projects/{project.pk}/redaction/",
                           {"kinds": ["email"], "placeholder_style": "plain", "patterns": "slow: (a|aa)+$", "action": "save"})

    assert response.status_code == 400
    assert "backtracks catastrophically" in response.content.decode()
    assert _saved(project) is None


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_redaction_update_and_read(auth, role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)
    audits = audit_count()
    path = f"/api/v1/orgs/acme/projects/{project.pk}/redaction"

    updated = client.put(path, BODY, format="json")
    read = client.get(path)

    if allowed:
        assert updated.status_code == status
        assert read.json() == {**BODY, "version": 1}
        assert audit_count() == audits + 1
    else:
        assert_api_refused(updated, role)
        assert_api_refused(read, role)
        assert _saved(project) is None
        assert audit_count() == audits


@pytest.mark.parametrize(("role", "status", "allowed"), role_rows(200))
def test_api_redaction_test(role, status, allowed, project, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True)

    response = client.post(f"/api/v1/orgs/acme/projects/{project.pk}/redaction/test",
                           {**BODY, "placeholder_style": "plain", "text": "card 4111 1111 1111 1111, TCK-123456"}, format="json")

    if allowed:
        assert response.status_code == status
        assert response.json() == {"text": "card [CARD], [TICKET]", "redactions": {"card": 1, "ticket": 1}}
    else:
        assert_api_refused(response, role)


@pytest.mark.parametrize(("patterns", "code", "field"), [
    ([{"name": "t", "regex": "TCK-(\\d+"}], "pattern_invalid", "patterns[0].regex"),
    ([{"name": "t", "regex": "a*"}], "pattern_matches_empty", "patterns[0].regex"),
    ([{"name": "t", "regex": "(a|aa)+$"}], "pattern_too_slow", "patterns[0].regex"),
    ([{"name": "9t", "regex": "abc"}], "invalid_name", "patterns[0].name"),
    ([{"name": "t", "regex": "a"}, {"name": "T", "regex": "b"}], "duplicate_name", "patterns[1].name"),
    ([{"name": "email", "regex": "b"}], "duplicate_name", "patterns[0].name"),
])
def test_api_bad_patterns_are_refused_with_a_code_and_change_nothing(patterns, code, field, project, members, outsider):
    client = caller(Role.ADMIN, members=members, outsider=outsider, api=True)
    path = f"/api/v1/orgs/acme/projects/{project.pk}/redaction"
    client.put(path, BODY, format="json")
    audits = audit_count()

    response = client.put(path, {**BODY, "patterns": patterns}, format="json")

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert client.get(path).json() == {**BODY, "version": 1}
    assert audit_count() == audits


def test_api_nul_is_dropped_and_a_lone_surrogate_refused(project, members, outsider):
    client = caller(Role.ADMIN, members=members, outsider=outsider, api=True)
    path = f"/api/v1/orgs/acme/projects/{project.pk}/redaction"

    nul = client.put(path, {"patterns": [{"name": "t", "regex": "TCK\x00-1"}]}, format="json")
    surrogate = client.generic("PUT", path, b'{"patterns": [{"name": "t", "regex": "\\ud800"}]}', content_type="application/json")

    assert nul.status_code == 200 and nul.json()["patterns"] == [{"name": "t", "regex": "TCK-1"}]
    assert (surrogate.status_code, surrogate.json()["code"]) == (400, "invalid_unicode")


@pytest.mark.parametrize("body", [{"kinds": ["ssn"]}, {"kinds": "email"}, {"placeholder_style": "stars"},
                                  {"patterns": [{"name": "t", "regex": 5}]}, {"patterns": [{"name": "t"}]}])
def test_api_malformed_settings_are_400(body, project, members, outsider):
    client = caller(Role.ADMIN, members=members, outsider=outsider, api=True)

    response = client.put(f"/api/v1/orgs/acme/projects/{project.pk}/redaction", body, format="json")

    assert response.status_code == 400
    assert "code" in response.json()
    assert _saved(project) is None


def test_the_overview_counts_what_was_redacted_per_kind(project, members, outsider):
    redaction_settings_save(project=project, kinds=["email", "phone"], placeholder_style="plain", patterns=[],
                            actor=Actor(user=None))
    key = key_client_for(project)
    for text in ["a@b.io and c@d.io", "call +44 20 7946 0958", "nothing here"]:
        post_json(key, "/api/v1/turns", {"id": str(uuid.uuid4()), "question": text})

    response = caller(Role.MEMBER, members=members, outsider=outsider).get(
        f"/orgs/acme/projects/{project.pk}/capture-counts/")

    assert response.status_code == 200
    assert "2 email · 1 phone" in response.content.decode()


def test_the_hash_key_is_sealed_at_rest_bound_to_its_project(project, other_project):
    settings = redaction_settings_save(project=project, kinds=["email"], placeholder_style="keyed", patterns=[],
                                       actor=Actor(user=None))

    key = settings.unsealed_hash_key()

    assert len(key) == 32 and key not in bytes(settings.hash_key)
    settings.project_id = other_project.pk
    with pytest.raises(Exception, match="another context"):
        settings.unsealed_hash_key()
