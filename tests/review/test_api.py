"""The review REST API: permission matrix (nothing changes on a denial), claim/decide/assign and
their error codes, blind review, agreement in the list, and the taxonomy."""

import pytest

from apps.core.permissions import object_permission_user_ids
from apps.core.audit import AuditAction
from apps.governance.models import AuditEvent
from apps.core.audit import SYSTEM
from apps.review.models import WORK_PERMISSION, Decision, ItemState, ReviewItem, ReviewQueue
from apps.review.services import queues as queue_services
from apps.traces.models import ReviewState, Turn
from tests.conftest import client_for
from tests.factories.traces import TurnFactory

pytestmark = pytest.mark.django_db


def _client(people, who):
    person = people[who]
    return client_for(getattr(person, "user", person), api=True)


def _base(project):
    return f"/api/v1/orgs/acme/projects/{project.pk}"


def _item(project, queue, **kwargs):
    turn = TurnFactory(project=project, input=kwargs.pop("input", "Where is my refund?"))
    return ReviewItem.objects.create(project=project, queue=queue, turn_id=turn.id, **kwargs)


def _snapshot(project, queue):
    return {
        "queues": sorted(ReviewQueue.objects.for_project(project).values_list("pk", "name", "lease_seconds", "reviewers_per_item")),
        "items": sorted(ReviewItem.objects.for_project(project).values_list("pk", "state", "claimed_by_id", "assigned_to_id")),
        "decisions": Decision.objects.for_project(project).count(),
        "grants": sorted(object_permission_user_ids(permission=WORK_PERMISSION, obj=queue)),
        "audit": AuditEvent.objects.for_org(project.organization).count(),
    }


WHO = ["anonymous", "outsider", "member", "unassigned reviewer", "assigned reviewer", "admin", "owner"]
REFUSED_ANON_OUTSIDER = {"anonymous": 403, "outsider": 404}
# Per action: the status for each caller. Queue-level actions 404 for whoever cannot see the queue.
MATRIX = {
    "list": {**REFUSED_ANON_OUTSIDER, "member": 200, "unassigned reviewer": 200, "assigned reviewer": 200, "admin": 200, "owner": 200},
    "retrieve": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 200, "admin": 200, "owner": 200},
    "create": {**REFUSED_ANON_OUTSIDER, "member": 403, "unassigned reviewer": 403, "assigned reviewer": 403, "admin": 201, "owner": 201},
    "update": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 403, "admin": 200, "owner": 200},
    "delete": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 403, "admin": 204, "owner": 204},
    "reviewers": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 403, "admin": 200, "owner": 200},
    "reviewer-add": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 403, "admin": 200, "owner": 200},
    "reviewer-remove": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 403, "admin": 204, "owner": 204},
    "items": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 200, "admin": 200, "owner": 200},
    "claim-next": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 200, "admin": 200, "owner": 200},
    "decision": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 409, "admin": 409, "owner": 409},
    "assign": {**REFUSED_ANON_OUTSIDER, "member": 404, "unassigned reviewer": 404, "assigned reviewer": 403, "admin": 200, "owner": 200},
    "taxonomy": {**REFUSED_ANON_OUTSIDER, "member": 200, "unassigned reviewer": 200, "assigned reviewer": 200, "admin": 200, "owner": 200},
    "taxonomy-put": {**REFUSED_ANON_OUTSIDER, "member": 403, "unassigned reviewer": 403, "assigned reviewer": 403, "admin": 200, "owner": 200},
}
WRITES = {"create", "update", "delete", "reviewer-add", "reviewer-remove", "claim-next", "decision", "assign", "taxonomy-put"}


def _call(client, action, project, queue, item, people):
    q = f"{_base(project)}/queues/{queue.pk}"
    unassigned = people["unassigned reviewer"]
    calls = {
        "list": ("get", f"{_base(project)}/queues", None),
        "retrieve": ("get", q, None),
        "create": ("post", f"{_base(project)}/queues", {"name": "New queue"}),
        "update": ("patch", q, {"lease_seconds": 300}),
        "delete": ("delete", q, None),
        "reviewers": ("get", f"{q}/reviewers", None),
        "reviewer-add": ("post", f"{q}/reviewers", {"member": unassigned.pk}),
        "reviewer-remove": ("delete", f"{q}/reviewers/{people['assigned reviewer'].pk}", None),
        "items": ("get", f"{q}/items", None),
        "claim-next": ("post", f"{q}/claim-next", None),
        "decision": ("post", f"{q}/items/{item.pk}/decision", {"verdict": "reject"}),
        "assign": ("post", f"{q}/items/{item.pk}/assign", {"member": people["assigned reviewer"].pk}),
        "taxonomy": ("get", f"{_base(project)}/taxonomy", None),
        "taxonomy-put": ("put", f"{_base(project)}/taxonomy", {"categories": [{"name": "billing", "description": ""}]}),
    }
    method, url, body = calls[action]
    return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("action", list(MATRIX))
def test_permission_matrix(project, queue, people, action, who):
    item = _item(project, queue)
    before = _snapshot(project, queue)

    response = _call(_client(people, who), action, project, queue, item, people)

    expected = MATRIX[action][who]
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["code"] == {403: ("not_authenticated" if who == "anonymous" else "permission_denied"),
                                           404: "not_found", 409: "not_claimed"}[expected]
        assert _snapshot(project, queue) == before
    elif action not in WRITES:
        assert _snapshot(project, queue) == before


def test_another_organizations_owner_gets_404_for_every_queue_route(project, queue, people, outsider):
    item = _item(project, queue)
    client = client_for(outsider, api=True)
    before = _snapshot(project, queue)

    statuses = {action: _call(client, action, project, queue, item, people).status_code for action in MATRIX}

    assert set(statuses.values()) == {404}
    assert _snapshot(project, queue) == before


def test_reviewers_list_only_their_queues_with_progress_and_agreement(project, queue, second_level, people):
    _item(project, queue)

    mine = _client(people, "assigned reviewer").get(f"{_base(project)}/queues").json()
    every = _client(people, "admin").get(f"{_base(project)}/queues").json()

    assert [q["name"] for q in mine] == ["Thumbs-down"]
    assert [q["name"] for q in every] == ["Second level", "Thumbs-down"]
    assert mine[0]["progress"] == {"pending": 1, "claimed": 0, "done_today": 0, "median_seconds": None}
    assert mine[0]["agreement"] == {"items": 0, "unanimous_percent": None, "kappa": None}
    assert (mine[0]["reviewers_per_item"], mine[0]["blind"], mine[0]["escalate_to"]) == (1, False, second_level.pk)


def test_admin_creates_updates_and_deletes_a_queue(project, second_level, people):
    client = _client(people, "admin")

    created = client.post(f"{_base(project)}/queues", {
        "name": "Blind pair", "reviewers_per_item": 2, "blind": True, "escalate_to": second_level.pk,
        "routing": {"signal_kinds": ["rephrase"], "priority": 4},
    }, format="json")
    url = f"{_base(project)}/queues/{created.json()['id']}"
    updated = client.patch(url, {"reviewers_per_item": 3, "blind": False}, format="json")
    bad = client.patch(url, {"reviewers_per_item": 9}, format="json")
    unknown = client.patch(url, {"escalate_to": 999999}, format="json")
    deleted = client.delete(url)

    assert created.status_code == 201
    assert (created.json()["routing"], created.json()["blind"]) == ({"signal_kinds": ["rephrase"], "any_turn": False, "priority": 4, "sample_percent": 100}, True)
    assert (updated.json()["reviewers_per_item"], updated.json()["blind"]) == (3, False)
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (400, "invalid", "reviewers_per_item")
    assert (unknown.status_code, unknown.json()["code"], unknown.json()["field"]) == (400, "unknown_queue", "escalate_to")
    assert deleted.status_code == 204
    assert not ReviewQueue.objects.for_project(project).filter(name="Blind pair").exists()


def test_a_duplicate_queue_name_has_a_stable_code(project, queue, people):
    response = _client(people, "admin").post(f"{_base(project)}/queues", {"name": "Thumbs-down"}, format="json")

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "duplicate_name", "name")


def test_admin_assigns_and_removes_reviewers_who_then_get_404(project, queue, people):
    client = _client(people, "admin")
    newcomer = people["unassigned reviewer"]
    url = f"{_base(project)}/queues/{queue.pk}"

    added = client.post(f"{url}/reviewers", {"member": newcomer.pk}, format="json")
    sees = _client(people, "unassigned reviewer").get(url).status_code
    removed = client.delete(f"{url}/reviewers/{newcomer.pk}")
    foreign = client.post(f"{url}/reviewers", {"member": 999999}, format="json")

    assert [r["email"] for r in added.json()] == ["assigned@acme.test", "reviewer@acme.test"]
    assert (sees, removed.status_code) == (200, 204)
    assert _client(people, "unassigned reviewer").get(url).status_code == 404
    assert (foreign.status_code, foreign.json()["code"], foreign.json()["field"]) == (400, "unknown_member", "member")


def test_claim_next_returns_the_item_with_its_turn_then_decide(project, queue, people):
    item = _item(project, queue, input="Cancel my plan")
    client = _client(people, "assigned reviewer")
    q = f"{_base(project)}/queues/{queue.pk}"

    claimed = client.post(f"{q}/claim-next")
    again = client.post(f"{q}/claim-next")
    decided = client.post(f"{q}/items/{item.pk}/decision", {
        "verdict": "confirm", "category": "tone", "correction": "Sure, cancelled.", "notes": "curt"}, format="json")
    empty = client.post(f"{q}/claim-next")

    body = claimed.json()
    assert claimed.status_code == 200
    assert (body["item"]["id"], body["item"]["state"], body["item"]["claimed_by"]) == (item.pk, "claimed", "assigned@acme.test")
    assert (body["turn"]["id"], body["turn"]["question"]) == (str(item.turn_id), "Cancel my plan")
    assert body["decisions"] == []
    assert again.json()["item"]["id"] == item.pk
    assert decided.status_code == 201
    assert decided.json()["decision"]["verdict"] == "confirm" and decided.json()["item"]["state"] == "confirmed"
    assert empty.status_code == 204
    assert Turn.objects.for_project(project).get(id=item.turn_id).review_state == ReviewState.REVIEWED


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"verdict": "maybe"}, 400, "invalid", "verdict"),
        ({"verdict": "confirm"}, 400, "category_required", "category"),
        ({"verdict": "confirm", "category": "nonsense"}, 400, "unknown_category", "category"),
        ({"verdict": "escalate"}, 400, "no_second_level", "verdict"),
    ],
)
def test_decision_errors_have_stable_codes(project, second_level, people, body, status, code, field):
    queue_services.review_queue_assign(queue=second_level, membership=people["assigned reviewer"], actor=SYSTEM)
    item = _item(project, second_level)
    client = _client(people, "assigned reviewer")
    q = f"{_base(project)}/queues/{second_level.pk}"
    client.post(f"{q}/claim-next")

    response = client.post(f"{q}/items/{item.pk}/decision", body, format="json")

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (status, code, field)
    assert Decision.objects.for_project(project).count() == 0


def test_a_decision_on_an_item_held_by_someone_else_is_not_claimed(project, queue, people):
    item = _item(project, queue)
    q = f"{_base(project)}/queues/{queue.pk}"
    _client(people, "admin").post(f"{q}/claim-next")

    response = _client(people, "assigned reviewer").post(f"{q}/items/{item.pk}/decision", {"verdict": "reject"}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "not_claimed")
    assert Decision.objects.for_project(project).count() == 0


def test_items_list_filters_by_state(project, queue, people):
    pending = _item(project, queue)
    done = _item(project, queue, state=ItemState.REJECTED)
    url = f"{_base(project)}/queues/{queue.pk}/items"
    client = _client(people, "assigned reviewer")

    every = client.get(url).json()["results"]
    only_pending = client.get(url, {"state": "pending"}).json()["results"]
    several = client.get(f"{url}?state=pending&state=rejected").json()["results"]
    bad = client.get(url, {"state": "nope"})

    assert sorted(i["id"] for i in every) == sorted([pending.pk, done.pk])
    assert [i["id"] for i in only_pending] == [pending.pk]
    assert sorted(i["id"] for i in several) == sorted([pending.pk, done.pk])
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (400, "invalid", "state")


def test_assign_item_codes(project, queue, people):
    item = _item(project, queue)
    done = _item(project, queue, state=ItemState.CONFIRMED)
    client = _client(people, "admin")
    q = f"{_base(project)}/queues/{queue.pk}"

    ok = client.post(f"{q}/items/{item.pk}/assign", {"member": people["assigned reviewer"].pk}, format="json")
    not_reviewer = client.post(f"{q}/items/{item.pk}/assign", {"member": people["unassigned reviewer"].pk}, format="json")
    closed = client.post(f"{q}/items/{done.pk}/assign", {"member": people["assigned reviewer"].pk}, format="json")
    released = client.post(f"{q}/items/{item.pk}/assign", {"member": None}, format="json")

    assert (ok.status_code, ok.json()["assigned_to"]) == (200, "assigned@acme.test")
    assert (not_reviewer.status_code, not_reviewer.json()["code"], not_reviewer.json()["field"]) == (400, "not_a_queue_reviewer", "member")
    assert (closed.status_code, closed.json()["code"]) == (409, "item_closed")
    assert (released.status_code, released.json()["assigned_to"]) == (200, None)
    assert AuditEvent.objects.for_org(project.organization).filter(action=AuditAction.REVIEW_ASSIGNED).count() == 2


@pytest.mark.parametrize("blind", [True, False], ids=["blind", "open"])
def test_blind_review_hides_earlier_verdicts_in_the_api(project, queue, people, blind):
    queue = queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=2, blind=blind)
    item = _item(project, queue)
    q = f"{_base(project)}/queues/{queue.pk}"
    first, second = _client(people, "assigned reviewer"), _client(people, "admin")
    first.post(f"{q}/claim-next")
    first.post(f"{q}/items/{item.pk}/decision", {"verdict": "reject", "notes": "secret-note-x1"}, format="json")

    claimed = second.post(f"{q}/claim-next")

    assert claimed.json()["item"]["id"] == item.pk and claimed.json()["item"]["decisions"] == 1
    if blind:
        assert claimed.json()["decisions"] is None
        assert "secret-note-x1" not in claimed.content.decode()
    else:
        assert [(d["verdict"], d["notes"]) for d in claimed.json()["decisions"]] == [("reject", "secret-note-x1")]


def test_agreement_shows_in_the_api_list(project, queue, people):
    queue = queue_services.review_queue_update(queue=queue, actor=SYSTEM, reviewers_per_item=2)
    agreed, split = _item(project, queue, priority=2), _item(project, queue, priority=1)
    q = f"{_base(project)}/queues/{queue.pk}"
    for verdicts in (("confirm", "confirm"), ("confirm", "reject")):
        for who, verdict in zip(("assigned reviewer", "admin"), verdicts):
            client = _client(people, who)
            held = client.post(f"{q}/claim-next").json()["item"]["id"]
            client.post(f"{q}/items/{held}/decision", {"verdict": verdict, "category": "tone" if verdict == "confirm" else ""}, format="json")

    listed = _client(people, "admin").get(f"{_base(project)}/queues/{queue.pk}").json()

    assert listed["agreement"] == {"items": 2, "unanimous_percent": 50.0, "kappa": -0.333}
    assert ReviewItem.objects.for_project(project).get(pk=agreed.pk).state == ItemState.CONFIRMED
    assert ReviewItem.objects.for_project(project).get(pk=split.pk).state == ItemState.ESCALATED


def test_taxonomy_api_round_trip_and_validation(project, people):
    client = _client(people, "admin")
    url = f"{_base(project)}/taxonomy"

    default = client.get(url).json()
    saved = client.put(url, {"categories": [{"name": "billing", "description": "Wrong amounts"}, {"name": "tone"}]}, format="json")
    duplicate = client.put(url, {"categories": [{"name": "tone"}, {"name": "TONE"}]}, format="json")
    empty = client.put(url, {"categories": []}, format="json")

    assert [c["name"] for c in default["categories"]][:2] == ["hallucination", "retrieval miss"]
    assert saved.json() == {"categories": [{"name": "billing", "description": "Wrong amounts"}, {"name": "tone", "description": ""}]}
    assert (duplicate.status_code, duplicate.json()["code"], duplicate.json()["field"]) == (400, "duplicate_category", "categories")
    assert (empty.status_code, empty.json()["field"]) == (400, "categories")
    assert client.get(url).json() == saved.json()
