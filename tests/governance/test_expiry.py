"""Retention expiry: each retention and each hold, tombstones, the day's counts, the preview
equals what the job deletes, the job run twice, and the command's dry run."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.governance.expiry import expiry_preview, project_expire, turn_retention_status
from apps.detection.models import JudgeVerdict
from apps.governance.models import ExpiryDay, ProjectRetention, RejectedRetention
from apps.governance.tasks import expire
from apps.problems.models import Problem, ProblemStatus, ProblemTurn
from apps.review.models import Decision, ItemState, ReviewItem, Verdict
from apps.traces.models import Signal, Step, Turn, TurnTombstone
from tests.factories.accounts import UserFactory
from tests.factories.datasets import confirmed_turn, queue_for
from tests.factories.traces import SignalFactory, StepFactory, TurnFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _aged(project, days, **fields):
    return TurnFactory(project=project, created_at=NOW - dt.timedelta(days=days), **fields)


def _item(turn, state, *, queue=None, decided_days_ago=None, verdict=None):
    item = ReviewItem.objects.create(project=turn.project, queue=queue or queue_for(turn.project), turn_id=turn.id, state=state)
    if verdict:
        Decision.objects.create(project=turn.project, item=item, queue=item.queue, verdict=verdict,
                                created_at=NOW - dt.timedelta(days=decided_days_ago))
    return item


def _in_problem(turn, status=ProblemStatus.OPEN, title="Refunds"):
    problem = Problem.objects.create(project=turn.project, title=title, status=status)
    ProblemTurn.objects.create(project=turn.project, problem=problem, turn_id=turn.id, turn_created_at=turn.created_at,
                               affected_key="u")
    return problem


def _stored(project):
    return set(Turn.objects.for_project(project).values_list("id", flat=True))


def test_turns_past_the_organization_retention_go_with_their_children(project, other_project):
    old, young = _aged(project, 31), _aged(project, 29)
    StepFactory(turn=old), StepFactory(turn=old), SignalFactory(turn=old)
    JudgeVerdict.objects.create(project=project, turn_id=old.id, kind="agent_punted", prompt_hash="p", model="m",
                                verdict=True, confidence=0.9, reason="deflects")
    foreign_old = _aged(other_project, 31)

    counts = project_expire(project=project, now=NOW)

    assert counts == {"turns": 1, "steps": 2, "signals": 1, "judge_verdicts": 1}
    assert not JudgeVerdict.objects.for_project(project).exists()
    assert _stored(project) == {young.id}
    assert Step.objects.for_project(project).count() == 0 and Signal.objects.for_project(project).count() == 0
    tombstone = TurnTombstone.objects.for_project(project).get()
    assert (tombstone.id, tombstone.reason, tombstone.turn_created_at) == (old.id, "retention", old.created_at)
    assert _stored(other_project) == {foreign_old.id}
    day = ExpiryDay.objects.for_project(project).get()
    assert (day.day, day.turns, day.steps, day.signals, day.feedback, day.judge_verdicts) == (timezone.localdate(NOW), 1, 2, 1, 0, 1)


def test_a_project_override_wins_over_the_organization(project):
    ProjectRetention.objects.create(project=project, days=7)
    old, young = _aged(project, 8), _aged(project, 6)

    project_expire(project=project, now=NOW)

    assert _stored(project) == {young.id}


def test_a_backfilled_old_turn_is_stored_and_goes_on_the_next_run(project):
    backfilled = _aged(project, 400)
    assert _stored(project) == {backfilled.id}

    project_expire(project=project, now=NOW)

    assert _stored(project) == set()


def test_every_hold_keeps_a_turn_and_releasing_it_lets_it_go(project):
    pending, claimed, confirmed = _aged(project, 90), _aged(project, 90), _aged(project, 90)
    _item(pending, ItemState.PENDING)
    ReviewItem.objects.create(project=project, queue=queue_for(project), turn_id=claimed.id, state=ItemState.CLAIMED,
                              claimed_by=UserFactory(), claimed_at=NOW, lease_expires_at=NOW + dt.timedelta(minutes=5))
    _item(confirmed, ItemState.CONFIRMED, verdict=Verdict.CONFIRM, decided_days_ago=60)
    open_problem, fixing_problem = _aged(project, 90), _aged(project, 90)
    _in_problem(open_problem)
    _in_problem(fixing_problem, status=ProblemStatus.FIXING, title="Tools")
    closed_problem, in_dataset_only = _aged(project, 90), _aged(project, 90)
    closed = _in_problem(closed_problem, status=ProblemStatus.FIXED, title="Old")
    held = {pending.id, claimed.id, confirmed.id, open_problem.id, fixing_problem.id}

    preview = expiry_preview(project=project, now=NOW)
    project_expire(project=project, now=NOW)

    assert (preview.deletes, preview.held) == (2, 5)
    assert _stored(project) == held
    assert closed.status == ProblemStatus.FIXED and in_dataset_only.id not in _stored(project)

    ReviewItem.objects.for_project(project).filter(turn_id=pending.id).update(state=ItemState.REJECTED)
    Problem.objects.for_project(project).filter(title="Refunds").update(status=ProblemStatus.WONT_FIX)
    project_expire(project=project, now=NOW)

    assert _stored(project) == held - {pending.id, open_problem.id}


def test_rejected_turns_follow_the_rejected_clock(project):
    RejectedRetention.objects.create(organization=project.organization, days=3)
    rejected_long_ago, rejected_yesterday = _aged(project, 5), _aged(project, 5)
    _item(rejected_long_ago, ItemState.REJECTED, verdict=Verdict.REJECT, decided_days_ago=4)
    _item(rejected_yesterday, ItemState.REJECTED, verdict=Verdict.REJECT, decided_days_ago=1)
    rejected_but_pending_elsewhere = _aged(project, 5)
    _item(rejected_but_pending_elsewhere, ItemState.REJECTED, verdict=Verdict.REJECT, decided_days_ago=4)
    _item(rejected_but_pending_elsewhere, ItemState.PENDING, queue=queue_for(project, "Second look"))

    preview = expiry_preview(project=project, now=NOW)
    counts = project_expire(project=project, now=NOW)

    assert (preview.deletes, preview.rejected, counts["turns"]) == (0, 1, 1)
    assert _stored(project) == {rejected_yesterday.id, rejected_but_pending_elsewhere.id}


def test_the_preview_of_a_change_equals_what_the_job_then_deletes(project):
    for days in (3, 10, 20, 40):
        _aged(project, days)
    held = _aged(project, 40)
    _item(held, ItemState.PENDING)

    preview = expiry_preview(project=project, days=15, now=NOW)
    ProjectRetention.objects.create(project=project, days=15)
    counts = project_expire(project=project, batch_size=1, now=NOW)

    assert (preview.total, preview.held) == (2, 1)
    assert counts["turns"] == preview.total
    assert expiry_preview(project=project, now=NOW).total == 0


def test_the_job_in_small_batches_then_again_is_a_no_op(project):
    turns = [_aged(project, 45) for _ in range(7)]
    for turn in turns:
        StepFactory(turn=turn)

    assert project_expire(project=project, batch_size=3, now=NOW) == {"turns": 7, "steps": 7}
    assert project_expire(project=project, batch_size=3, now=NOW) == {}
    assert ExpiryDay.objects.for_project(project).get().turns == 7


def test_the_task_run_twice_sweeps_every_project(project, other_project):
    _aged(project, 31), _aged(other_project, 31)
    kept = _aged(project, 1)

    expire.apply()
    expire.apply()

    assert _stored(project) == {kept.id} and _stored(other_project) == set()
    assert TurnTombstone.objects.for_project(project).count() == 1


def test_the_turn_page_status_names_holds_or_the_expiry_date(project):
    turn, _ = confirmed_turn(project, problem_title="Refund policy")
    free = _aged(project, 10)
    rejected = _aged(project, 10)
    _item(rejected, ItemState.REJECTED, verdict=Verdict.REJECT, decided_days_ago=1)

    held = turn_retention_status(project=project, turn=turn)
    assert [hold["label"] for hold in held["holds"]] == ["confirmed by a reviewer", "problem Refund policy"]
    assert turn_retention_status(project=project, turn=free)["expires_on"] == free.created_at + dt.timedelta(days=30)
    assert turn_retention_status(project=project, turn=rejected)["expires_on"].date() == (NOW + dt.timedelta(days=6)).date()


def test_the_command_dry_run_prints_the_preview_and_deletes_nothing(project):
    _aged(project, 31), _aged(project, 31)
    out = io.StringIO()

    call_command("expire", "--dry-run", stdout=out)

    assert f"{project.organization.slug}/{project.name}: retention 30 days (organization)" in out.getvalue()
    assert "would delete 2 turns past retention and 0 rejected; 0 held turns stay" in out.getvalue()
    assert len(_stored(project)) == 2

    call_command("expire", stdout=out)

    assert "2/2 turns" in out.getvalue() and _stored(project) == set()


def test_the_command_takes_a_batch_size_and_resumes_batch_after_batch(project):
    """Five due turns in batches of two: three transactions, each resuming after the last, held ones passed over."""
    turns = [_aged(project, 31 + i) for i in range(6)]
    _item(turns[2], ItemState.PENDING)
    out = io.StringIO()

    call_command("expire", "--batch-size", "2", stdout=out)

    assert [line.strip() for line in out.getvalue().splitlines() if "turns" in line and "/" in line][-3:] == [
        "[############..................] 2/5 turns", "[########################......] 4/5 turns",
        "[##############################] 5/5 turns",
    ]
    assert _stored(project) == {turns[2].id}
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("expire", "--batch-size", "0", stdout=out)
