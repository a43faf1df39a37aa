"""Backlog pages and REST API: permission matrix (nothing changes on a denial), error codes,
the ranked list with its factors, and the reviewer's actions through both doors."""

from __future__ import annotations

import pytest

from apps.core.roles import Role
from apps.governance.models import AuditEvent
from apps.problems.models import Problem, ProblemStatus, ProblemTurn
from tests.conftest import client_for
from tests.problems.conftest import flagged_turn, run

pytestmark = pytest.mark.django_db

REFUNDS = ["How do I get a refund for my annual plan?", "I want a refund on my annual subscription", "refund annual plan please"]
PASSWORDS = ["How do I reset my password?", "forgot my password, how do I reset it", "password reset link is not working"]


@pytest.fixture
def problems(project):
    for text in REFUNDS:
        flagged_turn(project, text, kinds=["escalation"])
    for text in PASSWORDS:
        flagged_turn(project, text)
    run(project)
    return list(Problem.objects.for_project(project).order_by("-pain"))


def _snapshot(project):
    return (
        sorted(Problem.objects.for_project(project).values_list("pk", "title", "status", "cause_state", "merged_into_id")),
        sorted(ProblemTurn.objects.for_project(project).values_list("turn_id", "problem_id", "pinned")),
        AuditEvent.objects.for_org(project.organization).count(),
    )


def _who(role, members, outsider):
    if role == "anonymous":
        return None
    return outsider if role == "outsider" else members[role].user


WHO = ["anonymous", "outsider", Role.MEMBER, Role.REVIEWER, Role.ADMIN]


@pytest.mark.parametrize("role", WHO)
def test_html_permission_matrix(role, project, problems, members, outsider):
    client = client_for(_who(role, members, outsider))
    base = f"/orgs/acme/projects/{project.pk}/problems/"
    detail = f"{base}{problems[0].pk}/"
    before = _snapshot(project)

    statuses = (client.get(base).status_code, client.get(detail).status_code,
                client.post(f"{detail}status/", {"status": "fixing"}).status_code)

    expected = {
        "anonymous": (302, 302, 302), "outsider": (404, 404, 404), Role.MEMBER: (200, 200, 403),
        Role.REVIEWER: (200, 200, 302), Role.ADMIN: (200, 200, 302),
    }[role]
    assert statuses == expected
    if role not in (Role.REVIEWER, Role.ADMIN):
        assert _snapshot(project) == before
    else:
        assert Problem.objects.for_project(project).get(pk=problems[0].pk).status == ProblemStatus.FIXING


@pytest.mark.parametrize("role", WHO)
def test_api_permission_matrix(role, project, problems, members, outsider):
    client = client_for(_who(role, members, outsider), api=True)
    base = f"/api/v1/orgs/acme/projects/{project.pk}/problems/"
    before = _snapshot(project)

    statuses = (client.get(base).status_code, client.get(f"{base}{problems[0].pk}/").status_code,
                client.patch(f"{base}{problems[0].pk}/", {"status": "fixing"}, format="json").status_code)

    expected = {
        "anonymous": (403, 403, 403), "outsider": (404, 404, 404), Role.MEMBER: (200, 200, 403),
        Role.REVIEWER: (200, 200, 200), Role.ADMIN: (200, 200, 200),
    }[role]
    assert statuses == expected
    if expected[2] != 200:
        assert _snapshot(project) == before


def test_the_backlog_page_shows_the_ranking_its_factors_and_the_formula(project, problems, members, login):
    response = login(members[Role.MEMBER].user).get(f"/orgs/acme/projects/{project.pk}/problems/")

    body = response.content.decode()
    assert response.status_code == 200
    assert [p.pk for p in response.context["problems"]] == [p.pk for p in problems]
    assert "pain = (U + ¼·T) × S × R × G" in body
    assert problems[0].title in body and problems[1].title in body


def test_the_backlog_page_explains_a_bad_filter(project, problems, members, login):
    response = login(members[Role.MEMBER].user).get(f"/orgs/acme/projects/{project.pk}/problems/", {"status": "nope"})

    assert response.status_code == 400
    assert "Unknown status filter" in response.content.decode()


def test_the_problem_page_lists_its_turns_with_links_to_the_replay(project, problems, members, login):
    problem = problems[0]
    member = ProblemTurn.objects.for_project(project).filter(problem=problem).first()

    response = login(members[Role.REVIEWER].user).get(f"/orgs/acme/projects/{project.pk}/problems/{problem.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert f"/orgs/acme/projects/{project.pk}/turns/{member.turn_id}/" in body
    assert 'name="turn_ids"' in body


def test_the_problem_page_pages_through_every_turn_and_splits_from_an_older_page(project, members, login, monkeypatch):
    # Given a problem of five turns, shown two a page
    import re

    from apps.problems import views

    monkeypatch.setattr(views, "MEMBERS_SHOWN", 2)
    for text in ["refund annual plan please", "refund my annual plan", "annual plan refund", "refund the annual plan",
                 "I want a refund on my annual plan"]:
        flagged_turn(project, text, kinds=["escalation"])
    run(project)
    problem = Problem.objects.for_project(project).get()
    assert problem.turn_count == 5
    members_at = ProblemTurn.objects.for_project(project).filter(problem=problem)
    members_at.filter(turn_id__in=list(members_at.values_list("turn_id", flat=True)[:3])).update(
        turn_created_at=members_at.first().turn_created_at
    )  # three turns at one instant: the page boundary falls inside the tie
    client = login(members[Role.REVIEWER].user)
    url = f"/orgs/acme/projects/{project.pk}/problems/{problem.pk}/"

    # When the reviewer follows "Older turns" to the end
    seen, pages, link = [], [], url
    while link:
        body = client.get(link).content.decode()
        page = re.findall(r'name="turn_ids" value="([0-9a-f-]+)"', body)
        pages.append(len(page))
        seen += page
        older = re.search(r'href="[^"?]*\?after=([^"]+)" data-testid="older-members"', body)
        link = f"{url}?after={older.group(1)}" if older else None

    # Then every turn showed once, newest first, two a page
    expected = ProblemTurn.objects.for_project(project).filter(problem=problem).order_by("-turn_created_at", "turn_id")
    assert seen == [str(t) for t in expected.values_list("turn_id", flat=True)]
    assert pages == [2, 2, 1]

    # And a turn of the last page splits off
    split = client.post(f"{url}split/", {"turn_ids": [seen[-1]], "title": "Oldest"})
    assert split.status_code == 302
    assert Problem.objects.for_project(project).get(title="Oldest").turn_count == 1

    # And a page link it did not make is a readable error that shows the newest turns
    bad = client.get(f"{url}?after=not-a-cursor")
    assert bad.status_code == 400
    assert "This page link is not valid" in bad.content.decode()
    assert len(re.findall(r'name="turn_ids"', bad.content.decode())) == 2


def test_a_member_sees_no_reviewer_controls(project, problems, members, login):
    response = login(members[Role.MEMBER].user).get(f"/orgs/acme/projects/{project.pk}/problems/{problems[0].pk}/")

    assert 'name="turn_ids"' not in response.content.decode()
    assert 'data-testid="problem-actions"' not in response.content.decode()


def test_html_merge_and_split_and_the_merged_page_redirects(project, problems, members, login):
    client = login(members[Role.REVIEWER].user)
    a, b = problems
    url = f"/orgs/acme/projects/{project.pk}/problems/"

    merged = client.post(f"{url}{b.pk}/merge/", {"into": str(a.pk)})
    redirect = client.get(f"{url}{b.pk}/")
    turn_ids = [str(t) for t in ProblemTurn.objects.for_project(project).filter(problem=a).values_list("turn_id", flat=True)[:2]]
    split = client.post(f"{url}{a.pk}/split/", {"turn_ids": turn_ids, "title": "Split off"})

    assert (merged.status_code, merged["Location"]) == (302, f"{url}{a.pk}/")
    assert (redirect.status_code, redirect["Location"]) == (302, f"{url}{a.pk}/")
    new = Problem.objects.for_project(project).get(title="Split off")
    assert (split.status_code, split["Location"], new.turn_count) == (302, f"{url}{new.pk}/", 2)


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("merge", {"into": "abc"}, "No such problem in this project."),
        ("split", {}, "Select at least one turn to split off."),
        ("rename", {"title": ""}, "The title cannot be empty."),
        ("status", {"status": "merged"}, "Status is one of"),
        ("cause", {"verdict": "maybe"}, "The verdict is"),
    ],
)
def test_html_bad_input_is_a_readable_message(project, problems, members, login, action, data, message):
    before = _snapshot(project)

    response = login(members[Role.REVIEWER].user).post(
        f"/orgs/acme/projects/{project.pk}/problems/{problems[0].pk}/{action}/", data
    )

    assert response.status_code in (400, 409)
    assert message in response.content.decode()
    assert _snapshot(project) == before


def test_each_reviewer_form_posts_to_its_own_action(project, problems, members, login):
    # Given a problem with a proposed cause, shown to a reviewer
    import re

    problem = next(p for p in problems if p.cause)
    detail = f"/orgs/acme/projects/{project.pk}/problems/{problem.pk}/"

    # When the page is read
    body = login(members[Role.REVIEWER].user).get(detail).content.decode()

    # Then every form names its action's own URL, and no form switches on a hidden field
    assert re.findall(r'<form method="post" action="([^"]+/problems/[^"]+)"', body) == [
        f"{detail}cause/", f"{detail}rename/", f"{detail}status/", f"{detail}merge/", f"{detail}split/",
    ]
    assert 'name="action"' not in body


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("rename", {"title": "Refunds of annual plans"}, "Renamed."),
        ("status", {"status": "fixing"}, "Status saved."),
        ("cause", {"verdict": "confirm"}, "Cause reviewed."),
    ],
)
def test_an_action_redirects_to_the_page_with_its_message(project, problems, members, login, action, data, message):
    client = login(members[Role.REVIEWER].user)
    problem = next(p for p in problems if p.cause)
    detail = f"/orgs/acme/projects/{project.pk}/problems/{problem.pk}/"

    response = client.post(f"{detail}{action}/", data, follow=True)

    assert response.redirect_chain == [(detail, 302)]
    assert message in response.content.decode()


def test_the_page_takes_no_post_and_an_action_takes_no_get(project, problems, members, login):
    client = login(members[Role.REVIEWER].user)
    detail = f"/orgs/acme/projects/{project.pk}/problems/{problems[0].pk}/"
    before = _snapshot(project)

    statuses = (
        client.post(detail, {"action": "status", "status": "fixing"}).status_code,
        client.get(f"{detail}status/").status_code,
        client.post(f"{detail}explode/").status_code,
    )

    assert statuses == (405, 405, 404)
    assert _snapshot(project) == before


def test_api_list_is_ranked_with_factors(project, problems, members, login):
    response = login(members[Role.MEMBER].user, api=True).get(f"/api/v1/orgs/acme/projects/{project.pk}/problems/")

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 2
    first = body["results"][0]
    assert first["id"] == problems[0].pk
    assert first["factors"] == {"users": 3, "turns": 3, "severity": 5.0, "recency": first["factors"]["recency"],
                                "trend": 2.0, "last_7d": 3, "previous_7d": 0}
    assert first["pain"] == problems[0].pain


def test_api_retrieve_has_evidence_and_turn_ids(project, problems, members, login):
    response = login(members[Role.MEMBER].user, api=True).get(f"/api/v1/orgs/acme/projects/{project.pk}/problems/{problems[0].pk}/")

    body = response.json()
    assert sorted(body["turn_ids"]) == sorted(str(t) for t in ProblemTurn.objects.for_project(project).filter(problem=problems[0]).values_list("turn_id", flat=True))
    assert body["turn_ids_truncated"] is False
    assert body["evidence"]["turns"] == 3


@pytest.mark.parametrize(
    ("method", "suffix", "data", "status", "code", "field"),
    [
        ("patch", "", {"status": "done"}, 400, "invalid_status", "status"),
        ("patch", "", {"title": " "}, 400, "invalid_title", "title"),
        ("patch", "", {}, 400, "required", None),
        ("post", "merge/", {"into": 999999}, 400, "unknown_problem", "into"),
        ("post", "merge/", {"into": "x"}, 400, "invalid", "into"),
        ("post", "merge/", {}, 400, "invalid", "into"),
        ("post", "split/", {"turn_ids": ["nope"]}, 400, "invalid", "turn_ids"),
        ("post", "split/", {"turn_ids": ["6b1f3a52-54d8-4f6a-9a67-9b2d8a7b1c01"]}, 400, "not_member", "turn_ids"),
        ("post", "cause/", {"verdict": "maybe"}, 400, "invalid_verdict", "verdict"),
    ],
)
def test_api_errors_have_stable_codes(project, problems, members, login, method, suffix, data, status, code, field):
    client = login(members[Role.REVIEWER].user, api=True)
    before = _snapshot(project)

    response = getattr(client, method)(f"/api/v1/orgs/acme/projects/{project.pk}/problems/{problems[0].pk}/{suffix}", data, format="json")

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (status, code, field)
    assert _snapshot(project) == before


def test_api_merge_split_and_cause(project, problems, members, login):
    client = login(members[Role.REVIEWER].user, api=True)
    a, b = problems
    base = f"/api/v1/orgs/acme/projects/{project.pk}/problems/"

    merged = client.post(f"{base}{b.pk}/merge/", {"into": a.pk}, format="json")
    again = client.post(f"{base}{b.pk}/merge/", {"into": a.pk}, format="json")
    split = client.post(f"{base}{a.pk}/split/", {"turn_ids": merged.json()["turn_ids"][:1]}, format="json")

    assert (merged.status_code, merged.json()["id"], merged.json()["factors"]["turns"]) == (200, a.pk, 6)
    assert (again.status_code, again.json()["code"]) == (409, "problem_merged")
    assert (split.status_code, split.json()["factors"]["turns"]) == (201, 1)
    assert client.get(f"{base}{b.pk}/").json()["merged_into"] == a.pk


def test_another_projects_problem_is_404_and_absent(project, other_project, problems, members, login):
    flagged_turn(other_project, "Secret other problem x9q")
    run(other_project)
    foreign = Problem.objects.for_project(other_project).get()
    client = login(members[Role.ADMIN].user, api=True)

    detail = client.get(f"/api/v1/orgs/acme/projects/{project.pk}/problems/{foreign.pk}/")
    merge = client.post(f"/api/v1/orgs/acme/projects/{project.pk}/problems/{problems[0].pk}/merge/", {"into": foreign.pk}, format="json")
    listing = client.get(f"/api/v1/orgs/acme/projects/{project.pk}/problems/?status=all")

    assert detail.status_code == 404
    assert (merge.status_code, merge.json()["code"]) == (400, "unknown_problem")
    assert "x9q" not in listing.content.decode()
    assert Problem.objects.for_project(other_project).get().status == ProblemStatus.OPEN


def test_a_blank_status_filter_is_refused_not_read_as_absent(project, login, members):
    from apps.core.roles import Role

    client = login(members[Role.MEMBER].user, api=True)

    response = client.get(f"/api/v1/orgs/acme/projects/{project.pk}/problems/?status=")

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "invalid", "status")
