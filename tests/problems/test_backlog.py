"""A reviewer's changes: rename, status, cause verdict, merge and split (services)."""

from __future__ import annotations

import pytest

from apps.core.errors import Conflict, ValidationFailed
from apps.governance.models import AuditEvent
from apps.core.audit import SYSTEM
from apps.problems.models import CauseState, Problem, ProblemStatus, ProblemTurn
from apps.problems.services import backlog
from tests.factories.traces import TurnFactory
from tests.problems.conftest import flagged_turn, run

pytestmark = pytest.mark.django_db

REFUNDS = ["Please refund order 1187", "refund my order 5521 please", "I need a refund for order 9911", "refund order 4410 now"]
PASSWORDS = ["How do I reset my password?", "forgot my password, how do I reset it", "password reset link is not working"]
TOOL_ERROR = [("tool_error", {"failed": ["refund"]}, "detector")]


@pytest.fixture
def refunds(project):
    for n in range(16):
        TurnFactory(project=project, input=f"Where is my parcel {n}?")
    turns = [flagged_turn(project, text, signals=TOOL_ERROR) for text in REFUNDS]
    run(project)
    return Problem.objects.for_project(project).get(key_tool="refund"), turns


@pytest.fixture
def two(project):
    for text in REFUNDS[:3]:
        flagged_turn(project, text)
    for text in PASSWORDS:
        flagged_turn(project, text)
    run(project)
    a, b = Problem.objects.for_project(project).order_by("id")
    return a, b


def test_rename_locks_the_title_and_is_audited(project, refunds):
    problem, _ = refunds
    generated = problem.title

    backlog.problem_update(problem=problem, actor=SYSTEM, title="  Refund tool   times out ")
    flagged_turn(project, "refund order 7777 please", signals=TOOL_ERROR)
    run(project)

    problem.refresh_from_db()
    assert (problem.title, problem.title_locked, problem.turn_count) == ("Refund tool times out", True, 5)
    assert list(AuditEvent.objects.for_org(project.organization).values_list("action", "before", "after")) == [
        ("problem.updated", {"title": generated}, {"title": "Refund tool times out"}),
    ]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [({"title": "   "}, "invalid_title", "title"), ({"title": "x" * 201}, "invalid_title", "title"),
     ({"status": "merged"}, "invalid_status", "status"), ({"status": "done"}, "invalid_status", "status")],
)
def test_bad_updates_are_refused_and_change_nothing(project, refunds, fields, code, field):
    problem, _ = refunds

    with pytest.raises(ValidationFailed) as refused:
        backlog.problem_update(problem=problem, actor=SYSTEM, **fields)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert AuditEvent.objects.for_org(project.organization).count() == 0


def test_the_same_status_again_writes_no_audit_row(project, refunds):
    problem, _ = refunds

    backlog.problem_update(problem=problem, actor=SYSTEM, status="open")

    assert AuditEvent.objects.for_org(project.organization).count() == 0


def test_a_rejected_cause_is_not_proposed_again(project, refunds):
    problem, _ = refunds
    assert (problem.cause_key, problem.cause_state) == ("tool:refund", CauseState.PROPOSED)

    backlog.problem_cause_review(problem=problem, actor=SYSTEM, verdict="reject")
    flagged_turn(project, "refund order 8888 please", signals=TOOL_ERROR)
    run(project)

    problem.refresh_from_db()
    assert problem.rejected_causes == ["tool:refund"]
    assert problem.cause_key != "tool:refund"
    assert problem.cause_state in (CauseState.REJECTED, CauseState.PROPOSED)


def test_a_confirmed_cause_survives_new_evidence(project, refunds):
    problem, _ = refunds

    backlog.problem_cause_review(problem=problem, actor=SYSTEM, verdict="confirm")
    flagged_turn(project, "refund order 8888 please", signals=TOOL_ERROR)
    run(project)

    problem.refresh_from_db()
    assert (problem.cause_key, problem.cause_state) == ("tool:refund", CauseState.CONFIRMED)
    assert problem.evidence["turns"] == 5


def test_reviewing_without_a_cause_is_a_conflict(project, two):
    a, _ = two
    Problem.objects.for_project(project).filter(pk=a.pk).update(cause="", cause_key="", cause_state="none")

    with pytest.raises(Conflict) as refused:
        backlog.problem_cause_review(problem=a, actor=SYSTEM, verdict="confirm")

    assert refused.value.code == "no_cause"


def test_merge_moves_the_turns_pins_them_and_redirects(project, two):
    a, b = two

    survivor = backlog.problem_merge(problem=b, into=a, actor=SYSTEM)

    b.refresh_from_db()
    assert survivor.pk == a.pk
    assert (survivor.turn_count, b.status, b.merged_into_id, b.turn_count) == (6, ProblemStatus.MERGED, a.pk, 0)
    assert set(ProblemTurn.objects.for_project(project).values_list("problem_id", flat=True)) == {a.pk}
    assert ProblemTurn.objects.for_project(project).filter(pinned=True).count() == 3
    run(project)
    assert Problem.objects.for_project(project).get(pk=a.pk).turn_count == 6


def test_merge_refusals(project, two, other_project):
    a, b = two
    backlog.problem_merge(problem=b, into=a, actor=SYSTEM)

    for problem, into, code in [(a, a, "same_problem"), (a, None, "unknown_problem"), (a, b, "problem_merged"), (b, a, "problem_merged")]:
        with pytest.raises((ValidationFailed, Conflict)) as refused:
            backlog.problem_merge(problem=problem, into=into, actor=SYSTEM)
        assert refused.value.code == code
    assert AuditEvent.objects.for_org(project.organization).filter(action="problem.merged").count() == 1


def test_split_moves_the_selected_turns_to_a_new_pinned_problem(project, refunds):
    problem, turns = refunds

    new = backlog.problem_split(problem=problem, turn_ids=[str(turns[0].id), str(turns[1].id)], actor=SYSTEM, title="Refund of old orders")
    problem.refresh_from_db()
    run(project)

    assert (new.title, new.turn_count, new.key_tool, new.status) == ("Refund of old orders", 2, "refund", "open")
    assert problem.turn_count == 2
    assert sorted(ProblemTurn.objects.for_project(project).filter(problem=new).values_list("turn_id", flat=True)) == sorted([turns[0].id, turns[1].id])
    assert ProblemTurn.objects.for_project(project).filter(problem=new, pinned=False).count() == 0


@pytest.mark.parametrize(
    ("turn_ids", "code"),
    [([], "required"), (["not-a-uuid"], "invalid"), (["6b1f3a52-54d8-4f6a-9a67-9b2d8a7b1c01"], "not_member"), ("all", "split_all")],
)
def test_split_refusals(project, refunds, turn_ids, code):
    problem, turns = refunds
    if turn_ids == "all":
        turn_ids = [str(t.id) for t in turns]

    with pytest.raises(ValidationFailed) as refused:
        backlog.problem_split(problem=problem, turn_ids=turn_ids, actor=SYSTEM)

    assert (refused.value.code, refused.value.field) == (code, "turn_ids")
    assert Problem.objects.for_project(project).count() == 1
