"""The detector settings page: permission matrix, changes audited, bad input shown readably."""

import pytest
from django.urls import reverse

from apps.core.roles import Role
from apps.detection.models import DetectionRule, DetectorSettings
from apps.governance.models import AuditEvent
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("detector_settings", kwargs={"org": project.organization.slug, "project": project.pk})


def state(project):
    return (
        sorted(DetectorSettings.objects.for_project(project).values_list("detector", "enabled", "params")),
        sorted(DetectionRule.objects.for_project(project).values_list("name", "expression")),
        AuditEvent.objects.for_org(project.organization).count(),
    )


TOGGLE = {"action": "detector", "detector": "low_confidence", "param_threshold": "0.7"}


@pytest.mark.parametrize(("who", "get_status", "post_status"), [
    ("anonymous", 302, 302),
    ("outsider", 404, 404),
    (Role.MEMBER, 200, 403),
    (Role.REVIEWER, 200, 403),
    (Role.ADMIN, 200, 302),
    (Role.OWNER, 200, 302),
])
def test_permission_matrix(project, members, outsider, who, get_status, post_status):
    user = {"anonymous": None, "outsider": outsider}.get(who) or (members[who].user if who in members else None)
    client = client_for(user)
    before = state(project)

    get = client.get(url(project))
    post = client.post(url(project), TOGGLE)

    assert (get.status_code, post.status_code) == (get_status, post_status)
    if post_status != 302 or who == "anonymous":
        assert state(project) == before


def test_member_sees_the_detectors_read_only(project, members):
    response = client_for(members[Role.MEMBER].user).get(url(project))

    body = response.content.decode()
    assert "Knowledge gap" in body and "contact support" in body
    assert "Add a rule" not in body
    assert 'href="' + url(project) + '"' in body  # the Detectors tab


def test_admin_changes_a_detector_and_it_is_audited(project, owner):
    client = client_for(owner)

    response = client.post(url(project), TOGGLE)  # the enabled box unchecked: turned off

    assert response.status_code == 302
    assert state(project)[0] == [("low_confidence", False, {"threshold": 0.7})]
    event = AuditEvent.objects.for_org(project.organization).get(action="detector.changed")
    assert (event.before, event.after) == (
        {"enabled": True, "params": {}}, {"enabled": False, "params": {"threshold": 0.7}}
    )


def test_punt_phrases_and_sample_percentage(project, owner):
    client = client_for(owner)

    client.post(url(project), {"action": "detector", "detector": "agent_punted", "enabled": "on", "param_phrases": "No idea\nAsk Bob\n"})
    client.post(url(project), {"action": "detector", "detector": "random_sample", "enabled": "on", "param_percentage": "12.5"})

    assert state(project)[0] == [
        ("agent_punted", True, {"phrases": ["no idea", "ask bob"]}),
        ("random_sample", True, {"percentage": 12.5}),
    ]
    assert "Ask Bob" not in client.get(url(project)).content.decode()  # stored lower-cased
    assert "ask bob" in client.get(url(project)).content.decode()


@pytest.mark.parametrize(("body", "message"), [
    ({"action": "detector", "detector": "nope"}, "Unknown detector"),
    ({"action": "detector", "detector": "rephrase", "param_min_probability": "2"}, "between 0 and 1"),
    ({"action": "detector", "detector": "rephrase", "param_window_seconds": "soon"}, "must be a number"),
    ({"action": "rule_create", "name": "r", "expression": "plan == 'x'", "signal_kind": "k"}, "unknown field &#x27;plan&#x27;"),
    ({"action": "rule_create", "name": "r", "expression": "model ==", "signal_kind": "k"}, "(at position 8)"),
    ({"action": "rule_create", "name": "r", "expression": "__import__('os')", "signal_kind": "k"}, "function calls are not allowed"),
    ({"action": "rule_create", "name": "", "expression": "true", "signal_kind": "k"}, "needs a name"),
    ({"action": "rule_create", "name": "r", "expression": "true", "signal_kind": "rephrase"}, "built-in detector"),
    ({"action": "rule_delete", "rule": "x"}, "No such rule"),
    ({"action": "bogus"}, "Unknown action"),
])
def test_bad_input_is_shown_and_changes_nothing(project, owner, body, message):
    before = state(project)

    response = client_for(owner).post(url(project), body)

    assert response.status_code in (400, 404)
    assert message in response.content.decode()
    assert state(project) == before


def test_rule_create_and_delete_are_audited(project, other_project, owner):
    client = client_for(owner)

    client.post(url(project), {"action": "rule_create", "name": "vip down", "expression": 'metadata.plan == "enterprise" and signals.thumbs_down', "signal_kind": "vip_unhappy"})
    rule = DetectionRule.objects.for_project(project).get()
    assert rule.ast["op"] == "and"
    foreign = DetectionRule.all_tenants.create(project=other_project, name="theirs", expression="true", ast={"value": True}, signal_kind="k")

    refused = client.post(url(project), {"action": "rule_delete", "rule": foreign.pk})
    deleted = client.post(url(project), {"action": "rule_delete", "rule": rule.pk})

    assert (refused.status_code, deleted.status_code) == (404, 302)
    assert DetectionRule.all_tenants.filter(pk=foreign.pk).exists()
    assert list(DetectionRule.objects.for_project(project)) == []
    assert sorted(AuditEvent.objects.for_org(project.organization).values_list("action", flat=True)) == ["rule.created", "rule.deleted"]
