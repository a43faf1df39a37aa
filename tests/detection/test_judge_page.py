"""The Detectors tab: the LLM judge section (settings, connection test, usage, agreement) and
the precision reviewers confirmed per detector."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.audit import SYSTEM
from apps.core.roles import Role
from apps.detection.models import JudgeSettings
from apps.detection.services import judge as services
from apps.governance.models import AuditEvent
from apps.review.models import ItemState, ReviewItem, ReviewQueue
from apps.review.selectors import detector_precision
from tests.conftest import client_for
from tests.detection.test_judge import _StandIn, _verdict, stand_in  # noqa: F401 - the stand-in fixture
from tests.factories.traces import SignalFactory, TurnFactory

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("detector_settings", kwargs={"org": project.organization.slug, "project": project.pk})


def judge_form(endpoint, **overrides):
    form = {
        "action": "judge", "enabled": "on", "endpoint_url": endpoint, "model": "judge-mini", "api_key": "sk-very-secret",
        "signal_kinds": ["escalation", "agent_punted"], "requests_per_minute": "30", "turns_per_day": "500",
        "price_per_1k_tokens": "0.25",
    }
    form.update(overrides)
    return form


def test_admin_saves_the_judge_audited_and_the_key_is_never_shown_back(project, owner, stand_in):
    client = client_for(owner)

    response = client.post(url(project), judge_form(stand_in))
    page = client.get(url(project)).content.decode()

    assert response.status_code == 302
    row = JudgeSettings.objects.for_project(project).get()
    assert (row.enabled, row.signal_kinds, row.requests_per_minute, row.api_key_plain()) == (
        True, ["escalation", "agent_punted"], 30, "sk-very-secret",
    )
    assert "sk-very-secret" not in page and "stored (leave empty to keep)" in page
    event = AuditEvent.objects.for_org(project.organization).get(target_id=f"{project.pk}:llm_judge")
    assert event.after["api_key"] is True and "sk-very-secret" not in str(event.after)


@pytest.mark.parametrize("who", [Role.MEMBER, Role.REVIEWER])
def test_members_and_reviewers_cannot_change_or_test_the_judge(project, members, stand_in, who):
    client = client_for(members[who].user)

    saved = client.post(url(project), judge_form(stand_in))
    tested = client.post(url(project), {"action": "judge_test"})

    assert (saved.status_code, tested.status_code) == (403, 403)
    assert not JudgeSettings.objects.for_project(project).exists() and _StandIn.seen == []


def test_a_refused_endpoint_is_shown_and_nothing_saved(project, owner, settings):
    settings.ALLOW_PRIVATE_ENDPOINTS = False

    response = client_for(owner).post(url(project), judge_form("http://10.0.0.5/v1/chat/completions"))

    assert response.status_code == 400 and "https://" in response.content.decode()
    assert not JudgeSettings.objects.for_project(project).exists()


def test_the_connection_test_shows_the_verdict_or_the_failure(project, owner, stand_in):
    client = client_for(owner)
    client.post(url(project), judge_form(stand_in))
    _StandIn.replies = [(200, _verdict(True)), (200, "not json")]

    ok = client.post(url(project), {"action": "judge_test"}).content.decode()
    failed = client.post(url(project), {"action": "judge_test"}).content.decode()

    assert 'data-testid="judge-test"' in ok and "asks for a person" in ok
    assert 'data-testid="judge-test-error"' in failed and "not with a verdict" in failed


def test_the_agreement_table_and_usage_show_on_the_tab(project, members, stand_in):
    services.judge_settings_update(
        project=project, actor=SYSTEM, enabled=True, endpoint_url=stand_in, model="judge-mini",
        api_key="", signal_kinds=["escalation"], prompts={}, requests_per_minute=600, turns_per_day=100,
        price_per_1k_tokens="0",
    )
    turn = TurnFactory(project=project)
    SignalFactory(turn=turn, kind="escalation", source="detector", dedupe_key="escalation")
    services.judge_turns(project=project, turn_ids=[turn.id])

    page = client_for(members[Role.MEMBER].user).get(url(project)).content.decode()

    assert 'id="agreement-escalation"' in page
    assert "<td>escalation</td><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td>" in page
    assert "1 turns in 1 requests" in page


def _decided(project, queue, turn, state):
    ReviewItem.objects.create(project=project, queue=queue, turn_id=turn.id, state=state)


def test_confirmed_precision_per_detector_is_confirmed_over_decided(project, other_project, members):
    queue = ReviewQueue.objects.create(project=project, name="Flags", routing={"signal_kinds": ["escalation"]})
    turns = [TurnFactory(project=project) for _ in range(4)]
    for turn in turns:
        SignalFactory(turn=turn, kind="escalation", source="detector", dedupe_key="escalation")
    _decided(project, queue, turns[0], ItemState.CONFIRMED)
    _decided(project, queue, turns[1], ItemState.CONFIRMED)
    _decided(project, queue, turns[2], ItemState.REJECTED)
    _decided(project, queue, turns[3], ItemState.PENDING)  # not decided yet
    SignalFactory(turn=TurnFactory(project=project), kind="agent_punted", source="detector", dedupe_key="agent_punted")
    foreign = TurnFactory(project=other_project)
    SignalFactory(turn=foreign, kind="escalation", source="detector", dedupe_key="escalation")

    precision = detector_precision(project=project)
    page = client_for(members[Role.MEMBER].user).get(url(project)).content.decode()

    assert precision[("detector", "escalation")] == {"confirmed": 2, "decided": 3, "precision": 2 / 3}
    assert precision[("detector", "agent_punted")] == {"confirmed": 0, "decided": 0, "precision": None}
    assert '<td data-testid="precision-escalation">0.67 <small>(2 of n=3)</small>' in page
    assert '<td data-testid="precision-agent_punted">—' in page
