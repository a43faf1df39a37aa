"""Every tenant-scoped route, HTML and API, walked generically.

For each URL pattern whose kwargs name tenant objects, a user who owns organization A:
- gets 404 for every method when the URL names organization B's objects (by URL),
- cannot change anything of B by sending B's ids in a request body (by body id),
- never sees B's objects in any page or list of A (absent from lists).

The same walks run with organization tokens: A's token on B's ids is the same 404 as A's session,
and B's token on every one of A's routes is a stranger (404, nothing changed).

The tenant probe (``test_tenant_probe_from_outside``) then attacks every route at once with
A's session (HTML and API), A's project key and A's organization token: B's ids of every kind by URL and in bodies
(REST, batch, OTLP, signed widget links). Its oracle is differential: each request is replayed
with never-used ids of the same shapes, and the answers must match (so no status reveals that
an id exists in B), no answer may carry B's content, and B's rows in every tenant table must be
unchanged. It prints ``tenant probe: N routes, M requests, 0 leaks``.

New routes are covered without editing this file as long as their kwargs are in
``FOREIGN_VALUES``; a route with an unknown tenant kwarg fails ``test_every_route_kwarg_is_known``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import pytest
from django.apps import apps as django_apps
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from apps.core.audit import Actor
from apps.core.roles import Role
from apps.feedback.signing import make_token
from apps.governance.models import AuditEvent, ProjectRetention, RejectedRetention
from apps.organizations.models import Invitation, Membership, OrganizationToken, TokenScope
from apps.organizations.tokens import org_token_create
from apps.projects.models import ACCESS_PERMISSION, ApiKey, Project, ProjectUserObjectPermission
from tests.conftest import client_for
from apps.problems.models import Problem
from apps.experiments.models import Change, PromptLabel, PromptVersion, Validation
from tests.factories.experiments import prompt_version
from apps.review.models import ReviewItem, ReviewQueue
from apps.datasets.models import CaseRevision, Dataset, DatasetExport, DatasetImport, DatasetVersion
from apps.experiments.models import Experiment, ExperimentResult
from tests.factories.organizations import InvitationFactory, MembershipFactory, OrganizationFactory
from tests.factories.projects import ApiKeyFactory, ProjectFactory, api_key_with_secret
from tests.factories.traces import FeedbackFactory, SignalFactory, StepFactory, TurnFactory

# kwargs that are not tenant lookups, with the reason they are exempt from the walk.
EXEMPT_KWARGS = {
    "token": "invitation tokens and signed feedback links are their own authorization (tests/organizations/test_invitations.py, tests/feedback/test_widget.py)",
}
METHODS = ["get", "post", "put", "patch", "delete"]


def _walk(patterns, prefix_groups=(), prefix=""):
    for entry in patterns:
        groups = tuple(prefix_groups) + tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, groups, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "cls", None) or getattr(entry.callback, "view_class", None) or entry.callback
            if view.__module__.startswith(("apps.", "config.")) and entry.name:
                yield entry.name, prefix + str(entry.pattern), groups


ROUTES = sorted({(name, route, groups) for name, route, groups in _walk(get_resolver().url_patterns)})
TENANT_ROUTES = [(name, route, groups) for name, route, groups in ROUTES if "org" in groups]


class World:
    """Organization A (the caller owns it) and organization B (a stranger's), fully populated."""

    def __init__(self):
        self.org_a = OrganizationFactory(name="Alpha Org", slug="alpha")
        self.owner_a = MembershipFactory(organization=self.org_a, role=Role.OWNER, user__email="owner@alpha.test")
        self.member_a = MembershipFactory(organization=self.org_a, role=Role.MEMBER, user__email="member@alpha.test")
        self.project_a = ProjectFactory(organization=self.org_a, name="Alpha project")
        self.key_a = ApiKeyFactory(project=self.project_a, name="alpha key")
        self.ingest_key_a, self.secret_a = api_key_with_secret(project=self.project_a, name="alpha ingest key")
        self.invitation_a = InvitationFactory(organization=self.org_a, email="invitee@alpha.test")
        self.turn_a = TurnFactory(project=self.project_a, input="Alpha question", session_id="alpha-session")
        self.queue_a = ReviewQueue.all_tenants.create(project=self.project_a, name="Alpha queue")
        self.item_a = ReviewItem.all_tenants.create(project=self.project_a, queue=self.queue_a, turn_id=self.turn_a.id)
        self.problem_a = Problem.all_tenants.create(project=self.project_a, title="Alpha problem", turn_count=1)
        self.token_a, self.token_secret_a = org_token_create(
            organization=self.org_a, acting=self.owner_a, name="alpha token", scopes=TokenScope.values,
            actor=Actor(user=self.owner_a.user),
        )
        self.prompt_a = self._prompt(self.project_a, "alpha-prompt", "Alpha template {{question}}", "production")
        self.dataset_a, self.case_a, self.export_a, self.import_a = _dataset_world(self.project_a, self.turn_a, "Alpha dataset", "Alpha case")
        self.experiment_a = _experiment_world(self.project_a, self.dataset_a, self.case_a, "Alpha experiment", "Alpha output")
        self.change_a, self.validation_a = _change_world(self.project_a, self.prompt_a, self.problem_a, "Alpha change", "production")

        self.org_b = OrganizationFactory(name="Bravo Secret Org", slug="bravo")
        self.owner_b = MembershipFactory(organization=self.org_b, role=Role.OWNER, user__email="owner@bravo.test")
        self.member_b = MembershipFactory(organization=self.org_b, role=Role.MEMBER, user__email="member@bravo.test")
        self.project_b = ProjectFactory(organization=self.org_b, name="Bravo hidden project", is_restricted=True)
        self.key_b = ApiKeyFactory(project=self.project_b, name="bravo key")
        self.invitation_b = InvitationFactory(organization=self.org_b, email="invitee@bravo.test")
        self.turn_b = TurnFactory(
            project=self.project_b, input="Bravo secret question q7x2", session_id="bravo-secret-session-k9", end_user_id="bravo-user"
        )
        self.queue_b = ReviewQueue.all_tenants.create(project=self.project_b, name="Bravo secret queue z4p1")
        self.item_b = ReviewItem.all_tenants.create(project=self.project_b, queue=self.queue_b, turn_id=self.turn_b.id)
        self.problem_b = Problem.all_tenants.create(project=self.project_b, title="Bravo secret problem r5t8", turn_count=1)
        self.prompt_b = self._prompt(self.project_b, "bravo-secret-prompt-p2q9", "Bravo secret template j4k8 {{question}}", "bravo-label")
        self.dataset_b, self.case_b, self.export_b, self.import_b = _dataset_world(
            self.project_b, self.turn_b, "Bravo secret dataset d2c4", "Bravo secret case c9v3",
        )
        self.experiment_b = _experiment_world(self.project_b, self.dataset_b, self.case_b, "Bravo secret experiment e6h2",
                                              "Bravo secret output o1u5")
        self.change_b, self.validation_b = _change_world(self.project_b, self.prompt_b, self.problem_b, "Bravo secret change h6g2", "bravo-label")
        self.step_b = StepFactory(turn=self.turn_b, span_id=uuid.uuid4().hex[:16], name="bravo secret step m3n6")
        self.signal_b = SignalFactory(turn=self.turn_b, kind="escalation")
        self.feedback_b = FeedbackFactory(turn=self.turn_b, comment="bravo secret comment w8e1")
        from apps.projects.redaction import redaction_settings_save  # B's redaction settings: never shown to A

        redaction_settings_save(project=self.project_b, kinds=["email"], placeholder_style="keyed",
                                patterns=[{"name": "bravosecretpattern", "regex": "bravo-secret-b7y3"}], actor=Actor(user=None))
        self.pending_turn_b = uuid.uuid4()  # B's feedback is waiting for this turn
        self.waiting_b = FeedbackFactory(turn=None, project=self.project_b, turn_id=self.pending_turn_b, rating="up")
        self.token_b, self.token_secret_b = org_token_create(
            organization=self.org_b, acting=self.owner_b, name="Bravo secret token t3k8", scopes=TokenScope.values,
            actor=Actor(user=self.owner_b.user),
        )
        AuditEvent.objects.create(
            organization=self.org_b, actor_email="owner@bravo.test", action="project.created",
            target_type="project", target_id=str(self.project_b.pk), target_label="Bravo hidden project",
        )

    @staticmethod
    def _prompt(project, name: str, template: str, label: str):
        from apps.experiments.services.labels import prompt_label_move
        from tests.factories.experiments import AUTHOR

        prompt_version(project=project, name=name, template=template, message=f"{name} first")
        version = prompt_version(project=project, name=name, template=template + " v2", message=f"{name} second")
        prompt_label_move(prompt=version.prompt, name=label, version=1, author=AUTHOR, role=None)
        return version.prompt

    def values(self, side: str) -> dict:
        a = side == "a"
        return {
            "org": (self.org_a if a else self.org_b).slug,
            "project": str((self.project_a if a else self.project_b).pk),
            "key_id": (self.key_a if a else self.key_b).key_id,
            "member": (self.member_a if a else self.member_b).pk,
            "invitation": (self.invitation_a if a else self.invitation_b).pk,
            "turn": str((self.turn_a if a else self.turn_b).id),
            "queue": (self.queue_a if a else self.queue_b).pk,
            "item": (self.item_a if a else self.item_b).pk,
            "problem": (self.problem_a if a else self.problem_b).pk,
            "token_id": (self.token_a if a else self.token_b).token_id,
            "prompt": (self.prompt_a if a else self.prompt_b).name,
            "version": 1,
            "label": "production" if a else "bravo-label",
            "dataset": (self.dataset_a if a else self.dataset_b).pk,
            "name": (self.dataset_a if a else self.dataset_b).name,
            "case": str((self.case_a if a else self.case_b).case_id),
            "number": 1,
            "fmt": "jsonl",
            "export": (self.export_a if a else self.export_b).pk,
            "record": (self.import_a if a else self.import_b).pk,
            "experiment": (self.experiment_a if a else self.experiment_b).pk,
            "experiment_id": (self.experiment_a if a else self.experiment_b).pk,
            "change": (self.change_a if a else self.change_b).pk,
            "validation": (self.validation_a if a else self.validation_b).pk,
            "end_user_id": (self.turn_a if a else self.turn_b).end_user_id,
        }

    def b_markers(self) -> list[str]:
        """Strings that only B's objects contain; none may appear in a response to A's owner."""
        return [
            self.org_b.name, str(self.project_b.pk), self.project_b.name, self.key_b.key_id,
            self.owner_b.user.email, self.member_b.user.email, self.invitation_b.email,
            self.turn_b.input, self.turn_b.session_id, str(self.turn_b.id), self.queue_b.name,
            self.problem_b.title, self.token_b.name, self.token_b.token_id, self.prompt_b.name, "Bravo secret template j4k8",
            self.dataset_b.name, self.case_b.input, self.experiment_b.name, "Bravo secret output o1u5", self.change_b.title,
        ]

    def b_snapshot(self) -> dict:
        """Everything of B that a request could change."""
        self.org_b.refresh_from_db()
        return {
            "org": (self.org_b.name, self.org_b.retention_days),
            "members": sorted(Membership.objects.for_org(self.org_b).values_list("pk", "user_id", "role")),
            "invitations": sorted(
                Invitation.objects.for_org(self.org_b).values_list("pk", "accepted_at", "revoked_at")
            ),
            "projects": sorted(Project.objects.for_org(self.org_b).values_list("pk", "name", "is_restricted")),
            "keys": sorted(ApiKey.objects.for_project(self.project_b).values_list("pk", "revoked_at", "name")),
            "grants": ProjectUserObjectPermission.objects.filter(content_object=self.project_b).count(),
            "audit": AuditEvent.objects.for_org(self.org_b).count(),
            "queues": sorted(ReviewQueue.objects.for_project(self.project_b).values_list("pk", "name", "lease_seconds", "reviewers_per_item")),
            "items": sorted(ReviewItem.objects.for_project(self.project_b).values_list("pk", "state", "claimed_by_id", "assigned_to_id")),
            "problems": sorted(Problem.objects.for_project(self.project_b).values_list("pk", "title", "status", "cause_state", "merged_into_id")),
            "org_tokens": sorted(OrganizationToken.objects.for_org(self.org_b).values_list("pk", "name", "scopes", "revoked_at")),
            "prompt_versions": sorted(PromptVersion.objects.for_project(self.project_b).values_list("pk", "number", "template")),
            "prompt_labels": sorted(PromptLabel.objects.for_project(self.project_b).values_list("pk", "name", "version_id", "protected")),
            "datasets": sorted(Dataset.objects.for_project(self.project_b).values_list("pk", "name", "archived", "latest_version")),
            "versions": DatasetVersion.objects.for_project(self.project_b).count(),
            "cases": sorted(CaseRevision.objects.for_project(self.project_b).values_list("pk", "removed_in")),
            "imports": sorted(DatasetImport.objects.for_project(self.project_b).values_list("pk", "state")),
            "experiments": sorted(Experiment.objects.for_project(self.project_b).values_list("pk", "name", "status")),
            "results": sorted(ExperimentResult.objects.for_project(self.project_b).values_list("pk", "output", "scored")),
            "changes": sorted(Change.objects.for_project(self.project_b).values_list("pk", "title", "status")),
            "validations": sorted(Validation.objects.for_project(self.project_b).values_list("pk", "status", "verdict")),
            "retention": (list(ProjectRetention.objects.for_project(self.project_b).values_list("days")),
                          list(RejectedRetention.objects.for_org(self.org_b).values_list("days"))),
        }

    def a_snapshot(self) -> dict:
        """A's rows that B's token could try to change (the mirror of ``b_snapshot``)."""
        self.org_a.refresh_from_db()
        return {
            "org": (self.org_a.name, self.org_a.retention_days),
            "members": sorted(Membership.objects.for_org(self.org_a).values_list("pk", "user_id", "role")),
            "invitations": sorted(Invitation.objects.for_org(self.org_a).values_list("pk", "accepted_at", "revoked_at")),
            "projects": sorted(Project.objects.for_org(self.org_a).values_list("pk", "name", "is_restricted")),
            "keys": sorted(ApiKey.objects.for_project(self.project_a).values_list("pk", "revoked_at", "name")),
            "audit": AuditEvent.objects.for_org(self.org_a).count(),
            "queues": sorted(ReviewQueue.objects.for_project(self.project_a).values_list("pk", "name", "lease_seconds")),
            "items": sorted(ReviewItem.objects.for_project(self.project_a).values_list("pk", "state", "claimed_by_id")),
            "problems": sorted(Problem.objects.for_project(self.project_a).values_list("pk", "title", "status")),
            "org_tokens": sorted(OrganizationToken.objects.for_org(self.org_a).values_list("pk", "name", "scopes", "revoked_at")),
        }

    def token_client(self, side: str) -> APIClient:
        """A JSON client with the organization token of A (``"a"``) or B, and no session."""
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token_secret_a if side == 'a' else self.token_secret_b}")
        return client


FOREIGN_VALUES_KEYS = {
    "org", "project", "key_id", "member", "invitation", "turn", "queue", "item", "problem", "token_id",
    "prompt", "version", "label", "dataset", "name", "case", "number", "fmt", "export", "record",
    "experiment", "experiment_id", "change", "validation", "end_user_id",
}
API_TENANT_ROUTES = [(name, route, groups) for name, route, groups in TENANT_ROUTES if name.startswith("api-")]


def _experiment_world(project, dataset, case, name: str, output: str):
    """A scored experiment over the dataset's version 1 with one result (``output``)."""
    from apps.experiments.services.experiments import experiment_create, experiment_score, results_upload

    experiment = experiment_create(project=project, name=name, dataset=dataset.name, dataset_version=1,
                                   scorers=[{"name": "exact", "kind": "exact_match"}])
    results_upload(experiment=experiment, items=[{"case_id": str(case.case_id), "output": output}])
    return experiment_score(experiment=experiment)


def _dataset_world(project, turn, name: str, case_input: str):
    """A dataset with one version (a case from ``turn`` and a hand-written one), a finished export
    and an import waiting for its confirmation."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.core.audit import SYSTEM
    from apps.datasets.services.changes import Author, cases_add, revision_new
    from apps.datasets.services.exports import export_run
    from apps.datasets.services.imports import import_preview
    from apps.datasets.services.turns import revisions_from_turns

    dataset = Dataset.all_tenants.create(project=project, name=name)
    hand = revision_new({"input": case_input, "expected_output": "answer"}, source="hand")
    cases_add(dataset=dataset, author=Author(user=None, label="world"), revisions=[hand, *revisions_from_turns(project=project, turn_ids=[turn.id])])
    export = export_run(export=DatasetExport.all_tenants.create(project=project, dataset=dataset, version=1, format="jsonl", rows_total=2))
    upload = SimpleUploadedFile("more.jsonl", json.dumps({"input": case_input + " imported"}).encode())
    record = import_preview(dataset=dataset, upload=upload, fmt=None, actor=SYSTEM)
    dataset.refresh_from_db()
    return dataset, hand, export, record


def _change_world(project, prompt, problem, title: str, label: str):
    """A change (v1 → v2 of ``prompt``, for ``problem``) with one offline validation row."""
    from apps.experiments.services.changes import change_create
    from tests.factories.experiments import AUTHOR

    change = change_create(project=project, title=title, prompt=prompt.name, candidate=2, baseline=1, problems=[problem.pk],
                           label=label, author=AUTHOR)
    validation = Validation.all_tenants.create(project=project, change=change, kind="offline", inputs={"kind": "offline"},
                                               inputs_hash=f"world-{title}", status="done", verdict="inconclusive",
                                               report={"metrics": [], "explanation": f"{title} report"})
    return change, validation


@pytest.fixture
def world(db):
    return World()


def _url(name: str, groups, values: dict) -> str:
    return reverse(name, kwargs={key: values[key] for key in groups})


def _content(response) -> bytes:
    """The body, streamed ones (exports, files) included."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def _request(client, method: str, url: str, body: dict | None = None, api: bool = False):
    if method == "get":
        return client.get(url)
    if api:
        return getattr(client, method)(url, data=json.dumps(body or {}), content_type="application/json")
    return getattr(client, method)(url, data=body or {})


def test_the_walk_finds_routes():
    names = {name for name, _, _ in TENANT_ROUTES}

    assert {"organization_detail", "project_keys", "api-project-list", "api-key-detail", "audit_log"} <= names


@pytest.mark.parametrize(("name", "route", "groups"), ROUTES, ids=[r[0] for r in ROUTES])
def test_every_route_kwarg_is_known(name, route, groups):
    unknown = set(groups) - FOREIGN_VALUES_KEYS - set(EXEMPT_KWARGS)

    assert not unknown, f"{route}: add a foreign value for {unknown} to tests/test_tenant_isolation.py"


@pytest.mark.parametrize(("name", "route", "groups"), TENANT_ROUTES, ids=[r[0] for r in TENANT_ROUTES])
@pytest.mark.parametrize("mix", ["all-foreign", "own-org-foreign-objects"])
def test_foreign_objects_by_url_are_404_for_every_method(world, name, route, groups, mix):
    if mix == "own-org-foreign-objects" and set(groups) == {"org"}:
        pytest.skip("route names only the organization")
    values = world.values("b")
    if mix == "own-org-foreign-objects":
        values["org"] = world.org_a.slug
    api = name.startswith("api-")
    client = client_for(world.owner_a.user, api=api)
    url = _url(name, groups, values)
    before = world.b_snapshot()

    statuses = {method: _request(client, method, url, api=api).status_code for method in METHODS}

    assert statuses == {method: 404 for method in METHODS}, url
    assert world.b_snapshot() == before


@pytest.mark.parametrize(("name", "route", "groups"), API_TENANT_ROUTES, ids=[r[0] for r in API_TENANT_ROUTES])
@pytest.mark.parametrize("mix", ["all-foreign", "own-org-foreign-objects"])
def test_foreign_objects_by_url_are_404_for_every_method_with_a_token(world, name, route, groups, mix):
    if mix == "own-org-foreign-objects" and set(groups) == {"org"}:
        pytest.skip("route names only the organization")
    values = world.values("b")
    if mix == "own-org-foreign-objects":
        values["org"] = world.org_a.slug
    client = world.token_client("a")  # every scope, acting as A's owner
    url = _url(name, groups, values)
    before = world.b_snapshot()

    answers = {method: _request(client, method, url, api=True) for method in METHODS}

    assert {method: r.status_code for method, r in answers.items()} == {method: 404 for method in METHODS}, url
    assert {r.json()["code"] for r in answers.values()} == {"not_found"}
    assert world.b_snapshot() == before


@pytest.mark.parametrize(("name", "route", "groups"), API_TENANT_ROUTES, ids=[r[0] for r in API_TENANT_ROUTES])
def test_the_other_organizations_token_is_a_stranger_on_every_route(world, name, route, groups):
    """B's token (every scope) on A's URLs answers exactly what B's owner's session answers: the
    stranger's 404, same body, for every method; nothing of A changes."""
    url = _url(name, groups, world.values("a"))
    token, stranger = world.token_client("b"), client_for(world.owner_b.user, api=True)
    before = world.a_snapshot()

    with_token = {m: _request(token, m, url, body={"name": "probe"}, api=True) for m in METHODS}
    as_stranger = {m: _request(stranger, m, url, body={"name": "probe"}, api=True) for m in METHODS}

    assert {m: (r.status_code, r.json()) for m, r in with_token.items()} == {
        m: (r.status_code, r.json()) for m, r in as_stranger.items()
    }
    assert {r.status_code for r in with_token.values()} == {404}, url
    assert world.a_snapshot() == before


@pytest.mark.parametrize(("name", "route", "groups"), TENANT_ROUTES, ids=[r[0] for r in TENANT_ROUTES])
def test_foreign_ids_in_request_bodies_change_nothing_of_the_other_tenant(world, name, route, groups):
    values = world.values("a")
    foreign = world.values("b")
    body = {
        "member_ids": [foreign["member"]],
        "member": foreign["member"],
        "invitation": foreign["invitation"],
        "project": foreign["project"],
        "project_id": foreign["project"],
        "key_id": foreign["key_id"],
        "organization": foreign["org"],
        "role": Role.MEMBER,
        "is_restricted": True,
    }
    api = name.startswith("api-")
    client = client_for(world.owner_a.user, api=api)
    url = _url(name, groups, values)
    before = world.b_snapshot()

    for method in ["post", "put", "patch"]:
        response = _request(client, method, url, body=body, api=api)
        assert response.status_code < 500, (method, url, response.status_code)

    assert world.b_snapshot() == before


@pytest.mark.parametrize("api", [False, True], ids=["html", "api"])
def test_project_access_rejects_a_member_id_of_another_organization(world, api):
    client = client_for(world.owner_a.user, api=api)
    values = world.values("a")
    name = "api-project-access" if api else "project_access"
    url = reverse(name, kwargs={"org": values["org"], "project": values["project"]})
    before = world.b_snapshot()
    granted_before = ProjectUserObjectPermission.objects.filter(content_object=world.project_a).count()

    response = _request(client, "put" if api else "post", url, {"is_restricted": True, "member_ids": [world.member_b.pk]}, api=api)

    assert response.status_code == 400
    if api:
        assert response.json()["code"] in {"unknown_member", "invalid"}
    assert ProjectUserObjectPermission.objects.filter(content_object=world.project_a).count() == granted_before
    assert not world.member_b.user.has_perm(ACCESS_PERMISSION, world.project_a)
    assert world.b_snapshot() == before


@pytest.mark.parametrize(("name", "route", "groups"), TENANT_ROUTES, ids=[r[0] for r in TENANT_ROUTES])
def test_other_tenant_is_absent_from_every_page_and_list(world, name, route, groups):
    api = name.startswith("api-")
    client = client_for(world.owner_a.user, api=api)
    url = _url(name, groups, world.values("a"))

    response = client.get(url)

    body = _content(response).decode()
    assert response.status_code in {200, 405}, (url, response.status_code)
    leaked = [marker for marker in world.b_markers() if marker in body]
    assert leaked == [], url


@pytest.mark.parametrize(("name", "route", "groups"), API_TENANT_ROUTES, ids=[r[0] for r in API_TENANT_ROUTES])
def test_other_tenant_is_absent_from_every_list_read_with_a_token(world, name, route, groups):
    response = world.token_client("a").get(_url(name, groups, world.values("a")))

    body = _content(response).decode()
    assert response.status_code in {200, 405}, (name, response.status_code)
    assert [marker for marker in world.b_markers() if marker in body] == []


def test_api_key_of_one_project_reads_only_its_own_project(world):
    from rest_framework.test import APIClient

    from tests.factories.projects import api_key_with_secret

    _, secret = api_key_with_secret(project=world.project_a)
    client = APIClient()

    response = client.get("/api/v1/auth/check", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 200
    assert response.json()["project"] == str(world.project_a.pk)
    assert response.json()["organization"] == "alpha"


# --- the tenant probe from outside ---------------------------------------------------------------


def _probe_ids(world, foreign: bool) -> dict:
    """Every id kind, B's (``foreign``) or never used anywhere, in the same shapes."""
    if foreign:
        return {
            **world.values("b"), "feedback": str(world.feedback_b.id), "pending_turn": str(world.pending_turn_b),
            "span": world.step_b.span_id, "signal": world.signal_b.pk, "key": world.key_b.key_id,
        }
    number = 10**9
    return {
        "org": "zz-never-used", "project": str(uuid.uuid4()), "key_id": uuid.uuid4().hex[:12], "member": number,
        "invitation": number + 1, "turn": str(uuid.uuid4()), "queue": number + 2, "item": number + 3,
        "problem": number + 4, "feedback": str(uuid.uuid4()), "pending_turn": str(uuid.uuid4()),
        "prompt": "zz-never-used-prompt-00", "version": 1, "label": "zz-never-label",
        "span": uuid.uuid4().hex[:16], "signal": number + 5, "key": uuid.uuid4().hex[:12],
        "token_id": uuid.uuid4().hex[:12],
        "dataset": number + 6, "name": "never used dataset", "case": str(uuid.uuid4()), "number": 1, "fmt": "jsonl",
        "export": number + 7, "record": number + 8, "experiment": number + 9, "experiment_id": number + 9,
        "change": number + 10, "validation": number + 11, "end_user_id": "never used end user",
    }


def _probe_tokens(world, ids: dict) -> list[str]:
    """Links signed with A's key: one claiming the other project, one naming the other's turn."""
    key = world.ingest_key_a
    return [
        make_token(signing_key=key.link_signing_key(), exp=int(time.time()) + 3600, key_id=key.key_id,
                   project_id=project, turn_id=ids["turn"], user_id="probe")
        for project in (ids["project"], str(world.project_a.pk))
    ]


def _probe_urls(world, name: str, groups, ids: dict) -> list[str]:
    """The route named with the other tenant's ids (and with A's organization around them)."""
    if not groups:
        return []
    if "token" in groups:
        return [reverse(name, kwargs={"token": token}) for token in _probe_tokens(world, ids)]
    urls = [_url(name, groups, ids)]
    if "org" in groups and set(groups) != {"org"}:
        urls.append(_url(name, groups, {**ids, "org": world.org_a.slug}))
    return urls


def _probe_bodies(ids: dict) -> list[dict]:
    """Bodies naming the other tenant's ids in every field a route may read an id from."""
    otlp_span = {"traceId": uuid.UUID(ids["turn"]).hex, "spanId": ids["span"], "name": "probe",
                 "startTimeUnixNano": "1767261600000000000", "endTimeUnixNano": "1767261600001000000"}
    return [
        {"member_ids": [ids["member"]], "member": ids["member"], "invitation": ids["invitation"], "project": ids["project"],
         "project_id": ids["project"], "key_id": ids["key_id"], "organization": ids["org"], "queue": ids["queue"],
         "item": ids["item"], "into": ids["problem"], "problem": ids["problem"], "escalate_to": ids["queue"],
         "turn_ids": [ids["turn"], ids["pending_turn"]], "role": Role.MEMBER, "is_restricted": True},
        {"template": "probe {{x}}", "version": 1, "label": ids["label"], "protected": True, "name": ids["prompt"]},
        {"id": ids["turn"], "question": "probe"},
        {"id": ids["pending_turn"], "question": "probe", "steps": [{"id": ids["span"]}]},
        {"id": ids["feedback"], "turn_id": ids["turn"], "rating": "up", "comment": "probe"},
        {"batch": [
            {"type": "turn", "id": ids["turn"], "body": {"question": "probe"}},
            {"type": "turn", "id": ids["pending_turn"], "body": {"question": "probe", "steps": [{"id": ids["span"]}]}},
            {"type": "step", "body": {"turn_id": ids["turn"], "id": ids["span"], "name": "probe"}},
            {"type": "signal", "body": {"turn_id": ids["turn"], "kind": "escalation"}},
            {"type": "feedback", "body": {"turn_id": ids["turn"], "id": ids["feedback"], "rating": "down"}},
        ]},
        {"resourceSpans": [{"scopeSpans": [{"spans": [otlp_span, {**otlp_span, "spanId": ids["span"][::-1], "parentSpanId": ids["span"]}]}]}]},
    ]


def _tenant_fingerprint(organization, project) -> dict[str, str]:
    """A digest of every row of one tenant, in every table that carries its organization or project
    (found from the models, so a new table is covered), and of the per-object grants on them."""
    digests = {}
    for model in django_apps.get_models():
        names = {field.name for field in model._meta.concrete_fields}
        rows = model._base_manager
        if "project" in names:
            rows = rows.filter(project=project)
        elif "organization" in names:
            rows = rows.filter(organization=organization)
        elif "content_object" in names and hasattr(model._meta.get_field("content_object").related_model, "project"):
            rows = rows.filter(content_object__project=project)
        elif "content_object" in names and model._meta.get_field("content_object").related_model._meta.label == "projects.Project":
            rows = rows.filter(content_object=project)
        else:
            continue
        values = sorted(repr(row) for row in rows.values_list(*[f.attname for f in model._meta.concrete_fields]))
        digests[model._meta.label] = hashlib.sha256("\n".join(values).encode()).hexdigest()
    return digests


def _probe_sequence(world, callers: dict, ids: dict, markers: list[str]) -> tuple[list, list]:
    """Send every request of the probe for one id set; (status, code) per request, and leaks."""
    answers, leaks = [], []
    for name, _, groups in ROUTES:
        requests = [(url, method, None) for url in _probe_urls(world, name, groups, ids) for method in METHODS]
        own_url = _url(name, groups, world.values("a")) if "token" not in groups else _probe_urls(world, name, groups, ids)[-1]
        requests += [(own_url, method, body) for body in _probe_bodies(ids) for method in ("post", "put", "patch")]
        with transaction.atomic():
            before = _tenant_fingerprint(world.org_b, world.project_b)
            # A session speaks the route's language (forms or JSON); the key and the token always speak JSON.
            speakers = {caller: client for caller, client in callers.items()
                        if caller in {"key", "token"} or (caller == "session-api") == name.startswith("api-")}
            for url, method, body in requests:
                for caller, client in speakers.items():
                    response = _request(client, method, url, body=body, api=caller != "session-html")
                    content = _content(response)
                    code = json.loads(content).get("code") if response.get("Content-Type", "").startswith("application/json") and content[:1] == b"{" else None
                    answers.append((name, caller, method, response.status_code, code))
                    text = content.decode(errors="replace")
                    leaked = [marker for marker in markers if marker in text]
                    if response.status_code >= 500 or leaked:
                        leaks.append((name, caller, method, url, response.status_code, leaked))
            changed = [label for label, digest in _tenant_fingerprint(world.org_b, world.project_b).items() if before.get(label) != digest]
            if changed:
                leaks.append((name, "changed rows of the other tenant", changed))
            transaction.set_rollback(True)
    return answers, leaks


def test_tenant_probe_from_outside(world, settings, capsys):
    """A's session (HTML and API), A's project key and A's organization token against every route, with B's ids of every
    kind by URL and in bodies: answers as for ids nobody uses, no B content, B's rows unchanged."""
    settings.WIDGET_RATE_LIMIT_PER_LINK = settings.WIDGET_RATE_LIMIT_PER_IP = 10**6
    key_client = APIClient()
    key_client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.secret_a}")
    callers = {"session-html": client_for(world.owner_a.user), "session-api": client_for(world.owner_a.user, api=True),
               "key": key_client, "token": world.token_client("a")}
    settings.ORG_TOKEN_RATE_LIMIT_PER_MINUTE = 10**6
    # B's content (not its ids: a body that sends an id may echo it, the differential covers ids).
    markers = [world.org_b.name, world.project_b.name, world.owner_b.user.email, world.member_b.user.email,
               world.invitation_b.email, world.token_b.name, world.turn_b.input, world.turn_b.session_id, world.queue_b.name,
               world.problem_b.title, world.step_b.name, world.feedback_b.comment, "Bravo secret template j4k8",
               world.dataset_b.name, world.case_b.input]

    foreign, leaks = _probe_sequence(world, callers, _probe_ids(world, foreign=True), markers)
    fresh, _ = _probe_sequence(world, callers, _probe_ids(world, foreign=False), markers)

    differing = [(b, f) for b, f in zip(foreign, fresh) if b != f]
    with capsys.disabled():
        print(f"\ntenant probe: {len(ROUTES)} routes, {len(foreign) + len(fresh):,} requests, {len(leaks) + len(differing)} leaks")
    assert len(foreign) == len(fresh)
    assert leaks == []
    assert differing == []
