"""The session API under /api/v1/orgs/<org>/projects/<project>/prompts: the permission matrix,
label moves and rollbacks audited with before/after, protection, diff, immutability."""

from __future__ import annotations

import json

import pytest

from apps.core.roles import Role
from apps.experiments.models import PromptLabel, PromptLabelMove, PromptVersion
from apps.governance.models import AuditEvent
from tests.conftest import client_for
from tests.factories.experiments import prompt_with_versions

ROLES = ["anonymous", "outsider", Role.MEMBER, Role.REVIEWER, Role.ADMIN, Role.OWNER]


def _base(project) -> str:
    return f"/api/v1/orgs/{project.organization.slug}/projects/{project.pk}/prompts"


def _caller(role, members, outsider):
    if role == "anonymous":
        return client_for(None, api=True)
    if role == "outsider":
        return client_for(outsider, api=True)
    return client_for(members[role].user, api=True)


def _send(client, method, url, body=None):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, data=json.dumps(body or {}), content_type="application/json")


def _state(project) -> dict:
    return {
        "versions": sorted(PromptVersion.objects.for_project(project).values_list("prompt__name", "number")),
        "labels": sorted(PromptLabel.objects.for_project(project).values_list("name", "version__number", "protected")),
        "moves": PromptLabelMove.objects.for_project(project).count(),
    }


@pytest.fixture
def prompt(project):
    prompt = prompt_with_versions(project=project, count=3, labels={"production": 2, "staging": 3})
    PromptLabel.objects.for_project(project).filter(prompt=prompt, name="production").update(protected=True)
    return prompt


# (method, path under the prompt list, body, expected status per role: anonymous, outsider, member, reviewer, admin, owner)
MATRIX = [
    ("get", "", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/support-agent", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/support-agent/versions", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/support-agent/versions/2", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/support-agent/versions/2/traffic", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/support-agent/labels", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/support-agent/labels/production", None, [403, 404, 200, 200, 200, 200]),
    ("get", "/support-agent/diff?from=1&to=3", None, [403, 404, 200, 200, 200, 200]),
    ("post", "", {"name": "fresh", "template": "Hi"}, [403, 404, 403, 201, 201, 201]),
    ("post", "/support-agent/versions", {"template": "v4"}, [403, 404, 403, 201, 201, 201]),
    ("put", "/support-agent/labels/staging", {"version": 1}, [403, 404, 403, 200, 200, 200]),
    ("put", "/support-agent/labels/production", {"version": 3}, [403, 404, 403, 403, 200, 200]),
    ("post", "/support-agent/labels/staging/rollback", None, [403, 404, 403, 409, 409, 409]),
    ("put", "/support-agent/labels/staging/protection", {"protected": True}, [403, 404, 403, 403, 200, 200]),
    ("patch", "/support-agent/versions/2", {"template": "edit"}, [403, 404, 409, 409, 409, 409]),
    ("delete", "/support-agent/versions/2", None, [403, 404, 409, 409, 409, 409]),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p or '/'}" for m, p, _, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(project, members, outsider, prompt, method, path, body, expected, role):
    client = _caller(role, members, outsider)
    before = _state(project)

    response = _send(client, method, _base(project) + path, body)

    wanted = expected[ROLES.index(role)]
    assert response.status_code == wanted, response.content[:300]
    if wanted >= 400:
        assert _state(project) == before
    if method in ("patch", "delete") and wanted == 409:
        assert response.json()["code"] == "version_immutable"
    if path.endswith("/production") and method == "put" and wanted == 403 and role == Role.REVIEWER:
        assert response.json()["code"] == "label_protected"


def test_move_and_rollback_are_audited_with_before_and_after_and_kept_in_history(project, members, prompt):
    admin = client_for(members[Role.ADMIN].user, api=True)

    deploy = _send(admin, "put", f"{_base(project)}/support-agent/labels/production", {"version": 3})
    detail = admin.get(f"{_base(project)}/support-agent/labels/production").json()
    rollback = _send(admin, "post", f"{_base(project)}/support-agent/labels/production/rollback")

    assert deploy.json() == {"name": "support-agent", "label": "production", "version": 3, "previous_version": 2,
                             "protected": True, "kind": "deploy"}
    assert detail["rollback_to"] == 2
    assert rollback.json() == {"name": "support-agent", "label": "production", "version": 2, "previous_version": 3,
                               "protected": True, "kind": "rollback"}
    events = AuditEvent.objects.for_org(project.organization).filter(action="prompt.label_moved", actor=members[Role.ADMIN].user)
    assert [(e.before, e.after) for e in events.order_by("id")] == [
        ({"label": "production", "version": 2}, {"label": "production", "version": 3, "kind": "deploy"}),
        ({"label": "production", "version": 3}, {"label": "production", "version": 2, "kind": "rollback"}),
    ]
    history = admin.get(f"{_base(project)}/support-agent/labels/production").json()["history"]
    assert [(h["kind"], h["from_version"], h["to_version"], h["actor"]) for h in history] == [
        ("rollback", 3, 2, "admin@acme.test"), ("deploy", 2, 3, "admin@acme.test"), ("create", None, 2, "tests"),
    ]


def test_protection_is_audited(project, members, prompt):
    admin = client_for(members[Role.ADMIN].user, api=True)

    response = _send(admin, "put", f"{_base(project)}/support-agent/labels/staging/protection", {"protected": True})

    assert (response.status_code, response.json()["protected"]) == (200, True)
    event = AuditEvent.objects.for_org(project.organization).get(action="prompt.label_protection")
    assert (event.before, event.after) == ({"label": "staging", "protected": False}, {"label": "staging", "protected": True})


def test_a_label_cannot_point_at_a_version_of_another_prompt_or_project(project, other_project, members, prompt):
    prompt_with_versions(project=project, name="other", count=7)
    prompt_with_versions(project=other_project, name="support-agent", count=9)
    admin = client_for(members[Role.ADMIN].user, api=True)
    before = _state(project)

    response = _send(admin, "put", f"{_base(project)}/support-agent/labels/staging", {"version": 7})

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert _state(project) == before


def test_diff_shows_template_tools_and_settings_changes(project, members, prompt):
    client = client_for(members[Role.MEMBER].user, api=True)

    body = client.get(f"{_base(project)}/support-agent/diff?from=1&to=2").json()

    assert (body["from_version"], body["to_version"]) == (1, 2)
    template, tools, settings = body["sections"]
    assert (template["name"], template["changed"], tools["changed"], settings["changed"]) == ("template", True, False, False)
    assert template["unified"][2:] == ["@@ -1 +1 @@", "-Version 1: help with {{question}}.", "+Version 2: help with {{question}}."]


@pytest.mark.parametrize(("query", "status", "pair"), [
    ("", 200, (2, 3)), ("?to=2", 200, (1, 2)), ("?from=1", 200, (1, 3)), ("?from=a&to=2", 400, None), ("?from=1&to=99", 404, None),
])
def test_diff_defaults_and_refusals(project, members, prompt, query, status, pair):
    client = client_for(members[Role.MEMBER].user, api=True)

    response = client.get(f"{_base(project)}/support-agent/diff{query}")

    assert response.status_code == status
    if pair:
        assert (response.json()["from_version"], response.json()["to_version"]) == pair


def test_creating_a_prompt_with_a_taken_name_is_409(project, members, prompt):
    client = client_for(members[Role.REVIEWER].user, api=True)

    response = _send(client, "post", _base(project), {"name": "support-agent", "template": "x"})

    assert (response.status_code, response.json()["code"]) == (409, "name_taken")
    assert PromptVersion.objects.for_project(project).count() == 3


def test_invalid_tools_through_the_session_api(project, members, prompt):
    client = client_for(members[Role.REVIEWER].user, api=True)

    response = _send(client, "post", f"{_base(project)}/support-agent/versions",
                     {"template": "x", "tools": [{"name": "t", "parameters": {"type": 12}}]})

    assert (response.status_code, response.json()["code"]) == (400, "invalid_tools")
    assert PromptVersion.objects.for_project(project).count() == 3
