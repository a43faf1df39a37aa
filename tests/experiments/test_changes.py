"""Changes: the promotion gate (409 without ship, an admin's override audited with the report),
rollback, and the post-deploy watch (a worse version raises one regression, an equal one none)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.core.audit import Actor
from apps.core.errors import Conflict, Forbidden
from apps.core.roles import Role
from apps.experiments.models import PromptLabel, Regression, Validation
from apps.experiments.services.changes import change_promote, change_rollback
from apps.experiments.services.prompts import Author
from apps.experiments.tasks import watch
from apps.governance.models import AuditEvent
from tests.factories.validations import arm, change_for

pytestmark = pytest.mark.django_db(transaction=True)


def _author(user):
    return Author(actor=Actor(user=user, ip_address="127.0.0.1"))


def _production(project) -> int:
    return PromptLabel.objects.for_project(project).get(name="production").version.number


def _validation(change, verdict: str):
    return Validation.objects.create(project=change.project, change=change, kind="offline", inputs={"kind": "offline"},
                                     inputs_hash=f"h-{verdict}", status="done", verdict=verdict,
                                     report={"metrics": [], "explanation": f"{verdict}."})


def test_promotion_without_a_ship_verdict_is_refused_and_nothing_moves(project, members):
    change = change_for(project)
    _validation(change, "inconclusive")
    events = AuditEvent.objects.for_org(project.organization).count()

    with pytest.raises(Conflict) as refused:
        change_promote(change=change, author=_author(members[Role.ADMIN].user), role=Role.ADMIN)

    assert refused.value.code == "not_validated"
    assert _production(project) == 1
    change.refresh_from_db()
    assert change.status == "open"
    assert AuditEvent.objects.for_org(project.organization).count() == events


def test_a_ship_verdict_promotes_and_rollback_moves_the_label_back(project, members):
    change = change_for(project)
    _validation(change, "ship")

    change_promote(change=change, author=_author(members[Role.MEMBER].user), role=Role.MEMBER)
    assert _production(project) == 2
    change_rollback(change=change, author=_author(members[Role.MEMBER].user), role=Role.MEMBER)

    assert _production(project) == 1
    actions = list(AuditEvent.objects.for_org(project.organization).filter(target_type="change").values_list("action", flat=True).order_by("id"))
    assert actions == ["change.created", "change.promoted", "change.rolled_back"]


def test_an_admin_override_needs_a_reason_and_is_audited_with_the_report(project, members):
    change = change_for(project)
    _validation(change, "hold")

    with pytest.raises(Forbidden):
        change_promote(change=change, author=_author(members[Role.MEMBER].user), role=Role.MEMBER, override_reason="trust me")
    assert _production(project) == 1
    change_promote(change=change, author=_author(members[Role.ADMIN].user), role=Role.ADMIN, override_reason="Legal asked for it")

    assert _production(project) == 2
    event = AuditEvent.objects.for_org(project.organization).get(action="change.promotion_overridden")
    assert event.after["reason"] == "Legal asked for it"
    assert event.after["report"] == {"metrics": [], "explanation": "hold."}
    assert event.after["verdict"] == "hold"


def _promoted(project, members):
    change = change_for(project)
    _validation(change, "ship")
    change_promote(change=change, author=_author(members[Role.ADMIN].user), role=Role.ADMIN)
    change.refresh_from_db()
    change.promoted_at = timezone.now() - dt.timedelta(hours=6)
    change.save(update_fields=["promoted_at"])
    a_week_before = change.promoted_at - dt.timedelta(days=7) + dt.timedelta(hours=1)
    arm(project, prompt_version="support-agent@1", turns=400, with_signal={"thumbs_down": 40, "escalation": 20}, created_at=a_week_before)
    return change


def test_the_watch_raises_one_regression_on_a_worse_version_and_rollback_resolves_it(project, members):
    change = _promoted(project, members)
    arm(project, prompt_version="support-agent@2", turns=400, with_signal={"thumbs_down": 40, "escalation": 80},
        created_at=timezone.now() - dt.timedelta(hours=1))

    watch.run()
    watch.run()

    regression = Regression.objects.for_project(project).get()
    assert (regression.signal, regression.version.number, regression.previous.number) == ("escalation", 2, 1)
    assert regression.figures["baseline"] == {"n": 400, "value": 0.05}
    assert regression.figures["candidate"] == {"n": 400, "value": 0.2}
    assert "BROKE" in regression.explanation
    change_rollback(change=change, author=_author(members[Role.ADMIN].user), role=Role.ADMIN)
    regression.refresh_from_db()
    assert regression.rolled_back is True and regression.resolved_at is not None
    assert _production(project) == 1


def test_the_watch_raises_nothing_on_an_equal_version(project, members):
    _promoted(project, members)
    arm(project, prompt_version="support-agent@2", turns=400, with_signal={"thumbs_down": 40, "escalation": 20},
        created_at=timezone.now() - dt.timedelta(hours=1))

    watch.run()
    watch.run()

    assert Regression.objects.for_project(project).count() == 0
