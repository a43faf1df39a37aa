"""The clustering job: similar failures group, different ones do not, and runs are incremental."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from apps.problems.models import ClusteringState, Problem, ProblemStatus, ProblemTurn
from apps.problems.services.clustering import LOCK_NAMESPACE, problems_cluster
from tests.factories.traces import SignalFactory
from tests.problems.conftest import decide, flagged_turn, run

pytestmark = pytest.mark.django_db

REFUNDS = [
    "How do I get a refund for my annual plan?",
    "I want a refund on my annual subscription",
    "refund for annual plan please",
    "Can I get a refund on my annual plan?",
]
PASSWORDS = [
    "How do I reset my password?",
    "forgot my password, how do I reset it",
    "password reset link is not working",
]


def _groups(project) -> list[set[str]]:
    """Each problem's member inputs (as sets), for comparing partitions."""
    from apps.traces.models import Turn

    texts = dict(Turn.objects.for_project(project).values_list("id", "input"))
    groups: dict = {}
    for problem_id, turn_id in ProblemTurn.objects.for_project(project).values_list("problem_id", "turn_id"):
        groups.setdefault(problem_id, set()).add(texts[turn_id])
    return sorted(groups.values(), key=lambda g: sorted(g))


def _problems(project):
    return list(Problem.objects.for_project(project).order_by("id"))


def test_similar_inputs_group_and_different_ones_do_not(project):
    for text in REFUNDS + PASSWORDS:
        flagged_turn(project, text)

    summary = run(project)

    assert _groups(project) == sorted([set(PASSWORDS), set(REFUNDS)], key=lambda g: sorted(g))
    assert summary["created"] == 2
    assert summary["placed"] == 7


def test_unflagged_and_thumbs_up_turns_are_not_clustered(project):
    flagged_turn(project, "How do I reset my password?", kinds=["thumbs_up"])
    flagged_turn(project, "How do I reset my password?", kinds=[], signals=[("thumbs_down", False, "sdk")])
    flagged_turn(project, "How do I reset my password?", kinds=[], signals=[("rating", 5, "sdk")])
    flagged_turn(project, "How do I reset my password?", kinds=[], signals=[("rating", 1, "sdk")])

    run(project)

    assert [p.turn_count for p in _problems(project)] == [1]


def test_failure_categories_separate_otherwise_identical_inputs(project):
    hallucinated = [flagged_turn(project, text) for text in REFUNDS[:2]]
    policy = [flagged_turn(project, text) for text in REFUNDS[2:]]
    for turn in hallucinated:
        decide(project, turn, "confirm", "hallucination")
    for turn in policy:
        decide(project, turn, "confirm", "policy")

    run(project)

    assert sorted((p.category, p.turn_count) for p in _problems(project)) == [("hallucination", 2), ("policy", 2)]


def test_a_failed_tool_is_a_grouping_key(project):
    for text in REFUNDS[:2]:
        flagged_turn(project, text, signals=[("tool_error", {"failed": ["refund"]}, "detector")])
    for text in REFUNDS[2:]:
        flagged_turn(project, text)

    run(project)

    assert sorted((p.key_tool, p.turn_count) for p in _problems(project)) == [("", 2), ("refund", 2)]


def test_a_second_run_adds_new_turns_to_the_existing_problem(project):
    for text in REFUNDS[:3]:
        flagged_turn(project, text)
    run(project)
    [problem] = _problems(project)
    weight = problem.centroid_weight

    late = flagged_turn(project, "is my annual plan refundable? I want a refund")
    summary = run(project)

    [again] = _problems(project)
    assert again.pk == problem.pk
    assert summary["created"] == 0
    assert summary["joined"] == 1
    assert again.turn_count == 4
    assert again.centroid_weight == weight + 1
    assert ProblemTurn.objects.for_project(project).get(turn_id=late.id).problem_id == problem.pk


def test_running_twice_changes_nothing(project):
    for text in REFUNDS + PASSWORDS:
        flagged_turn(project, text)
    run(project)
    before = list(Problem.objects.for_project(project).order_by("id").values_list(
        "id", "title", "turn_count", "user_count", "pain", "cause", "centroid_weight"))
    members = sorted(ProblemTurn.objects.for_project(project).values_list("turn_id", "problem_id"))

    summary = run(project)

    assert summary.get("created", 0) == 0 and summary.get("placed", 0) == 0
    assert list(Problem.objects.for_project(project).order_by("id").values_list(
        "id", "title", "turn_count", "user_count", "pain", "cause", "centroid_weight")) == before
    assert sorted(ProblemTurn.objects.for_project(project).values_list("turn_id", "problem_id")) == members


def test_the_watermarks_advance_past_settled_rows(project):
    flagged_turn(project, REFUNDS[0])

    run(project, now=__import__("django.utils.timezone", fromlist=["now"]).now() + __import__("datetime").timedelta(minutes=10))

    state = ClusteringState.objects.for_project(project).get()
    assert state.signal_watermark > 0
    assert state.last_run["placed"] == 1


def test_a_turn_rejected_by_a_reviewer_leaves_its_problem(project):
    turns = [flagged_turn(project, text) for text in REFUNDS]
    run(project)

    decide(project, turns[0], "reject")
    summary = run(project)

    [problem] = _problems(project)
    assert summary["left"] == 1
    assert problem.turn_count == 3
    assert not ProblemTurn.objects.for_project(project).filter(turn_id=turns[0].id).exists()


def test_a_later_confirmation_overrides_a_rejection(project):
    turn = flagged_turn(project, REFUNDS[0])
    decide(project, turn, "reject")
    decide(project, turn, "confirm", "hallucination")

    run(project)

    assert [(p.category, p.turn_count) for p in _problems(project)] == [("hallucination", 1)]


def test_only_final_outcomes_count_not_one_vote_of_several(project):
    """With N reviewers per item, one "reject" vote on a still-open item is not a verdict."""
    turns = [flagged_turn(project, text) for text in REFUNDS]
    run(project)

    decide(project, turns[0], "reject", final=False)
    summary = run(project)

    assert summary.get("left", 0) == 0
    assert ProblemTurn.objects.for_project(project).filter(turn_id=turns[0].id).exists()


def test_a_confirmed_category_moves_an_unpinned_turn_to_a_problem_of_that_category(project):
    turns = [flagged_turn(project, text) for text in REFUNDS]
    run(project)

    decide(project, turns[0], "confirm", "hallucination")
    summary = run(project)

    assert summary["moved"] == 1
    assert sorted((p.category, p.turn_count) for p in _problems(project)) == [("", 3), ("hallucination", 1)]


def test_pinned_turns_stay_even_when_rejected(project):
    turns = [flagged_turn(project, text) for text in REFUNDS]
    run(project)
    ProblemTurn.objects.for_project(project).filter(turn_id=turns[0].id).update(pinned=True)

    decide(project, turns[0], "reject")
    decide(project, turns[1], "reject")
    run(project)

    assert sorted(ProblemTurn.objects.for_project(project).values_list("turn_id", flat=True)) == sorted(
        [turns[0].id, turns[2].id, turns[3].id]
    )


def test_new_failures_reopen_a_fixed_problem_as_a_regression(project):
    for text in REFUNDS[:3]:
        flagged_turn(project, text)
    run(project)
    Problem.objects.for_project(project).update(status=ProblemStatus.FIXED)

    flagged_turn(project, REFUNDS[3])
    summary = run(project)

    [problem] = _problems(project)
    assert summary["regressed"] == 1
    assert problem.status == ProblemStatus.OPEN
    assert problem.regressed_at is not None


def test_a_signal_that_arrives_later_updates_the_membership_snapshot(project):
    turns = [flagged_turn(project, text) for text in REFUNDS]
    run(project)

    SignalFactory(turn=turns[0], kind="escalation", value=True)
    run(project)

    member = ProblemTurn.objects.for_project(project).get(turn_id=turns[0].id)
    assert (member.severity, member.signal_kinds) == (5, ["escalation", "thumbs_down"])
    assert Problem.objects.for_project(project).get().severity == pytest.approx((5 + 4 * 3) / 4)


def test_a_concurrent_run_for_the_same_project_skips(project):
    flagged_turn(project, REFUNDS[0])
    held, release = threading.Event(), threading.Event()

    def hold_lock():
        with connections["default"].cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, str(project.pk)])
            held.set()
            release.wait(10)
            cursor.execute("ROLLBACK")
        connections["default"].close()

    thread = threading.Thread(target=hold_lock)
    thread.start()
    held.wait(10)
    try:
        summary = problems_cluster(project=project)
    finally:
        release.set()
        thread.join()

    assert summary == {"skipped": 1}
    assert not Problem.objects.for_project(project).exists()
    assert connection.vendor == "postgresql"


def test_other_projects_are_untouched(project, other_project):
    flagged_turn(project, REFUNDS[0])
    flagged_turn(other_project, REFUNDS[1])

    run(project)

    assert Problem.objects.for_project(project).count() == 1
    assert not Problem.objects.for_project(other_project).exists()
