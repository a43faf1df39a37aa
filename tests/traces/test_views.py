"""The capture UI: explorer filters and keyset pages, replay, session, waiting, overview counts."""

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core.roles import Role
from apps.traces import presenters, selectors
from tests.conftest import client_for
from tests.factories.traces import FeedbackFactory, SignalFactory, StepFactory, TurnFactory

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def member(members):
    return members[Role.MEMBER].user


@pytest.fixture
def client(member):
    return client_for(member)


def url(name, project, **kwargs):
    return reverse(name, kwargs={"org": project.organization.slug, "project": project.pk, **kwargs})


def turn_ids(response) -> list[str]:
    return re.findall(r'data-turn="([0-9a-f-]{36})"', response.content.decode())


def explore(client, project, **params):
    return client.get(url("turn_list", project), params)


# --- explorer -------------------------------------------------------------------------------


def test_explorer_lists_turns_newest_first_with_their_signals(client, project):
    old = TurnFactory(project=project, created_at=NOW - dt.timedelta(hours=2), input="How do I reset?",
                      output="Click reset.", model="gpt-x", prompt_version="v3")
    new = TurnFactory(project=project, created_at=NOW - dt.timedelta(hours=1))
    SignalFactory(turn=old, kind="thumbs_down")
    SignalFactory(turn=old, kind="thumbs_down", source="widget")

    response = explore(client, project)

    body = response.content.decode()
    assert response.status_code == 200
    assert turn_ids(response) == [str(new.id), str(old.id)]
    assert body.count('class="badge signal-bad">thumbs_down<') == 1
    assert "How do I reset?" in body and "Click reset." in body and "gpt-x" in body and "v3" in body
    assert f"?id={old.session_id}" in body


@pytest.fixture
def population(project):
    """Turns that differ in one attribute each, and one turn of another project with every attribute."""
    base = {"project": project, "end_user_id": "u-other", "session_id": "s-other"}
    turns = {
        "plain": TurnFactory(**base, created_at=NOW - dt.timedelta(days=10)),
        "user": TurnFactory(**{**base, "end_user_id": "alice"}, created_at=NOW - dt.timedelta(days=9)),
        "session": TurnFactory(**{**base, "session_id": "conv-42"}, created_at=NOW - dt.timedelta(days=8)),
        "prompt": TurnFactory(**base, prompt_version="v7", created_at=NOW - dt.timedelta(days=7)),
        "model": TurnFactory(**base, model="claude-x", created_at=NOW - dt.timedelta(days=6)),
        "variant": TurnFactory(**base, variant="B", created_at=NOW - dt.timedelta(days=5)),
        "text": TurnFactory(**base, output="Your refund was approved", created_at=NOW - dt.timedelta(days=4)),
        "signal": TurnFactory(**base, created_at=NOW - dt.timedelta(days=3)),
        "up": TurnFactory(**base, created_at=NOW - dt.timedelta(days=2)),
        "down": TurnFactory(**base, created_at=NOW - dt.timedelta(days=1, hours=1)),
        "comment": TurnFactory(**base, created_at=NOW - dt.timedelta(hours=3)),
    }
    SignalFactory(turn=turns["signal"], kind="escalation")
    FeedbackFactory(turn=turns["up"], rating="up")
    FeedbackFactory(turn=turns["down"], rating="down", correction="The right answer")
    FeedbackFactory(turn=turns["comment"], rating="", comment="meh")
    return turns


@pytest.mark.parametrize(("params", "expected"), [
    ({"user": "alice"}, ["user"]),
    ({"session": "conv-42"}, ["session"]),
    ({"prompt_version": "v7"}, ["prompt"]),
    ({"model": "claude-x"}, ["model"]),
    ({"variant": "B"}, ["variant"]),
    ({"text": "refund"}, ["text"]),
    ({"signal": "escalation"}, ["signal"]),
    ({"feedback": "any"}, ["comment", "down", "up"]),
    ({"feedback": "up"}, ["up"]),
    ({"feedback": "down"}, ["down"]),
    ({"feedback": "comment"}, ["comment"]),
    ({"feedback": "correction"}, ["down"]),
])
def test_each_filter_narrows_to_the_matching_turns(client, project, other_project, population, params, expected):
    TurnFactory(project=other_project, end_user_id="alice", session_id="conv-42", prompt_version="v7",
                model="claude-x", variant="B", output="refund")

    response = explore(client, project, **params)

    assert response.status_code == 200
    assert turn_ids(response) == [str(population[name].id) for name in expected]


def test_date_range_includes_both_whole_days(client, project, population):
    since = (NOW - dt.timedelta(days=9)).date()
    until = (NOW - dt.timedelta(days=7)).date()

    response = explore(client, project, since=since.isoformat(), until=until.isoformat())

    assert turn_ids(response) == [str(population[name].id) for name in ("prompt", "session", "user")]


def test_extreme_dates_are_not_an_error(client, project, population):
    response = explore(client, project, since="0001-01-01", until="9999-12-31")

    assert response.status_code == 200
    assert len(turn_ids(response)) == len(population)


def test_filters_combine(client, project, population):
    TurnFactory(project=project, end_user_id="alice", model="claude-x")

    response = explore(client, project, user="alice", model="claude-x")

    assert len(turn_ids(response)) == 1


@pytest.mark.parametrize(("params", "message"), [
    ({"since": "yesterday"}, "Enter a valid date."),
    ({"since": "2026-02-10", "until": "2026-02-01"}, "The end date is before the start date."),
    ({"signal": "<b>bad kind</b>"}, "Not a signal kind."),
    ({"feedback": "sideways"}, "Select a valid choice."),
    ({"after": "not-a-cursor"}, "This page link is not valid"),
    ({"user": "x" * 201}, "Ensure this value has at most 200 characters"),
])
def test_invalid_filters_are_a_readable_form_error(client, project, params, message):
    TurnFactory(project=project)

    response = explore(client, project, **params)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert turn_ids(response) == []


def test_a_custom_signal_kind_not_in_the_dropdown_is_still_a_valid_filter(client, project):
    turn = TurnFactory(project=project)
    SignalFactory(turn=turn, kind="refund_requested")

    response = explore(client, project, signal="refund_requested")

    assert turn_ids(response) == [str(turn.id)]


def test_pagination_walks_every_turn_once_including_equal_timestamps(client, project, monkeypatch):
    monkeypatch.setattr("apps.traces.views.PAGE_SIZE", 4)
    same_time = NOW - dt.timedelta(minutes=5)
    turns = [TurnFactory(project=project, created_at=same_time) for _ in range(5)]
    turns += [TurnFactory(project=project, created_at=NOW - dt.timedelta(minutes=i)) for i in range(6)]
    expected = [str(t.id) for t in sorted(turns, key=lambda t: (t.created_at, t.id), reverse=True)]

    seen, query, pages = [], "", 0
    while True:
        response = client.get(url("turn_list", project) + query)
        assert response.status_code == 200
        seen += turn_ids(response)
        pages += 1
        match = re.search(r'href="\?([^"]*after=[^"]+)"[^>]*data-testid="older"', response.content.decode())
        if not match:
            break
        query = "?" + match.group(1).replace("&amp;", "&")

    assert seen == expected
    assert pages == 3


def test_pagination_keeps_the_filters(client, project, monkeypatch):
    monkeypatch.setattr("apps.traces.views.PAGE_SIZE", 2)
    mine = [TurnFactory(project=project, end_user_id="alice", created_at=NOW - dt.timedelta(minutes=i)) for i in range(3)]
    TurnFactory(project=project, end_user_id="bob", created_at=NOW - dt.timedelta(minutes=10))

    first = explore(client, project, user="alice")
    cursor = re.search(r"after=([A-Za-z0-9_-]+)", first.content.decode()).group(1)
    second = explore(client, project, user="alice", after=cursor)

    assert turn_ids(first) + turn_ids(second) == [str(t.id) for t in mine]
    assert 'data-testid="older"' not in second.content.decode()


def test_htmx_older_request_gets_only_the_rows(client, project, monkeypatch):
    monkeypatch.setattr("apps.traces.views.PAGE_SIZE", 1)
    TurnFactory(project=project, created_at=NOW)
    older = TurnFactory(project=project, created_at=NOW - dt.timedelta(minutes=1))
    cursor = re.search(r"after=([A-Za-z0-9_-]+)", explore(client, project).content.decode()).group(1)

    response = client.get(url("turn_list", project), {"after": cursor}, HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert turn_ids(response) == [str(older.id)]
    assert "<html" not in body and "<form" not in body


def test_explorer_without_turns_says_how_to_send_one(client, project):
    response = explore(client, project)

    assert response.status_code == 200
    assert 'data-testid="no-turns"' in response.content.decode()


# --- replay ---------------------------------------------------------------------------------


@pytest.fixture
def full_turn(project):
    turn = TurnFactory(
        project=project, input="Where is my order?", output="It shipped yesterday.", session_id="conv-1",
        end_user_id="u-1", history=[{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "hello!"}],
        prompt_version="v12", model="gpt-x", variant="B", metadata={"plan": "pro"},
        retrieved=[{"id": "kb-17", "score": 0.82, "text": "Orders ship in 2 days."}],
        tool_calls=[{"name": "track_order", "arguments": {"order": 5}, "result": {"status": "shipped"}}],
    )
    start = NOW - dt.timedelta(seconds=10)
    StepFactory(turn=turn, span_id="root", kind="other", name="agent run", started_at=start,
                ended_at=start + dt.timedelta(milliseconds=900))
    StepFactory(turn=turn, span_id="llm1", parent_span_id="root", kind="llm", name="plan",
                started_at=start + dt.timedelta(milliseconds=100), ended_at=start + dt.timedelta(milliseconds=400),
                input={"messages": 3}, output="call track_order")
    StepFactory(turn=turn, span_id="tool1", parent_span_id="llm1", kind="tool", name="track_order",
                started_at=start + dt.timedelta(milliseconds=450), ended_at=start + dt.timedelta(milliseconds=800),
                error="timeout once, retried")
    SignalFactory(turn=turn, kind="thumbs_down", value=True, source="widget")
    SignalFactory(turn=turn, kind="low_confidence", value=0.2, source="detector")
    FeedbackFactory(turn=turn, rating="down", comment="Wrong date", correction="It ships tomorrow.", source="widget")
    return turn


def test_replay_shows_everything_about_the_turn(client, project, full_turn):
    response = client.get(url("turn_detail", project, turn=full_turn.id))

    body = response.content.decode()
    assert response.status_code == 200
    for text in ["Where is my order?", "It shipped yesterday.", "hi there", "hello!", "v12", "gpt-x", "u-1",
                 "kb-17", "0.82", "Orders ship in 2 days.", "track_order", "&quot;order&quot;: 5",
                 "&quot;status&quot;: &quot;shipped&quot;", "&quot;plan&quot;: &quot;pro&quot;",
                 "agent run", "call track_order", "timeout once, retried", "low_confidence", "0.2", "Detector",
                 "Wrong date", "It ships tomorrow.", "Feedback widget", "+450 ms", "350 ms"]:
        assert text in body, text
    assert f"?id={full_turn.session_id}" in body


def test_replay_orders_steps_as_a_tree(client, project, full_turn):
    StepFactory(turn=full_turn, span_id="orphan", parent_span_id="never-sent", name="late child",
                started_at=NOW - dt.timedelta(seconds=11))

    response = client.get(url("turn_detail", project, turn=full_turn.id))

    spans = re.findall(r'data-depth="(\d+)" data-span="([^"]+)"', response.content.decode())
    assert spans == [("0", "orphan"), ("0", "root"), ("1", "llm1"), ("2", "tool1")]


def test_step_tree_survives_a_parent_cycle(project):
    turn = TurnFactory(project=project)
    a = StepFactory(turn=turn, span_id="a", parent_span_id="b")
    b = StepFactory(turn=turn, span_id="b", parent_span_id="a")

    nodes = presenters.step_tree([a, b])

    assert sorted(node.step.span_id for node in nodes) == ["a", "b"]


def test_replay_of_another_projects_turn_is_404(client, project, other_project):
    foreign = TurnFactory(project=other_project)

    response = client.get(url("turn_detail", project, turn=foreign.id))

    assert response.status_code == 404
    assert foreign.input not in response.content.decode()


def test_replay_of_a_turn_not_arrived_says_what_is_waiting(client, project):
    turn_id = uuid.uuid4()
    FeedbackFactory(turn=None, project=project, turn_id=turn_id)

    response = client.get(url("turn_detail", project, turn=turn_id))

    assert response.status_code == 404
    assert "This turn has not arrived yet" in response.content.decode()
    assert client.get(url("turn_detail", project, turn=uuid.uuid4())).status_code == 404


def test_captured_markup_is_escaped_everywhere(client, project):
    turn = TurnFactory(
        project=project, input=XSS, output=XSS, session_id=XSS, end_user_id=XSS, model=XSS, prompt_version=XSS,
        variant=XSS, history=[{"role": XSS, "content": XSS}, {"weird": XSS}], metadata={XSS: XSS},
        retrieved=[{"id": XSS, "score": XSS, "text": XSS}, XSS], tool_calls=[{"name": XSS, "arguments": XSS, "result": {"html": XSS}}],
    )
    StepFactory(turn=turn, span_id="s1", name=XSS, input={"q": XSS}, output=XSS, error=XSS, attributes={"a": XSS})
    SignalFactory(turn=turn, kind="custom", value=XSS)
    FeedbackFactory(turn=turn, rating="down", comment=XSS, correction=XSS, end_user_id=XSS)
    waiting = uuid.uuid4()
    FeedbackFactory(turn=None, project=project, turn_id=waiting, comment=XSS)
    SignalFactory(turn=None, project=project, turn_id=waiting, kind="note", value=XSS)
    StepFactory(turn=None, project=project, turn_id=waiting, span_id="w1", name=XSS)

    pages = [
        url("turn_list", project), url("turn_detail", project, turn=turn.id),
        url("session_detail", project) + "?id=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        url("waiting_list", project), url("project_detail", project), url("project_capture_counts", project),
    ]

    for page in pages:
        response = client.get(page)
        body = response.content.decode()
        assert response.status_code == 200, page
        assert XSS not in body, page
        assert "<script>alert" not in body, page  # not even truncated
    assert ESCAPED in client.get(url("turn_detail", project, turn=turn.id)).content.decode()


# --- session --------------------------------------------------------------------------------


def test_session_page_lists_the_session_turns_in_order_with_feedback(client, project):
    second = TurnFactory(project=project, session_id="conv-7", created_at=NOW, input="And tomorrow?")
    first = TurnFactory(project=project, session_id="conv-7", created_at=NOW - dt.timedelta(minutes=1), input="Hi")
    TurnFactory(project=project, session_id="conv-8")
    SignalFactory(turn=second, kind="rephrase")
    FeedbackFactory(turn=second, rating="down", comment="no")

    response = client.get(url("session_detail", project), {"id": "conv-7"})

    body = response.content.decode()
    assert response.status_code == 200
    assert turn_ids(response) == [str(first.id), str(second.id)]
    assert "rephrase" in body and "thumbs down ×1" in body and "1 comment" in body
    assert url("turn_detail", project, turn=second.id) in body


@pytest.mark.parametrize("session_id", ["", "   ", "x" * 201])
def test_session_page_with_an_empty_or_invalid_id_is_400(client, project, session_id):
    response = client.get(url("session_detail", project), {"id": session_id})

    assert response.status_code == 400
    assert 'data-testid="session-error"' in response.content.decode()


def test_session_page_without_id_asks_for_one(client, project):
    response = client.get(url("session_detail", project))

    assert response.status_code == 200
    assert "Open a session" in response.content.decode()


def test_session_of_another_project_is_404_and_not_shown(client, project, other_project):
    foreign = TurnFactory(project=other_project, session_id="shared-id", input="foreign question")

    response = client.get(url("session_detail", project), {"id": "shared-id"})

    assert response.status_code == 404
    assert foreign.input not in response.content.decode()


# --- waiting and overview -------------------------------------------------------------------


def test_waiting_page_lists_children_whose_turn_has_not_arrived(client, project, other_project):
    arrived = TurnFactory(project=project)
    FeedbackFactory(turn=arrived, comment="already-home")
    missing = uuid.uuid4()
    expiry = NOW + dt.timedelta(days=30)
    FeedbackFactory(turn=None, project=project, turn_id=missing, comment="early bird", expires_at=expiry)
    SignalFactory(turn=None, project=project, turn_id=missing, kind="escalation", expires_at=expiry)
    StepFactory(turn=None, project=project, turn_id=missing, span_id="early-span", expires_at=expiry)
    FeedbackFactory(turn=None, project=other_project, turn_id=uuid.uuid4(), comment="other project")

    response = client.get(url("waiting_list", project))

    body = response.content.decode()
    assert response.status_code == 200
    assert "early bird" in body and "escalation" in body and "early-span" in body
    assert "already-home" not in body and "other project" not in body
    assert body.count(f"<code>{missing}</code>") == 3
    assert body.count(expiry.strftime("%Y-%m-%d %H:%M")) == 3


def test_overview_loads_capture_counts_with_links(client, project):
    recent = TurnFactory(project=project, created_at=NOW - dt.timedelta(hours=1))
    TurnFactory(project=project, created_at=NOW - dt.timedelta(days=3))
    SignalFactory(turn=recent, kind="thumbs_down")
    SignalFactory(turn=recent, kind="thumbs_down", source="widget")
    SignalFactory(turn=None, project=project, turn_id=uuid.uuid4(), kind="thumbs_down")
    FeedbackFactory(turn=None, project=project, turn_id=uuid.uuid4())

    overview = client.get(url("project_detail", project)).content.decode()
    response = client.get(url("project_capture_counts", project))

    body = response.content.decode()
    counts = dict(re.findall(r'data-testid="(turns-last-day|turns-total|thumbs-down|waiting)">(\d+)<', body))
    assert f'hx-get="{url("project_capture_counts", project)}" hx-trigger="load"' in overview
    assert "Send your first turn" in overview
    assert counts == {"turns-last-day": "1", "turns-total": "2", "thumbs-down": "1", "waiting": "2"}
    assert url("turn_list", project) + "?signal=thumbs_down" in body
    assert url("waiting_list", project) in body


def test_filter_choices_are_distinct_sorted_and_scoped(project, other_project):
    for model in ["m2", "m1", "m2", ""]:
        TurnFactory(project=project, model=model, variant="A")
    TurnFactory(project=other_project, model="m3")

    choices = selectors.filter_choices(project=project)

    assert choices["models"] == ["m1", "m2"]
    assert choices["variants"] == ["A"]
    assert choices["prompt_versions"] == []


# --- permissions ----------------------------------------------------------------------------


PAGES = ["turn_list", "turn_detail", "session_detail", "waiting_list", "project_capture_counts"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(("who", "status"), [("member", 200), ("reviewer", 200), ("owner", 200), ("outsider", 404), ("anonymous", 302)])
def test_permission_matrix(page, who, status, project, members, outsider):
    turn = TurnFactory(project=project, session_id="conv-1")
    user = {"member": members[Role.MEMBER].user, "reviewer": members[Role.REVIEWER].user,
            "owner": members[Role.OWNER].user, "outsider": outsider, "anonymous": None}[who]
    target = url(page, project, **({"turn": turn.id} if page == "turn_detail" else {}))

    response = client_for(user).get(target, {"id": "conv-1"} if page == "session_detail" else {})

    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith(reverse("account_login"))
    if status == 404:
        assert turn.input not in response.content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_pages_are_read_only(page, project, member):
    turn = TurnFactory(project=project)
    target = url(page, project, **({"turn": turn.id} if page == "turn_detail" else {}))

    response = client_for(member).post(target, {"input": "changed"})

    assert response.status_code == 405
    turn.refresh_from_db()
    assert turn.input != "changed"
