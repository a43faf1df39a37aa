"""The audit log: one row per admin action, admins read it, and nobody can rewrite it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from apps.core.roles import Role
from apps.detection.models import DetectionRule
from apps.detection.services.settings import detection_rule_create
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.core.audit import Actor
from apps.governance.services import audit_record
from apps.organizations.models import Invitation
from apps.organizations.tokens import org_token_create
from apps.projects.models import ApiKey, Project
from apps.review.models import DEFAULT_TAXONOMY, ReviewItem, ReviewQueue
from apps.review.services.queues import review_queue_assign, review_queue_create
from tests.factories.accounts import UserFactory
from tests.factories.organizations import InvitationFactory, MembershipFactory
from tests.factories.projects import ApiKeyFactory
from tests.organizations.matrix import (
    AUTH_MODES,
    ANONYMOUS,
    OUTSIDER,
    assert_api_refused,
    assert_html_refused,
    audit_count,
    caller,
)

IP = "203.0.113.7"

READ_LOG = [
    (ANONYMOUS, "refused", False),
    (OUTSIDER, "refused", False),
    (Role.MEMBER, "refused", False),
    (Role.REVIEWER, "refused", False),
    (Role.ADMIN, 200, True),
    (Role.OWNER, 200, True),
]


@pytest.fixture
def logged(organization, members):
    """Three events by two actors, oldest first."""
    owner, admin = members[Role.OWNER].user, members[Role.ADMIN].user
    return [
        audit_record(organization=organization, actor=Actor(user=owner), action=AuditAction.PROJECT_CREATED,
                     target_type="project", target_id="p1", target_label="One"),
        audit_record(organization=organization, actor=Actor(user=admin), action=AuditAction.PROJECT_CREATED,
                     target_type="project", target_id="p2", target_label="Two"),
        audit_record(organization=organization, actor=Actor(user=admin), action=AuditAction.RETENTION_CHANGED,
                     target_type="organization", target_id="acme", target_label="Acme",
                     before={"retention_days": 30}, after={"retention_days": 60}),
    ]


# --- who may read it ----------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status", "allowed"), READ_LOG)
def test_html_audit_log_page(role, status, allowed, logged, members, outsider):
    client = caller(role, members=members, outsider=outsider)

    response = client.get("/orgs/acme/audit/")

    if allowed:
        assert response.status_code == status
        assert [e.target_id for e in response.context["events"]] == ["acme", "p2", "p1"]
    else:
        assert_html_refused(response, role, "/orgs/acme/audit/")


@pytest.mark.parametrize(("role", "status", "allowed"), READ_LOG)
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_api_audit_events(auth, role, status, allowed, logged, members, outsider):
    client = caller(role, members=members, outsider=outsider, api=True, auth=auth)

    response = client.get("/api/v1/orgs/acme/audit-events/")

    if allowed:
        assert response.status_code == status
        assert [e["target_id"] for e in response.json()["results"]] == ["acme", "p2", "p1"]
    else:
        assert_api_refused(response, role)


# --- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by_actor", "action", "expected"),
    [
        (None, "", ["acme", "p2", "p1"]),
        (Role.ADMIN, "", ["acme", "p2"]),
        (Role.OWNER, "", ["p1"]),
        (None, "project.created", ["p2", "p1"]),
        (Role.ADMIN, "project.created", ["p2"]),
        (Role.OWNER, "retention.changed", []),
    ],
)
def test_html_audit_log_filters_by_actor_and_action(by_actor, action, expected, logged, members, login):
    client = login(members[Role.ADMIN].user)
    query = {"action": action, "actor": str(members[by_actor].user.pk) if by_actor else ""}

    response = client.get("/orgs/acme/audit/", query)

    assert response.status_code == 200
    assert [e.target_id for e in response.context["events"]] == expected


@pytest.mark.parametrize(
    ("by_actor", "action", "expected"),
    [
        (Role.ADMIN, None, ["acme", "p2"]),
        (None, "project.created", ["p2", "p1"]),
        (Role.ADMIN, "retention.changed", ["acme"]),
    ],
)
def test_api_audit_events_filter_by_actor_and_action(by_actor, action, expected, logged, members, login):
    client = login(members[Role.ADMIN].user, api=True)
    query = {key: value for key, value in {
        "actor": members[by_actor].user.pk if by_actor else None, "action": action,
    }.items() if value is not None}

    response = client.get("/api/v1/orgs/acme/audit-events/", query)

    assert response.status_code == 200
    assert [e["target_id"] for e in response.json()["results"]] == expected


def test_html_audit_log_lists_the_actors_to_filter_by(logged, members, login):
    response = login(members[Role.ADMIN].user).get("/orgs/acme/audit/")

    assert response.context["filter_form"].fields["actor"].choices == [
        ("", "Anyone"),
        (members[Role.ADMIN].user.pk, "admin@acme.test"),
        (members[Role.OWNER].user.pk, "owner@acme.test"),
    ]


@pytest.mark.parametrize(("query", "field"), [({"action": "nope"}, "action"), ({"actor": "abc"}, "actor")])
def test_api_audit_events_reject_a_bad_filter(query, field, logged, members, login):
    response = login(members[Role.ADMIN].user, api=True).get("/api/v1/orgs/acme/audit-events/", query)

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "invalid", field)


# --- one row per admin action -------------------------------------------------------------------


def _run(case, *, organization, project, members, login):
    """Perform one admin action as the admin (or the invitee) from IP; return the expected row."""
    admin = members[Role.ADMIN].user
    html, api = login(admin), login(admin, api=True)
    target = MembershipFactory(organization=organization, role=Role.MEMBER, user__email="target@acme.test")
    invitation = InvitationFactory(organization=organization, email="invitee@example.test", token="audit-token")
    api_key = ApiKeyFactory(project=project, name="prod")
    audits = audit_count()
    p = f"/orgs/acme/projects/{project.pk}"
    a = f"/api/v1/orgs/acme/projects/{project.pk}"

    if case == "organization.renamed":
        api.patch("/api/v1/orgs/acme", {"name": "Acme Inc"}, format="json", REMOTE_ADDR=IP)
        expected = ("organization", "acme", "Acme Inc", {"name": "Acme"}, {"name": "Acme Inc"})
    elif case == "retention.changed":
        html.post("/orgs/acme/settings/", {"name": "Acme", "retention_days": "90", "confirm_retention": "90"}, REMOTE_ADDR=IP)
        expected = ("organization", "acme", "Acme", {"retention_days": 30}, {"retention_days": 90})
    elif case == "member.invited":
        html.post("/orgs/acme/members/", {"email": "new@example.test", "role": "reviewer"}, REMOTE_ADDR=IP)
        created = Invitation.objects.for_org(organization).get(email="new@example.test")
        expected = ("invitation", str(created.pk), "new@example.test", None,
                    {"email": "new@example.test", "role": "reviewer"})
    elif case == "invitation.revoked":
        api.delete(f"/api/v1/orgs/acme/invitations/{invitation.pk}/", REMOTE_ADDR=IP)
        expected = ("invitation", str(invitation.pk), "invitee@example.test",
                    {"status": "pending", "role": "member"}, {"status": "revoked"})
    elif case == "invitation.accepted":
        invitee = UserFactory(email="invitee@example.test")
        login(invitee).post("/invitations/audit-token/", REMOTE_ADDR=IP)
        created = invitee.memberships.get()
        expected = ("member", str(created.pk), "invitee@example.test", None, {"role": "member"})
        admin = invitee
    elif case == "member.role_changed":
        html.post(f"/orgs/acme/members/{target.pk}/role/", {"role": "admin"}, REMOTE_ADDR=IP)
        expected = ("member", str(target.pk), "target@acme.test", {"role": "member"}, {"role": "admin"})
    elif case == "member.removed":
        api.delete(f"/api/v1/orgs/acme/members/{target.pk}/", REMOTE_ADDR=IP)
        expected = ("member", str(target.pk), "target@acme.test", {"role": "member"}, None)
    elif case == "project.created":
        html.post("/orgs/acme/projects/new/", {"name": "Billing bot"}, REMOTE_ADDR=IP)
        created = Project.objects.for_org(organization).get(name="Billing bot")
        expected = ("project", str(created.pk), "Billing bot", None, {"name": "Billing bot"})
    elif case == "project.renamed":
        api.patch(f"{a}/", {"name": "Helpdesk"}, format="json", REMOTE_ADDR=IP)
        expected = ("project", str(project.pk), "Helpdesk", {"name": "Support agent"}, {"name": "Helpdesk"})
    elif case == "project.deleted":
        html.post(f"{p}/delete/", {"confirm_name": "Support agent"}, REMOTE_ADDR=IP)
        expected = ("project", str(project.pk), "Support agent", {"name": "Support agent"}, None)
    elif case == "project.access_changed":
        api.put(f"{a}/access", {"is_restricted": True, "member_ids": [target.pk]}, format="json", REMOTE_ADDR=IP)
        expected = ("project", str(project.pk), "Support agent", {"is_restricted": False, "user_ids": []},
                    {"is_restricted": True, "user_ids": [target.user_id]})
    elif case == "api_key.created":
        response = api.post(f"{a}/keys/", {"name": "staging"}, format="json", REMOTE_ADDR=IP)
        expected = ("api_key", response.json()["key_id"], "staging (Support agent)", None,
                    {"name": "staging", "project": str(project.pk)})
    elif case == "api_key.revoked":
        html.post(f"{p}/keys/{api_key.key_id}/revoke/", REMOTE_ADDR=IP)
        expected = ("api_key", api_key.key_id, "prod (Support agent)", {"is_active": True}, {"is_active": False})
    elif case == "org_token.created":
        response = api.post("/api/v1/orgs/acme/tokens/", {"name": "ci", "scopes": ["review", "read"]}, format="json",
                            REMOTE_ADDR=IP)
        expected = ("org_token", response.json()["token_id"], "ci", None,
                    {"name": "ci", "scopes": ["read", "review"], "acts_as": "admin@acme.test"})
    elif case == "org_token.revoked":
        token, _ = org_token_create(organization=organization, acting=members[Role.ADMIN], name="ci", scopes=["read"],
                                    actor=Actor(user=admin))
        audits = audit_count()
        html.post(f"/orgs/acme/settings/tokens/{token.token_id}/revoke/", REMOTE_ADDR=IP)
        expected = ("org_token", token.token_id, "ci", {"is_active": True}, {"is_active": False, "reason": "revoked"})
    elif case == "detector.changed":
        html.post(f"{p}/detectors/", {"action": "detector", "detector": "low_confidence", "param_threshold": "0.7"},
                  REMOTE_ADDR=IP)
        expected = ("detector", f"{project.pk}:low_confidence", "Support agent · low_confidence",
                    {"enabled": True, "params": {}}, {"enabled": False, "params": {"threshold": 0.7}})
    elif case == "rule.created":
        html.post(f"{p}/detectors/", {"action": "rule_create", "name": "vip", "signal_kind": "vip_unhappy",
                                      "expression": "metadata.plan == \"enterprise\""}, REMOTE_ADDR=IP)
        created = DetectionRule.objects.for_project(project).get(name="vip")
        expected = ("detection_rule", str(created.pk), "vip", None,
                    {"expression": 'metadata.plan == "enterprise"', "signal_kind": "vip_unhappy"})
    elif case == "rule.deleted":
        rule = detection_rule_create(project=project, name="vip", expression="signals.thumbs_down",
                                     signal_kind="vip_unhappy", actor=Actor(user=None))
        audits = audit_count()
        html.post(f"{p}/detectors/", {"action": "rule_delete", "rule": str(rule.pk)}, REMOTE_ADDR=IP)
        expected = ("detection_rule", str(rule.pk), "vip",
                    {"expression": "signals.thumbs_down", "signal_kind": "vip_unhappy"}, None)
    elif case == "redaction.changed":
        body = {"kinds": ["email"], "placeholder_style": "keyed", "patterns": [{"name": "invoice", "regex": "INV-[0-9]{6}"}]}
        api.put(f"{a}/redaction", body, format="json", REMOTE_ADDR=IP)
        expected = ("project", str(project.pk), "Support agent", {"kinds": [], "placeholder_style": "plain", "patterns": []}, body)
    elif case.startswith(("queue.", "review.", "taxonomy.")):
        audits, expected = _run_review(case, project=project, html=html, target=target, p=p)
    elif case.startswith("problem."):
        expected = _run_problem(case, project=project, html=html, api=api, p=p, a=a)
    elif case.startswith("prompt."):
        audits, expected = _run_prompt(case, project=project, html=html, api=api, p=p, a=a)
    elif case.startswith("dataset."):
        audits, expected = _run_dataset(case, project=project, html=html, api=api, p=p, a=a)
    else:  # pragma: no cover - the parametrize list and this switch must agree
        raise AssertionError(case)
    return audits, (admin.pk, admin.email, case, *expected, IP, organization.pk)


def _run_dataset(case, *, project, html, api, p, a):
    """Dataset actions: create, rename, a queue's auto-add rule (API), an import (pages)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.datasets.models import Dataset, DatasetImport
    from apps.datasets.services.datasets import dataset_create
    from apps.review.models import ReviewQueue

    if case == "dataset.created":
        audits = audit_count()
        response = api.post(f"{a}/datasets/", {"name": "Smoke", "description": "CI smoke set"}, format="json", REMOTE_ADDR=IP)
        return audits, ("dataset", str(response.json()["id"]), "Smoke", None, {"name": "Smoke", "description": "CI smoke set"})
    dataset = dataset_create(project=project, name="Smoke", actor=Actor(user=None))
    queue = ReviewQueue.objects.for_project(project).create(project=project, name="Triage")
    audits = audit_count()
    if case == "dataset.updated":
        api.patch(f"{a}/datasets/{dataset.pk}/", {"name": "Regression"}, format="json", REMOTE_ADDR=IP)
        return audits, ("dataset", str(dataset.pk), "Regression", {"name": "Smoke"}, {"name": "Regression"})
    if case == "dataset.auto_add":
        api.put(f"{a}/datasets/{dataset.pk}/auto-add/", {"queue": queue.pk, "split": "regression"}, format="json", REMOTE_ADDR=IP)
        return audits, ("review_queue", str(queue.pk), "Triage", None, {"dataset": dataset.pk, "split": "regression"})
    # dataset.imported
    upload = SimpleUploadedFile("cases.jsonl", b'{"input": "q1"}\n{"input": ""}\n{"input": "q2"}\n')
    html.post(f"{p}/datasets/{dataset.pk}/import/", {"file": upload}, REMOTE_ADDR=IP)
    record = DatasetImport.objects.for_project(project).get(dataset=dataset)
    html.post(f"{p}/datasets/{dataset.pk}/imports/{record.pk}/", {"action": "confirm"}, REMOTE_ADDR=IP)
    assert Dataset.objects.for_project(project).get(pk=dataset.pk).cases_count == 2
    return audits, ("dataset", str(dataset.pk), "Smoke", None,
                    {"file": "cases.jsonl", "rows": 3, "imported": 2, "errors": 1, "version": 1})


def _run_problem(case, *, project, html, api, p, a):
    """Backlog actions: the reviewer's changes through the problem page and the API."""
    from apps.problems.models import Problem, ProblemTurn

    cause = "tool `refund` failed in 60% of these turns (vs 2% of all turns)"
    refunds = Problem.objects.for_project(project).create(
        project=project, title="Refund questions", cause=cause, cause_key="tool:refund", cause_state="proposed", turn_count=2,
    )
    passwords = Problem.objects.for_project(project).create(project=project, title="Password resets", turn_count=1)
    turn_ids = ["6b1f3a52-54d8-4f6a-9a67-9b2d8a7b1c01", "6b1f3a52-54d8-4f6a-9a67-9b2d8a7b1c02", "6b1f3a52-54d8-4f6a-9a67-9b2d8a7b1c03"]
    for problem, turn_id in ((refunds, turn_ids[0]), (refunds, turn_ids[1]), (passwords, turn_ids[2])):
        ProblemTurn.objects.for_project(project).create(
            project=project, problem=problem, turn_id=turn_id, turn_created_at="2026-01-05T10:00:00Z", affected_key=turn_id,
        )
    if case == "problem.updated":
        api.patch(f"{a}/problems/{refunds.pk}/", {"status": "fixing"}, format="json", REMOTE_ADDR=IP)
        return ("problem", str(refunds.pk), "Refund questions", {"status": "open"}, {"status": "fixing"})
    if case == "problem.cause_reviewed":
        html.post(f"{p}/problems/{refunds.pk}/cause/", {"verdict": "confirm"}, REMOTE_ADDR=IP)
        return ("problem", str(refunds.pk), "Refund questions", {"cause": cause, "cause_state": "proposed"},
                {"cause": cause, "cause_state": "confirmed"})
    if case == "problem.merged":
        api.post(f"{a}/problems/{passwords.pk}/merge/", {"into": refunds.pk}, format="json", REMOTE_ADDR=IP)
        return ("problem", str(passwords.pk), "Password resets", {"status": "open", "turns": 1},
                {"status": "merged", "merged_into": refunds.pk, "merged_into_title": "Refund questions", "moved_turns": 1})
    # problem.split
    html.post(f"{p}/problems/{refunds.pk}/split/", {"turn_ids": [turn_ids[0]], "title": "Old orders"}, REMOTE_ADDR=IP)
    new = Problem.objects.for_project(project).get(title="Old orders")
    return ("problem", str(refunds.pk), "Refund questions", None,
            {"new_problem": new.pk, "title": "Old orders", "turns": 1, "turn_ids": [turn_ids[0]]})


def _run_prompt(case, *, project, html, api, p, a):
    """Prompt actions: a new version from the prompt page, a deploy through the API, protection."""
    from tests.factories.experiments import prompt_with_versions

    prompt = prompt_with_versions(project=project, count=2, labels={"production": 1})
    audits = audit_count()
    if case == "prompt.version_created":
        html.post(f"{p}/prompts/support-agent/versions/", {"template": "v3 {{question}}", "message": "third"}, REMOTE_ADDR=IP)
        return audits, ("prompt", str(prompt.pk), "support-agent@3", None, {"version": 3, "message": "third"})
    if case == "prompt.label_moved":
        api.put(f"{a}/prompts/support-agent/labels/production", {"version": 2}, format="json", REMOTE_ADDR=IP)
        return audits, ("prompt", str(prompt.pk), "support-agent:production", {"label": "production", "version": 1},
                        {"label": "production", "version": 2, "kind": "deploy"})
    # prompt.label_protection
    html.post(f"{p}/prompts/support-agent/labels/production/protection/", {"protected": "on"}, REMOTE_ADDR=IP)
    return audits, ("prompt", str(prompt.pk), "support-agent:production", {"label": "production", "protected": False},
                    {"label": "production", "protected": True})


def _run_review(case, *, project, html, target, p):
    """Review queue actions from the queue pages (the admin also works queues)."""
    routing = {"signal_kinds": ["thumbs_down"], "any_turn": False, "priority": 2, "sample_percent": 100}
    state = {"name": "Triage", "description": "", "lease_seconds": 600, "routing": routing,
             "escalate_to": None, "reviewers_per_item": 1, "blind": False}
    form = {"name": "Triage", "lease_seconds": "600", "signal_kinds": "thumbs_down", "priority": "2",
            "sample_percent": "100"}
    if case == "taxonomy.changed":
        html.post(f"{p}/taxonomy/", {"categories": "billing: Wrong amounts\ntone"}, REMOTE_ADDR=IP)
        return audit_count() - 1, ("taxonomy", str(project.pk), "Support agent", {"categories": DEFAULT_TAXONOMY},
                                   {"categories": [{"name": "billing", "description": "Wrong amounts"},
                                                   {"name": "tone", "description": ""}]})
    if case == "queue.created":
        html.post(f"{p}/queues/", form, REMOTE_ADDR=IP)
        queue = ReviewQueue.objects.for_project(project).get(name="Triage")
        return audit_count() - 1, ("review_queue", str(queue.pk), "Triage", None, state)
    queue = review_queue_create(project=project, actor=Actor(user=None), name="Triage", routing=routing)
    audits = audit_count()
    url = f"{p}/queues/{queue.pk}/"
    if case == "queue.updated":
        html.post(url, {**form, "lease_seconds": "300"}, REMOTE_ADDR=IP)
        return audits, ("review_queue", str(queue.pk), "Triage", state, {**state, "lease_seconds": 300})
    if case == "queue.deleted":
        html.post(url, {"delete": "1"}, REMOTE_ADDR=IP)
        return audits, ("review_queue", str(queue.pk), "Triage", state, None)
    if case == "queue.assigned":
        html.post(url, {**form, "member_ids": [target.pk]}, REMOTE_ADDR=IP)
        return audits, ("review_queue", str(queue.pk), "Triage", None, {"user": "target@acme.test"})
    if case == "queue.unassigned":
        html.post(url, {**form, "member_ids": [target.pk]}, REMOTE_ADDR=IP)
        audits = audit_count()
        html.post(url, form, REMOTE_ADDR=IP)
        return audits, ("review_queue", str(queue.pk), "Triage", {"user": "target@acme.test"}, None)
    if case == "review.assigned":
        target.role = Role.REVIEWER
        target.save(update_fields=["role"])
        review_queue_assign(queue=queue, membership=target, actor=Actor(user=None))
        item = ReviewItem.objects.create(project=project, queue=queue, turn_id="6b1f3a52-54d8-4f6a-9a67-9b2d8a7b1c02")
        audits = audit_count()
        html.post(f"{url}items/{item.pk}/assign/", {"member": target.pk}, REMOTE_ADDR=IP)
        return audits, ("review_item", str(item.pk), f"Triage: turn {item.turn_id}",
                        {"assigned_to": None, "state": "pending"}, {"assigned_to": "target@acme.test", "state": "pending"})
    # review.decided
    item = ReviewItem.objects.create(project=project, queue=queue, turn_id="6b1f3a52-54d8-4f6a-9a67-9b2d8a7b1c01")
    html.get(f"{url}review/", REMOTE_ADDR=IP)
    html.post(f"{url}review/", {"item": item.pk, "verdict": "reject"}, REMOTE_ADDR=IP)
    return audits, ("review_item", str(item.pk), f"Triage: turn {item.turn_id}", None,
                    {"verdict": "reject", "category": "", "turn_id": str(item.turn_id), "queue": queue.pk})


# Change actions write two rows by design (a promotion or rollback is also a label move, audited as
# prompt.label_moved): tests/experiments/test_changes.py checks their rows. End-user exports and
# deletions record a keyed hash and one row per project: tests/governance/test_end_users*.py check them.
MATRIX_ACTIONS = [value for value in AuditAction.values if value != "organization.created"
                  and not value.startswith(("change.", "end_user."))]


@pytest.mark.parametrize("case", MATRIX_ACTIONS)
def test_every_admin_action_writes_exactly_one_complete_audit_row(case, organization, project, members, login):
    audits, expected = _run(case, organization=organization, project=project, members=members, login=login)

    rows = list(
        AuditEvent.all_tenants.order_by("-id")[: audit_count() - audits].values_list(
            "actor_id", "actor_email", "action", "target_type", "target_id", "target_label",
            "before", "after", "ip_address", "organization_id",
        )
    )
    assert rows == [expected]


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "/orgs/acme/settings/", {"name": "Acme", "retention_days": "30"}),
        ("patch", "/api/v1/orgs/acme", {"name": "Acme", "retention_days": 30}),
        ("patch", "/api/v1/orgs/acme/members/{member}/", {"role": "member"}),
        ("patch", "/api/v1/orgs/acme/projects/{project}/", {"name": "Support agent"}),
    ],
)
def test_a_change_to_the_same_value_writes_no_audit_row(method, path, data, project, members, login):
    api = path.startswith("/api/")
    client = login(members[Role.ADMIN].user, api=api)
    url = path.format(member=members[Role.MEMBER].pk, project=project.pk)
    audits = audit_count()

    response = getattr(client, method)(url, data, **({"format": "json"} if api else {}))

    assert response.status_code in (200, 302)
    assert audit_count() == audits


def test_refused_actions_write_no_audit_row(organization, members, login):
    client = login(members[Role.ADMIN].user, api=True)
    owner = members[Role.OWNER]
    audits = audit_count()

    responses = [
        client.patch(f"/api/v1/orgs/acme/members/{owner.pk}/", {"role": "member"}, format="json"),
        client.post("/api/v1/orgs/acme/invitations/", {"email": "x@example.test", "role": "owner"}, format="json"),
        client.patch("/api/v1/orgs/acme", {"retention_days": 0}, format="json"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 400]
    assert audit_count() == audits


def test_audit_rows_outlive_the_things_they_describe(organization, project, members, login):
    client = login(members[Role.ADMIN].user, api=True)
    ApiKeyFactory(project=project)

    client.delete(f"/api/v1/orgs/acme/projects/{project.pk}/")

    assert ApiKey.all_tenants.count() == 0
    assert list(AuditEvent.objects.for_org(organization).values_list("action", "target_label")) == [
        ("project.deleted", "Support agent"),
    ]


# --- append-only --------------------------------------------------------------------------------


@pytest.fixture
def event(organization, members):
    return audit_record(
        organization=organization, actor=Actor(user=members[Role.OWNER].user, ip_address=IP),
        action=AuditAction.PROJECT_CREATED, target_type="project", target_id="p1", target_label="One",
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: AuditEvent.all_tenants.filter(pk=e.pk).update(action="project.deleted"),
        lambda e: AuditEvent.objects.for_org(e.organization).filter(pk=e.pk).update(actor_email="someone@else"),
        lambda e: AuditEvent.all_tenants.filter(pk=e.pk).delete(),
        lambda e: AuditEvent.objects.for_org(e.organization).all().delete(),
        lambda e: e.delete(),
        lambda e: (setattr(e, "target_label", "Forged"), e.save()),
    ],
    ids=["update", "scoped-update", "delete", "scoped-delete", "instance-delete", "instance-save"],
)
def test_audit_rows_cannot_be_updated_or_deleted(tamper, event):
    with pytest.raises(DatabaseError) as raised, transaction.atomic():
        tamper(event)

    assert "governance_auditevent is append-only" in str(raised.value)
    stored = AuditEvent.all_tenants.values_list("action", "actor_email", "target_label").get(pk=event.pk)
    assert stored == ("project.created", "owner@acme.test", "One")


def test_audit_rows_cannot_be_rewritten_with_raw_sql_either(event):
    with pytest.raises(DatabaseError) as raised, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE governance_auditevent SET after = '{}'::jsonb WHERE id = %s", [event.pk])

    assert "append-only (UPDATE refused)" in str(raised.value)
    assert AuditEvent.all_tenants.filter(pk=event.pk).count() == 1
