"""Ranking by user pain: the formula's factors, and the backlog's order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.problems.ranking import pain
from apps.problems.selectors import problem_list
from tests.problems.conftest import flagged_turn, run

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"users": 4, "turns": 4, "severity": 4.0, "last_seen": NOW, "last_7d": 4, "prev_7d": 0},
         {"recency": 1.0, "trend": 2.0, "pain": 40.0}),
        ({"users": 4, "turns": 4, "severity": 4.0, "last_seen": NOW - dt.timedelta(days=7), "last_7d": 0, "prev_7d": 4},
         {"recency": 0.5, "trend": 0.5, "pain": 5.0}),
        ({"users": 1, "turns": 8, "severity": 2.0, "last_seen": NOW, "last_7d": 3, "prev_7d": 3},
         {"recency": 1.0, "trend": 1.0, "pain": 6.0}),
        ({"users": 0, "turns": 0, "severity": 0.0, "last_seen": None, "last_7d": 0, "prev_7d": 0},
         {"recency": 0.0, "trend": 1.0, "pain": 0.0}),
    ],
    ids=["growing", "week-old-shrinking", "steady", "empty"],
)
def test_pain_factors(kwargs, expected):
    assert pain(now=NOW, **kwargs) == expected


def _problem(project, topic: str, *, users: int, kinds=("thumbs_down",), ago=dt.timedelta(hours=1), turns_per_user=1):
    for user in range(users):
        for n in range(turns_per_user):
            flagged_turn(project, f"{topic} question {n}", kinds=kinds, ago=ago, end_user_id=f"{topic}-user-{user}")


@pytest.mark.django_db
def test_the_backlog_ranks_by_users_severity_recency_and_trend(project):
    # Same severity, recency and trend: more distinct users rank higher.
    _problem(project, "invoice download", users=6)
    _problem(project, "password reset", users=2)
    # Fewer users but escalations (severity 5); rephrases (3) of 3 users still beat thumbs-downs (4) of 2.
    _problem(project, "cancel subscription", users=3, kinds=["escalation"])
    _problem(project, "shipping canada", users=3, kinds=["rephrase"])
    # Many users, but three weeks old and not growing: recency ⅛, trend ½.
    _problem(project, "gift card balance", users=8, ago=dt.timedelta(days=21))

    run(project)

    ranked = [(p.representative_input.rsplit(" question", 1)[0], p.pain) for p in problem_list(project=project)]
    assert [topic for topic, _ in ranked] == [
        "invoice download", "cancel subscription", "shipping canada", "password reset", "gift card balance",
    ]


@pytest.mark.django_db
def test_a_growing_problem_outranks_a_shrinking_one_of_the_same_size(project):
    for user in range(4):
        flagged_turn(project, "export to csv fails", ago=dt.timedelta(days=1), end_user_id=f"a{user}")
        flagged_turn(project, "dark mode missing setting", ago=dt.timedelta(days=1 if user == 0 else 9), end_user_id=f"b{user}")

    run(project)

    [first, second] = problem_list(project=project)
    assert first.representative_input == "export to csv fails"
    assert (first.trend, second.trend) == (2.0, 0.5)
    assert first.last_seen.date() == second.last_seen.date() == (timezone.now() - dt.timedelta(days=1)).date()
