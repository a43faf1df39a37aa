"""Session routes of changes and validations (/api/v1/orgs/<org>/projects/<project>/changes|validations):
the permission matrix (the change pages' roles; denials change nothing), the promotion gate
(409 without ship, an admin's override audited, rollback), bad input with codes, organization
token scopes, and the validation report equal to the key route's."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from apps.core.roles import Role
from apps.experiments.models import Change, PromptLabel, Validation
from apps.governance.models import AuditEvent
from apps.organizations.models import TokenScope
from tests.conftest import client_for, key_client_for
from tests.factories.organizations import org_token_with_secret
from tests.factories.validations import change_for, experiment_pair

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "outsider", Role.MEMBER, Role.REVIEWER, Role.ADMIN, Role.OWNER]


def _base(project, what="changes") -> str:
    return f"/api/v1/orgs/{project.organization.slug}/projects/{project.pk}/{what}"


def _caller(role, members, outsider):
    if role == "anonymous":
        return client_for(None, api=True)
    return client_for(outsider if role == "outsider" else members[role].user, api=True)


def _send(client, method, url, body=None):
    if method == "get":
        return client.get(url)
    return client.post(url, data=json.dumps(body if body is not None else {}), content_type="application/json")


def _token(members, role, *scopes) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {org_token_with_secret(membership=members[role], scopes=list(scopes))[1]}")
    return client


def _validation(change, verdict: str, digest: str | None = None) -> Validation:
    return Validation.objects.create(project=change.project, change=change, kind="offline", inputs={"kind": "offline"},
                                     inputs_hash=digest or f"h-{verdict}", status="done", verdict=verdict,
                                     report={"metrics": [], "explanation": f"{verdict}."})


def _production(project) -> int:
    return PromptLabel.objects.for_project(project).get(name="production").version.number


def _state(project):
    return (sorted(Change.objects.for_project(project).values_list("pk", "title", "status")),
            sorted(Validation.objects.for_project(project).values_list("pk", "status")), _production(project),
            AuditEvent.objects.for_org(project.organization).count())


@pytest.fixture
def change(project):
    return change_for(project)


# (method, path under the project, body, expected status per role: anonymous, outsider, member, reviewer, admin, owner)
MATRIX = [
    ("get", "changes", None, [403, 404, 200, 200, 200, 200]),
    ("get", "changes/{c}", None, [403, 404, 200, 200, 200, 200]),
    ("post", "changes", {"title": "Another fix", "prompt": "support-agent", "candidate": 2}, [403, 404, 403, 201, 201, 201]),
    ("post", "changes/{c}/promote", {}, [403, 404, 403, 409, 409, 409]),
    ("post", "changes/{c}/promote", {"override_reason": "Legal asked"}, [403, 404, 403, 403, 200, 200]),
    ("post", "changes/{c}/rollback", None, [403, 404, 403, 409, 409, 409]),
    ("get", "validations", None, [403, 404, 200, 200, 200, 200]),
    ("get", "validations/{v}", None, [403, 404, 200, 200, 200, 200]),
    ("post", "validations", {"kind": "offline", "baseline": "{b}", "candidate": "{k}"}, [403, 404, 403, 202, 202, 202]),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p} {sorted(b or {})}" for m, p, b, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(project, members, outsider, change, method, path, body, expected, role):
    validation = _validation(change, "hold")
    baseline, candidate = experiment_pair(project)
    url = _base(project, path.format(c=change.pk, v=validation.pk))
    if body:
        body = {k: {"{b}": baseline.pk, "{k}": candidate.pk}.get(v, v) for k, v in body.items()}
    before = _state(project)

    response = _send(_caller(role, members, outsider), method, url, body)

    wanted = expected[ROLES.index(role)]
    assert response.status_code == wanted, response.content[:300]
    if wanted >= 400:
        assert _state(project) == before
    if wanted == 409:
        assert response.json()["code"] in {"not_validated", "not_promoted"}


def test_make_a_change_defaults_the_baseline_to_the_production_holder_and_reads_it_back(project, members):
    from tests.factories.experiments import prompt_with_versions
    from apps.problems.models import Problem

    prompt_with_versions(project=project, count=3, labels={"production": 2})
    problem = Problem.objects.create(project=project, title="Refunds are wrong", turn_count=3)
    client = client_for(members[Role.REVIEWER].user, api=True)

    made = _send(client, "post", _base(project), {"title": "Cite the policy", "prompt": "support-agent", "candidate": 3,
                                                  "problems": [problem.pk], "description": "Quote section 4."})
    read = client.get(f"{_base(project)}/{made.json()['id']}")

    assert made.status_code == 201
    body = read.json()
    assert (body["candidate"], body["baseline"], body["status"], body["label"]) == (3, 2, "open", "production")
    assert body["problems"] == [problem.pk]
    assert body["problem_details"] == [{"id": problem.pk, "title": "Refunds are wrong", "status": problem.status}]
    assert body["diff"] == [{"name": "template", "changed": True, "added": 1, "removed": 1},
                            {"name": "tools", "changed": False, "added": 0, "removed": 0},
                            {"name": "settings", "changed": False, "added": 0, "removed": 0}]
    assert (body["validations"], body["verdict_history"], body["latest_validation"]) == ([], [], None)
    event = AuditEvent.objects.for_org(project.organization).get(action="change.created")
    assert (event.actor_id, event.target_id) == (members[Role.REVIEWER].user.pk, str(body["id"]))


def test_the_list_is_paginated_and_filters_by_status_and_problem(project, members):
    from apps.problems.models import Problem

    problem = Problem.objects.create(project=project, title="Refunds", turn_count=1)
    first = change_for(project, problems=[problem.pk])
    second = Change.objects.create(project=project, title="Second", candidate=first.candidate, baseline=first.baseline,
                                   status="promoted")
    _validation(first, "inconclusive", "h1")
    latest = _validation(first, "ship", "h2")
    client = client_for(members[Role.MEMBER].user, api=True)

    page = client.get(_base(project) + "?limit=1").json()
    promoted = client.get(_base(project) + "?status=promoted").json()
    for_problem = client.get(_base(project) + f"?problem={problem.pk}").json()
    refused = client.get(_base(project) + "?status=shipped")

    assert (page["count"], [c["id"] for c in page["results"]]) == (2, [second.pk])
    assert page["next"] is not None
    assert [c["id"] for c in promoted["results"]] == [second.pk]
    assert [c["id"] for c in for_problem["results"]] == [first.pk]
    assert for_problem["results"][0]["latest_validation"] == {"id": latest.pk, "verdict": "ship"}
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (400, "invalid", "status")


def test_the_gate_refuses_without_ship_and_nothing_moves(project, members, change):
    _validation(change, "inconclusive")
    events = AuditEvent.objects.for_org(project.organization).count()

    response = _send(client_for(members[Role.ADMIN].user, api=True), "post", f"{_base(project)}/{change.pk}/promote")

    assert (response.status_code, response.json()["code"]) == (409, "not_validated")
    assert _production(project) == 1
    assert Change.objects.for_project(project).get(pk=change.pk).status == "open"
    assert AuditEvent.objects.for_org(project.organization).count() == events


def test_an_admin_override_is_audited_with_the_report_and_rollback_moves_the_label_back(project, members, change):
    _validation(change, "hold")
    client = client_for(members[Role.ADMIN].user, api=True)

    promoted = _send(client, "post", f"{_base(project)}/{change.pk}/promote", {"override_reason": "Legal asked for it"})
    after_promotion = _production(project)
    rolled = _send(client, "post", f"{_base(project)}/{change.pk}/rollback")
    again = _send(client, "post", f"{_base(project)}/{change.pk}/rollback")

    assert (promoted.status_code, promoted.json()["status"], after_promotion) == (200, "promoted", 2)
    assert promoted.json()["verdict_history"][0]["verdict"] == "hold"
    event = AuditEvent.objects.for_org(project.organization).get(action="change.promotion_overridden")
    assert (event.after["reason"], event.after["verdict"]) == ("Legal asked for it", "hold")
    assert event.after["report"] == {"metrics": [], "explanation": "hold."}
    assert (rolled.status_code, rolled.json()["status"], _production(project)) == (200, "rolled_back", 1)
    assert (again.status_code, again.json()["code"]) == (409, "not_promoted")
    assert AuditEvent.objects.for_org(project.organization).filter(action="change.rolled_back").count() == 1


def test_a_ship_verdict_lets_a_reviewer_promote(project, members, change):
    _validation(change, "ship")

    response = _send(client_for(members[Role.REVIEWER].user, api=True), "post", f"{_base(project)}/{change.pk}/promote")

    assert (response.status_code, response.json()["status"], _production(project)) == (200, "promoted", 2)
    assert AuditEvent.objects.for_org(project.organization).filter(action="change.promoted").count() == 1


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"title": "Fix", "prompt": "support-agent", "candidate": 9}, 404, "not_found", "candidate"),
    ({"title": "Fix", "prompt": "no-such-prompt", "candidate": 2}, 404, "not_found", "candidate"),
    ({"title": "Fix", "prompt": "support-agent", "candidate": 1}, 400, "same_arms", "candidate"),
    ({"title": "Fix", "prompt": "support-agent", "candidate": 2, "baseline": 2}, 400, "same_arms", "candidate"),
    ({"title": "Fix", "prompt": "support-agent", "candidate": 2, "problems": "{foreign}"}, 404, "not_found", "problems"),
    ({"title": "Fix", "prompt": "support-agent", "candidate": 2, "owner": "me"}, 400, "invalid", "owner"),
    ({"title": "", "prompt": "support-agent", "candidate": 2}, 400, "invalid", "title"),
    ({"title": "Fix\u2028it", "prompt": "support-agent", "candidate": 2}, 400, "invalid", "title"),
    ({"title": "Fix", "prompt": "support-agent", "candidate": "2"}, 404, "not_found", "candidate"),
    ([1, 2], 400, "invalid", None),
])
def test_bad_change_bodies_are_refused_with_a_code_and_write_nothing(project, other_project, members, change, body, status, code, field):
    from apps.problems.models import Problem

    if isinstance(body, dict) and body.get("problems") == "{foreign}":
        body["problems"] = [Problem.objects.create(project=other_project, title="Theirs", turn_count=1).pk]
    before = _state(project)

    response = _send(client_for(members[Role.REVIEWER].user, api=True), "post", _base(project), body)

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (status, code, field)
    assert _state(project) == before


def test_a_validation_is_started_once_and_reads_as_on_the_key_route(project, members, change):
    baseline, candidate = experiment_pair(project)
    client = client_for(members[Role.REVIEWER].user, api=True)
    body = {"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk, "change": change.pk}

    first, second = _send(client, "post", _base(project, "validations"), body), _send(client, "post", _base(project, "validations"), body)
    session = client.get(f"{_base(project, 'validations')}/{first.json()['id']}")
    key = key_client_for(project).get(f"/api/v1/validations/{first.json()['id']}")
    listed = client.get(_base(project, "validations") + f"?change={change.pk}&kind=offline").json()

    assert (first.status_code, second.status_code, second.json()["id"]) == (202, 202, first.json()["id"])
    assert first.json() == {"id": first.json()["id"], "status": "pending"}
    assert session.status_code == 200 and session.json() == key.json()
    assert session.json()["change"] == change.pk
    assert (listed["count"], listed["results"][0]["id"], listed["results"][0]["verdict"]) == (1, first.json()["id"], "running")
    assert client.get(f"{_base(project)}/{change.pk}").json()["validations"][0]["id"] == first.json()["id"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"kind": "offline", "baseline": 5, "candidate": 5}, 400, "same_arms"),
    ({"kind": "offline", "baseline": "{foreign}", "candidate": "{own}"}, 404, "not_found"),
    ({"kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"},
      "target": {"signal": "thumbs_down", "direction": "decrease"}, "alpha": 0.9}, 400, "invalid_alpha"),
    ({"kind": "offline", "baseline": "{own}", "candidate": "{own2}", "change": "{foreign_change}"}, 404, "not_found"),
    ("text", 400, "invalid"),
])
def test_bad_validation_bodies_are_refused_with_a_code(project, other_project, members, body, status, code):
    own, own2 = experiment_pair(project)
    foreign, _ = experiment_pair(other_project)
    values = {"{own}": own.pk, "{own2}": own2.pk, "{foreign}": foreign.pk,
              "{foreign_change}": change_for(other_project).pk}
    if isinstance(body, dict):
        body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}

    response = _send(client_for(members[Role.REVIEWER].user, api=True), "post", _base(project, "validations"), body)

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert Validation.objects.for_project(project).count() == 0


def test_another_projects_change_and_validation_are_404(project, other_project, members):
    foreign = change_for(other_project)
    validation = _validation(foreign, "ship")
    client = client_for(members[Role.OWNER].user, api=True)

    answers = [client.get(f"{_base(project)}/{foreign.pk}"), _send(client, "post", f"{_base(project)}/{foreign.pk}/promote"),
               client.get(f"{_base(project, 'validations')}/{validation.pk}"), client.get(f"{_base(project)}/99999999999999999999")]

    assert [(r.status_code, r.json()["code"]) for r in answers[:3]] == [(404, "not_found")] * 3
    assert answers[3].status_code == 404
    assert Change.objects.for_project(other_project).get(pk=foreign.pk).status == "open"


def test_organization_token_scopes(project, members, change):
    baseline, candidate = experiment_pair(project)
    _validation(change, "hold")
    read = _token(members, Role.OWNER, TokenScope.READ)
    datasets = _token(members, Role.OWNER, TokenScope.DATASETS)
    review = _token(members, Role.OWNER, TokenScope.REVIEW)
    reviewer_admin = _token(members, Role.REVIEWER, TokenScope.ADMIN)
    admin = _token(members, Role.ADMIN, TokenScope.ADMIN)
    change_body = {"title": "By token", "prompt": "support-agent", "candidate": 2}
    validation_body = {"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk}
    promote = f"{_base(project)}/{change.pk}/promote"

    reads = [read.get(_base(project)).status_code, read.get(f"{_base(project)}/{change.pk}").status_code,
             read.get(_base(project, "validations")).status_code]
    read_writes = _send(read, "post", _base(project), change_body)
    review_makes = _send(review, "post", _base(project, "validations"), validation_body)
    datasets_makes = [_send(datasets, "post", _base(project), change_body).status_code,
                      _send(datasets, "post", _base(project, "validations"), validation_body).status_code]
    datasets_promotes = _send(datasets, "post", promote)
    review_promotes = _send(review, "post", promote)
    review_overrides = _send(review, "post", promote, {"override_reason": "Ship it"})
    reviewer_overrides = _send(reviewer_admin, "post", promote, {"override_reason": "Ship it"})
    production_before_admin = _production(project)
    admin_overrides = _send(admin, "post", promote, {"override_reason": "Ship it"})

    assert reads == [200, 200, 200]
    assert (read_writes.status_code, read_writes.json()["code"]) == (403, "token_scope")
    assert (review_makes.status_code, review_makes.json()["code"]) == (403, "token_scope")
    assert datasets_makes == [201, 202]
    assert (datasets_promotes.status_code, datasets_promotes.json()["code"]) == (403, "token_scope")
    assert (review_promotes.status_code, review_promotes.json()["code"]) == (409, "not_validated")
    assert (review_overrides.status_code, review_overrides.json()["code"]) == (403, "token_scope")
    assert (reviewer_overrides.status_code, reviewer_overrides.json()["code"]) == (403, "permission_denied")
    assert production_before_admin == 1
    assert (admin_overrides.status_code, _production(project)) == (200, 2)
    event = AuditEvent.objects.for_org(project.organization).get(action="change.promotion_overridden")
    assert event.actor_id == members[Role.ADMIN].user.pk
    assert event.via.startswith("token:")


@pytest.mark.django_db(transaction=True)
def test_the_demos_change_reads_through_the_session_api(project, members):
    from apps.core.audit import SYSTEM
    from apps.demo.prompts import seed_prompts_demo
    from apps.demo.validations import seed_validations_demo
    from apps.problems.models import Problem

    seed_prompts_demo(project=project, actor=SYSTEM)
    top = Problem.all_tenants.create(project=project, title="Refund failures", turn_count=3, pain=9.0)
    seed_validations_demo(project=project)
    client = _token(members, Role.MEMBER, TokenScope.READ)

    listed = client.get(_base(project) + "?status=promoted").json()
    detail = client.get(f"{_base(project)}/{listed['results'][0]['id']}").json()
    reports = [client.get(f"{_base(project, 'validations')}/{v['id']}").json() for v in detail["validations"]]

    assert listed["count"] == 1
    assert [p["id"] for p in detail["problem_details"]] == [top.pk]
    assert sorted(v["verdict"] for v in detail["validations"]) == ["running", "ship"]
    assert [r["signal"] for r in detail["regressions"] if not r["resolved"]] == ["escalation"]
    assert sorted((r["kind"], r["verdict"]) for r in reports) == [("online", "running"), ("online", "ship")]
    assert all(r["change"] == detail["id"] and r["metrics"] for r in reports)
    assert any(section["changed"] for section in detail["diff"])
