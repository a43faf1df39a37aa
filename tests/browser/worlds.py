"""Populated organizations for the page walks: the README's demo, and one where every field holds a payload.

Captured data goes in the way customers send it (HTTP to the live server: the SDK for the demo,
raw JSON for the hostile turns); admin-entered data goes through the same services the UI and the
management API call.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

from apps.demo import seed as seed_demo
from apps.demo import traffic as demo_traffic
from apps.core.roles import Role
from apps.demo import retention as demo_retention
from apps.detection.services.settings import detection_rule_create
from apps.feedback.signing import make_token
from apps.core.audit import Actor
from apps.organizations.models import Invitation, Membership, OrganizationToken
from apps.organizations.services import invitation_create, organization_create
from apps.organizations.tokens import org_token_create
from apps.demo.problems import seed_problems_demo
from apps.problems.models import Problem
from apps.problems.services.backlog import problem_update
from apps.projects.models import ApiKey, Project
from apps.projects.services import api_key_create, project_create
from apps.review.models import ReviewItem, ReviewQueue
from apps.review.services import items as item_services
from apps.review.services import queues as queue_services
from apps.traces.models import Turn
from apps.experiments.models import Prompt, PromptLabel, PromptVersion
from apps.experiments.services.labels import prompt_label_move
from apps.experiments.services.prompts import Author, prompt_version_create
from tests.factories.accounts import UserFactory

# Each sets window.__xss (or opens a dialog) if it ever runs; none holds a control character.
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror=window.__xss=2>',
    "'><svg onload=window.__xss=3>",
    "</script><script>window.__xss=4</script>",
    "{{7*7}}${7*7}<b onmouseover=window.__xss=5>",
    "javascript:window.__xss=6",
    '<iframe srcdoc="<script>parent.__xss=7</script>">',
    '<a href="javascript:window.__xss=8">x</a>',
    "<details open ontoggle=window.__xss=9>",
]
# Demo turns whose replays differ in shape (history and feedback, a failed tool, retrieval, markup in the text, a follow-up).
DEMO_REPLAYS = [("s-refund-2", 2), ("s-order-5", 0), ("s-reset-1", 0), ("s-xss-10", 0), ("s-billing-9", 1)]
# Signal kinds are [A-Za-z][A-Za-z0-9_.:-]*, so a kind can only carry the javascript: scheme; payloads go in the value.
HOSTILE_KIND = "javascript:xss"


@dataclass
class World:
    """What a page walk needs: who logs in, and the objects each URL kwarg resolves to."""

    email: str
    password: str
    values: dict[str, list[str]]
    tokens: dict[str, list[str]] = field(default_factory=dict)  # route name → values of its ``token`` kwarg
    extra_paths: list[str] = field(default_factory=list)  # query-string variants of the walked pages


def post_json(base_url: str, path: str, secret: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base_url}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _widget_token(api_key: ApiKey, turn_id: str, user_id: str) -> str:
    return make_token(
        signing_key=api_key.link_signing_key(), key_id=api_key.key_id, project_id=str(api_key.project_id),
        turn_id=turn_id, user_id=user_id, exp=int(time.time()) + 3600,
    )


def _dataset_values(project) -> dict[str, list[str]]:
    """The dataset pages' kwargs; a finished export of the first dataset is made for its page."""
    from apps.datasets.models import CaseRevision, Dataset, DatasetExport, DatasetImport
    from apps.datasets.services.exports import export_run

    datasets = list(Dataset.objects.for_project(project).exclude(latest_version=0).order_by("pk"))
    imported = set(DatasetImport.objects.for_project(project).values_list("dataset_id", flat=True))
    datasets.sort(key=lambda dataset: dataset.pk not in imported)  # the first one has every kind of page
    first = datasets[0]
    if not DatasetExport.objects.for_project(project).exists():
        export_run(export=DatasetExport.objects.create(project=project, dataset=first, version=1, format="jsonl", rows_total=first.cases_count))
    return {
        "dataset": [str(dataset.pk) for dataset in datasets],
        "case": [str(case) for case in CaseRevision.objects.for_project(project).filter(dataset=first).order_by("position")
                 .values_list("case_id", flat=True).distinct()[:3]],
        "number": ["1"], "fmt": ["jsonl"],
        "export": [str(pk) for pk in DatasetExport.objects.for_project(project).filter(dataset=first).values_list("pk", flat=True)],
        "record": [str(pk) for pk in DatasetImport.objects.for_project(project).filter(dataset=first).values_list("pk", flat=True)],
    }


def _values(organization, project) -> dict[str, list[str]]:
    return {
        **_dataset_values(project),
        "org": [organization.slug],
        "project": [str(project.pk)],
        "key_id": list(ApiKey.objects.for_project(project).values_list("key_id", flat=True)),
        "member": [str(pk) for pk in Membership.objects.for_org(organization).values_list("pk", flat=True)],
        "invitation": [str(pk) for pk in Invitation.objects.for_org(organization).values_list("pk", flat=True)],
        "turn": [str(pk) for pk in Turn.objects.for_project(project).order_by("created_at").values_list("id", flat=True)],
        "queue": [str(pk) for pk in ReviewQueue.objects.for_project(project).order_by("pk").values_list("pk", flat=True)],
        "item": [str(pk) for pk in ReviewItem.objects.for_project(project).order_by("pk").values_list("pk", flat=True)[:1]],
        "problem": [str(pk) for pk in Problem.objects.for_project(project).order_by("pk").values_list("pk", flat=True)],
        "token_id": list(OrganizationToken.objects.for_org(organization).order_by("pk").values_list("token_id", flat=True)),
        **_prompt_values(project),
        **_experiment_values(project),
        **_change_values(project),
    }


def _experiment_values(project) -> dict[str, list[str]]:
    """Every experiment; the compare page pairs the first two of the same dataset version."""
    from apps.experiments.models import Experiment

    experiments = list(Experiment.objects.for_project(project).order_by("pk"))
    return {"experiment": [str(e.pk) for e in experiments]}


def _change_values(project) -> dict[str, list[str]]:
    """Every change and validation (their pages)."""
    from apps.experiments.models import Change, Validation

    return {
        "change": [str(pk) for pk in Change.objects.for_project(project).order_by("pk").values_list("pk", flat=True)],
        "validation": [str(pk) for pk in Validation.objects.for_project(project).order_by("pk").values_list("pk", flat=True)],
    }


def experiment_extra_paths(organization, project) -> list[str]:
    from apps.experiments.models import Experiment

    paths = []
    experiments = list(Experiment.objects.for_project(project).order_by("pk"))
    for first in experiments:
        for second in experiments:
            if first.pk != second.pk and (first.dataset_id, first.dataset_version) == (second.dataset_id, second.dataset_version):
                base = f"/orgs/{organization.slug}/projects/{project.pk}/experiments/{first.pk}"
                paths = [f"{base}/compare/?with={second.pk}", f"{base}/?scorer=exact&outcome=fail"]
                break
        if paths:
            break
    running = [e for e in experiments if e.source == "endpoint"][:1]
    paths += [f"/orgs/{organization.slug}/projects/{project.pk}/experiments/{e.pk}/?fragment=progress" for e in running]
    return paths


def _prompt_values(project) -> dict[str, list[str]]:
    """Every prompt, and the versions and labels of the first one (the walk varies one kwarg at a time)."""
    names = list(Prompt.objects.for_project(project).order_by("name").values_list("name", flat=True))
    first = names[:1]
    return {
        "prompt": names,
        "version": [str(n) for n in PromptVersion.objects.for_project(project).filter(prompt__name__in=first)
                    .order_by("number").values_list("number", flat=True)],
        "label": list(PromptLabel.objects.for_project(project).filter(prompt__name__in=first).order_by("name")
                      .values_list("name", flat=True)),
    }


def _hostile_prompt(project, actor) -> None:
    """A prompt whose template, message, description, tools and settings are payloads, with labels."""
    author = Author(actor=actor)
    for payload in PAYLOADS:
        version = prompt_version_create(
            project=project, name="hostile-prompt", template=f"{payload} {{{{question}}}}", message=payload, description=payload,
            tools=[{"name": "lookup", "description": payload, "parameters": {"type": "object", "description": payload}}],
            settings={"model": payload, "note": payload}, author=author,
        )
    for label, number in (("production", 1), ("production", 2), ("staging", 3)):
        prompt_label_move(prompt=version.prompt, name=label, version=number, author=author, role="owner")


def demo_world(*, base_url: str, data_dir, monkeypatch) -> World:
    """The README's demo (seed_demo + the SDK traffic + review queues and the backlog), as its owner sees it."""
    monkeypatch.setenv("AGENTLOOP_DATA_DIR", str(data_dir))  # the demo key file goes there
    seeded = seed_demo.seed()
    demo_traffic.send(host=base_url, api_key=seeded["api_key"], project_id=seeded["project"])
    demo_traffic.seed_triage(project_id=seeded["project"])
    project = Project.all_tenants.select_related("organization").get(pk=seeded["project"])  # unscoped: the demo names its project
    organization = project.organization
    api_key = ApiKey.objects.for_project(project).get(name="demo SDK")
    first_turn = demo_traffic.demo_turn_id("s-refund-2", 2)
    invitation_token = _invite(organization, "late.hire@acme.test")
    values = _values(organization, project)
    values["turn"] = [demo_traffic.demo_turn_id(session, index) for session, index in DEMO_REPLAYS]
    return World(
        email=seed_demo.DEMO_EMAIL, password=seed_demo.DEMO_PASSWORD, values=values,
        tokens={"feedback_widget": [_widget_token(api_key, first_turn, "li.wei@contoso.test")],
                "invitation_accept": [invitation_token]},
        extra_paths=[
            f"/orgs/{organization.slug}/projects/{project.pk}/sessions/?id=s-refund-2",
            f"/orgs/{organization.slug}/projects/{project.pk}/turns/?signal=thumbs_down",
            f"/orgs/{organization.slug}/projects/{project.pk}/problems/?status=all",
            f"/orgs/{organization.slug}/projects/{project.pk}/prompts/support-agent/diff/?from=1&to=3",
            f"/orgs/{organization.slug}/projects/{project.pk}/end-users/?id=li.wei%40contoso.test",
            *experiment_extra_paths(organization, project),
            f"/orgs/{organization.slug}/projects/{project.pk}/turns/{demo_retention.HELD_TURN}/",
        ],
    )


def _invite(organization, email: str) -> str:
    owner = Membership.objects.for_org(organization).get(role=Role.OWNER)
    _, token = invitation_create(organization=organization, acting=owner, email=email, role=Role.MEMBER, actor=Actor(user=owner.user))
    return token


def _hostile_turn(payload: str, number: int) -> dict:
    link = "javascript:window.__xss=6"
    return {
        "id": str(uuid.uuid5(demo_traffic.NAMESPACE, f"hostile:{number}")),
        "question": payload, "agent_response": payload, "user_id": payload, "session_id": payload,
        "model": payload, "prompt_version": payload, "variant": payload,
        "history": [{"role": payload, "content": payload}, {"role": "user", "content": {"nested": payload}}],
        "metadata": {"plan": payload, payload: payload, "link": link},
        "retrieved": [{"id": payload, "title": payload, "text": payload, "url": link, "score": payload}],
        "tool_calls": [{"name": payload, "arguments": {"q": payload}, "result": payload, "error": payload, "url": link}],
        "steps": [
            {"id": f"s{number}", "kind": "tool", "name": payload, "input": payload, "output": {"x": payload}, "error": payload,
             "attributes": {payload: payload}},
            {"id": f"c{number}", "parent_id": f"s{number}", "kind": "llm", "name": payload, "input": [payload], "output": payload},
        ],
        "signals": {"thumbs_down": True, "confidence": 0.1, "custom_note": payload, HOSTILE_KIND: payload},
    }


def hostile_world(*, base_url: str, owner_email: str, password: str) -> World:
    """An organization whose every captured and admin-entered text is a payload (one payload per object)."""
    owner = UserFactory(email=owner_email, password=password, name=PAYLOADS[0])
    actor = Actor(user=owner)
    organization = organization_create(name=PAYLOADS[1], owner=owner, actor=actor)
    for payload in PAYLOADS[2:5]:  # more organizations in the switcher of every page
        organization_create(name=payload, owner=owner, actor=actor)
    project = project_create(organization=organization, name=PAYLOADS[2], actor=actor)
    for payload in PAYLOADS[3:]:
        project_create(organization=organization, name=payload, actor=actor)
    keys = [api_key_create(project=project, name=payload, actor=actor) for payload in PAYLOADS]
    api_key, secret = keys[0]
    membership = Membership.objects.for_org(organization).get(user=owner)
    for payload in PAYLOADS:
        teammate = UserFactory(email=f"{uuid.uuid4().hex[:8]}@hostile.test", name=payload)
        Membership.objects.for_org(organization).create(organization=organization, user=teammate, role=Role.REVIEWER)
    invitation_tokens = [_invite_address(organization, membership, payload) for payload in PAYLOADS]
    for payload in PAYLOADS:
        org_token_create(organization=organization, acting=membership, name=payload, scopes=["read"], actor=actor)

    queue_services.taxonomy_update(project=project, actor=actor, categories=[{"name": p, "description": p} for p in PAYLOADS])
    second = queue_services.review_queue_create(project=project, actor=actor, name=PAYLOADS[-1], description=PAYLOADS[-1])
    first = queue_services.review_queue_create(
        project=project, actor=actor, name=PAYLOADS[0], description=PAYLOADS[1], escalate_to=second,
        routing={"signal_kinds": ["thumbs_down"], "priority": 1, "sample_percent": 100},
    )
    for queue in (first, second):
        queue_services.review_queue_assign(queue=queue, membership=membership, actor=actor)
    for number, payload in enumerate(PAYLOADS):
        detection_rule_create(project=project, name=payload, expression=f"question contains {json.dumps(payload)}",
                              signal_kind=f"rule_{number}", actor=actor)

    turn_ids = []
    for number, payload in enumerate(PAYLOADS):
        turn = post_json(base_url, "/api/v1/turns", secret, _hostile_turn(payload, number))
        post_json(base_url, "/api/v1/feedback", secret,
                  {"turn_id": turn["id"], "rating": "down", "comment": payload, "correction": payload})
        turn_ids.append(turn["id"])
    item_services.review_route_turns(project=project, turn_ids=turn_ids)
    for verdict, payload in zip(["confirm", "reject", "escalate"], PAYLOADS, strict=False):
        item = item_services.review_item_claim_next(queue=first, reviewer=owner)
        item_services.review_item_decide(item=item, reviewer=owner, verdict=verdict, category=PAYLOADS[0] if verdict == "confirm" else "",
                                         correction=payload, notes=payload)
    seed_problems_demo(project=project)
    _hostile_prompt(project, actor)
    for problem, payload in zip(Problem.objects.for_project(project).order_by("pk"), PAYLOADS, strict=False):
        problem_update(problem=problem, actor=actor, title=payload)
    _hostile_datasets(project, actor, turn_ids)
    _hostile_experiments(project)
    _hostile_change(project)

    widget_tokens = [_widget_token(api_key, turn_id, payload) for turn_id, payload in zip(turn_ids, PAYLOADS, strict=True)]
    for token, payload in zip(widget_tokens, PAYLOADS, strict=True):
        form = urllib.parse.urlencode({"rating": "down", "comment": payload, "correction": payload}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{base_url}/f/{token}", data=form, method="POST"), timeout=10).read()
    return World(
        email=owner_email, password=password, values=_values(organization, project),
        tokens={"feedback_widget": widget_tokens, "invitation_accept": invitation_tokens},
        extra_paths=[
            f"/orgs/{organization.slug}/projects/{project.pk}/sessions/?id={urllib.parse.quote(PAYLOADS[0])}",
            f"/orgs/{organization.slug}/projects/{project.pk}/turns/?signal={urllib.parse.quote(HOSTILE_KIND)}",
            f"/orgs/{organization.slug}/projects/{project.pk}/turns/?text={urllib.parse.quote(PAYLOADS[1])}&user={urllib.parse.quote(PAYLOADS[0])}",
            f"/orgs/{organization.slug}/projects/{project.pk}/problems/?status=all",
            f"/orgs/{organization.slug}/projects/{project.pk}/prompts/hostile-prompt/diff/?from=1&to=9",
            f"/orgs/{organization.slug}/projects/{project.pk}/end-users/?id={urllib.parse.quote(PAYLOADS[0])}",
            *experiment_extra_paths(organization, project),
        ],
    )


def _hostile_datasets(project, actor, turn_ids) -> None:
    """A dataset named by a payload, whose cases (from the turns and by hand), tags, splits, version
    messages and import errors are payloads too."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.datasets.services.changes import Author, cases_add, revision_new
    from apps.datasets.services.datasets import dataset_create
    from apps.datasets.services.imports import import_preview
    from apps.datasets.services.turns import cases_add_from_turns

    dataset = dataset_create(project=project, name=PAYLOADS[0].replace("/", "|")[:100], description=PAYLOADS[1], actor=actor)
    author = Author(user=actor.user, label=PAYLOADS[2][:254])
    cases_add_from_turns(dataset=dataset, author=author, turn_ids=turn_ids[:3], split=PAYLOADS[3][:64].strip() or "x",
                         tags=[PAYLOADS[4][:64]], message=PAYLOADS[5][:500])
    cases_add(dataset=dataset, author=author, message=PAYLOADS[0][:500], revisions=[
        revision_new({"input": payload, "expected_output": payload, "history": [{"role": "user", "content": payload}],
                      "context": {"doc": payload}, "metadata": {"system": payload}, "failure_category": payload[:64]},
                     source="hand") for payload in PAYLOADS])
    bad = "\n".join(json.dumps({"input": payload, payload: payload}) for payload in PAYLOADS).encode()
    import_preview(dataset=dataset, upload=SimpleUploadedFile("hostile.jsonl", bad), fmt=None, actor=actor)


def _hostile_change(project) -> None:
    """A change whose title and description are payloads, for the hostile prompt and the first problem,
    with a finished validation whose explanation is one too."""
    from apps.core.text import single_line
    from apps.experiments.models import Validation
    from apps.experiments.services.changes import change_create
    from tests.factories.experiments import AUTHOR

    problem = Problem.objects.for_project(project).order_by("pk").first()
    change = change_create(project=project, title=single_line(PAYLOADS[0])[:200] or "hostile change", prompt="hostile-prompt",
                           candidate=3, baseline=2, problems=[problem.pk] if problem else [], author=AUTHOR)
    Validation.objects.create(project=project, change=change, kind="offline", inputs={"kind": "offline", "note": PAYLOADS[1]},
                              inputs_hash="hostile", status="done", verdict="inconclusive",
                              report={"metrics": [], "explanation": PAYLOADS[2], "flipped": []})


def _hostile_experiments(project) -> None:
    """Two experiments on the hostile dataset whose names, outputs and errors are payloads."""
    from apps.datasets.models import Dataset
    from apps.datasets.selectors.datasets import revisions_at
    from apps.experiments.services.experiments import experiment_create, experiment_score, results_upload

    dataset = Dataset.objects.for_project(project).exclude(latest_version=0).order_by("-pk").first()
    ids = [str(c) for c in revisions_at(dataset=dataset, number=dataset.latest_version).values_list("case_id", flat=True)]
    for n, name in enumerate(PAYLOADS[:2]):
        from apps.core.text import single_line

        safe = single_line(name)[:200] or f"hostile {n}"
        experiment = experiment_create(project=project, name=safe, dataset=dataset.name, dataset_version=dataset.latest_version,
                                       configuration={"name": safe}, scorers=[{"name": "exact", "kind": "exact_match"}])
        results_upload(experiment=experiment, items=[
            {"case_id": case_id, "output": PAYLOADS[(i + n) % len(PAYLOADS)], "scores": {"posted": n},
             **({"error": payload} if i == 0 and n == 1 else {})}
            for i, (case_id, payload) in enumerate(zip(ids, PAYLOADS * 10))])
        experiment_score(experiment=experiment)
    # An endpoint run in progress (its page polls the progress block) whose URL and error are payloads.
    from apps.experiments.models import Experiment

    Experiment.objects.create(project=project, name="hostile endpoint run", dataset=dataset, dataset_version=dataset.latest_version,
                              source="endpoint", status="running", cases_total=len(ids), error=PAYLOADS[0],
                              endpoint_url="https://agent.hostile.test/run?q=" + PAYLOADS[1].replace(" ", "%20"))


def _invite_address(organization, acting: Membership, payload: str) -> str:
    """An address whose quoted local part is the payload (spaces are not allowed there, so they become /)."""
    local = payload.replace(" ", "/").replace('"', "'")
    _, token = invitation_create(organization=organization, acting=acting, email=f'"{local}"@hostile.test', role=Role.MEMBER,
                                 actor=Actor(user=acting.user))
    return token
