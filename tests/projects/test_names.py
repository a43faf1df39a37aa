"""Every name typed inside a project — the project's own, API keys, review queues, taxonomy
categories, detection rules, problem titles — goes through the one name check: a control
character, line separator or bidi override is a 400 on the field that carries it, and nothing
is written (no row, no audit event)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.detection.models import DetectionRule
from apps.governance.models import AuditEvent
from apps.core.audit import SYSTEM
from apps.problems.models import Problem
from apps.projects.models import ApiKey, Project
from apps.review.models import FailureTaxonomy, ReviewQueue
from apps.review.services import queues as queue_services

READABLE = "Names cannot contain control characters (line breaks, tabs) or text-direction overrides."
CRLF = "Gamma\r\nBcc: victim@example.test"
BIDI = "refunds \u202egpj.exe"


@pytest.fixture
def owner_api(members, login):
    return login(members[Role.OWNER].user, api=True)


@pytest.fixture
def queue(project):
    return queue_services.review_queue_create(project=project, actor=SYSTEM, name="Thumbs-down")


@pytest.fixture
def problem(project):
    return Problem.all_tenants.create(project=project, title="Refund questions")


def _snapshot(project):
    return (
        sorted(Project.objects.for_org(project.organization).values_list("name", flat=True)),
        sorted(ApiKey.objects.for_project(project).values_list("name", flat=True)),
        sorted(ReviewQueue.objects.for_project(project).values_list("name", flat=True)),
        list(FailureTaxonomy.objects.for_project(project).values_list("categories", flat=True)),
        sorted(Problem.objects.for_project(project).values_list("title", flat=True)),
        sorted(DetectionRule.objects.for_project(project).values_list("name", flat=True)),
        AuditEvent.objects.for_org(project.organization).count(),
    )


def _base(project) -> str:
    return f"/api/v1/orgs/{project.organization.slug}/projects"


CASES = {
    "project create": lambda p, q, pr, name: ("post", f"{_base(p)}/", {"name": name}, "name", "invalid"),
    "project rename": lambda p, q, pr, name: ("patch", f"{_base(p)}/{p.pk}", {"name": name}, "name", "invalid"),
    "api key create": lambda p, q, pr, name: ("post", f"{_base(p)}/{p.pk}/keys/", {"name": name}, "name", "invalid"),
    "queue create": lambda p, q, pr, name: ("post", f"{_base(p)}/{p.pk}/queues", {"name": name}, "name", "invalid"),
    "queue rename": lambda p, q, pr, name: ("patch", f"{_base(p)}/{p.pk}/queues/{q.pk}", {"name": name}, "name", "invalid"),
    "taxonomy category": lambda p, q, pr, name: (
        "put", f"{_base(p)}/{p.pk}/taxonomy", {"categories": [{"name": name, "description": ""}]}, "categories", "invalid",
    ),
    "problem title": lambda p, q, pr, name: (
        "patch", f"{_base(p)}/{p.pk}/problems/{pr.pk}", {"title": name}, "title", "invalid_title",
    ),
}
# Problem titles and taxonomy categories fold runs of whitespace (CR/LF included) into one
# space, so for them the line break is not an error; the bidi override still is.
FOLDS_WHITESPACE = {"taxonomy category", "problem title"}
LINE_BREAKING = [CRLF, "tab\there", "sep\u2028x"]
HOSTILE = [
    (case, name)
    for case in CASES
    for name in [*LINE_BREAKING, BIDI, "esc \x1b[2J", "c1 csi \x9b"]
    if not (case in FOLDS_WHITESPACE and name in LINE_BREAKING)
]


@pytest.mark.parametrize(("case", "name"), HOSTILE)
def test_a_hostile_name_is_a_400_on_its_field_and_writes_nothing(project, queue, problem, owner_api, case, name):
    method, url, body, field, code = CASES[case](project, queue, problem, name)
    before = _snapshot(project)

    response = getattr(owner_api, method)(url, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"code": code, "message": READABLE, "field": field}
    assert _snapshot(project) == before


def test_problem_titles_and_categories_fold_line_breaks_into_one_line(project, problem, owner_api):
    title = owner_api.patch(f"{_base(project)}/{project.pk}/problems/{problem.pk}", {"title": CRLF}, format="json")
    taxonomy = owner_api.put(
        f"{_base(project)}/{project.pk}/taxonomy", {"categories": [{"name": "wrong\r\nanswer"}]}, format="json"
    )

    assert (title.status_code, taxonomy.status_code) == (200, 200)
    assert Problem.objects.for_project(project).get().title == "Gamma Bcc: victim@example.test"
    assert FailureTaxonomy.objects.for_project(project).get().categories == [{"name": "wrong answer", "description": ""}]


def test_ordinary_unicode_names_are_kept_exactly(project, queue, owner_api):
    name = "👩\u200d💻 Équipe 日本"

    responses = [
        owner_api.patch(f"{_base(project)}/{project.pk}", {"name": name}, format="json"),
        owner_api.post(f"{_base(project)}/{project.pk}/keys/", {"name": name}, format="json"),
        owner_api.patch(f"{_base(project)}/{project.pk}/queues/{queue.pk}", {"name": name}, format="json"),
    ]

    assert [response.status_code for response in responses] == [200, 201, 200]
    assert Project.objects.for_org(project.organization).get().name == name
    assert list(ApiKey.objects.for_project(project).values_list("name", flat=True)) == [name]
    assert ReviewQueue.objects.for_project(project).get().name == name


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("projects/new/", {"name": CRLF}),
        ("projects/{project}/settings/", {"name": CRLF}),
        ("projects/{project}/keys/", {"name": CRLF}),
        ("projects/{project}/queues/", {"name": CRLF, "lease_seconds": "600", "priority": "0", "sample_percent": "100"}),
    ],
)
def test_html_forms_show_the_refusal_on_the_name_field(project, members, login, path, data):
    client = login(members[Role.OWNER].user)
    before = _snapshot(project)

    response = client.post(f"/orgs/acme/{path.format(project=project.pk)}", data)

    assert response.status_code == 400
    assert response.context["form"].errors == {"name": [READABLE]}
    assert _snapshot(project) == before


def test_detection_rule_with_a_hostile_name_is_refused_on_the_settings_page(project, members, login):
    client = login(members[Role.OWNER].user)
    before = _snapshot(project)
    url = reverse("detector_settings", kwargs={"org": "acme", "project": project.pk})

    response = client.post(url, {"action": "rule_create", "name": CRLF, "expression": "true", "signal_kind": "vip"})

    assert response.status_code == 400
    assert READABLE in response.content.decode()
    assert _snapshot(project) == before
