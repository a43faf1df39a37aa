"""Problem counters, pain and cause proposals, recomputed from the membership snapshots.

Counters are SQL aggregates over ``problems_problemturn`` (one statement for the whole project);
pain follows apps/problems/ranking.py. Causes are proposed only for problems whose members
changed (``needs_cause``) and never overwrite a cause a reviewer confirmed.
"""

from __future__ import annotations

import datetime as dt

from apps.core.sql import tenant_sql
from apps.problems import selectors
from apps.problems.causes import propose
from apps.problems.models import CauseState, Problem, ProblemStatus
from apps.problems.ranking import pain


def problem_stats_refresh(*, project, now: dt.datetime, problem_ids=None) -> int:
    """Recompute counters and pain of the project's problems (or of ``problem_ids``); returns rows updated."""
    week, fortnight = now - dt.timedelta(days=7), now - dt.timedelta(days=14)
    rows = selectors.problem_stats_rows(project=project, since_week=week, since_fortnight=fortnight, problem_ids=problem_ids)
    problems = Problem.objects.for_project(project).exclude(status=ProblemStatus.MERGED)
    if problem_ids is not None:
        problems = problems.filter(pk__in=list(problem_ids))
    columns: dict[str, list] = {name: [] for name in (
        "id", "turns", "users", "severity", "first", "last", "last7", "prev7", "prompt", "recency", "trend", "pain",
    )}
    for problem_id, current_prompt in problems.values_list("id", "prompt_version"):
        turns, users, severity, first, last, last7, prev7, prompt = rows.get(
            problem_id, (0, 0, 0.0, None, None, 0, 0, current_prompt)
        )
        factors = pain(users=users, turns=turns, severity=severity or 0.0, last_seen=last, last_7d=last7, prev_7d=prev7, now=now)
        for name, value in (
            ("id", problem_id), ("turns", turns), ("users", users), ("severity", round(severity or 0.0, 3)),
            ("first", first), ("last", last), ("last7", last7), ("prev7", prev7), ("prompt", prompt or ""),
            ("recency", factors["recency"]), ("trend", factors["trend"]), ("pain", factors["pain"]),
        ):
            columns[name].append(value)
    if not columns["id"]:
        return 0
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            """
            UPDATE problems_problem AS p SET
                turn_count = u.turns, user_count = u.users, severity = u.severity, first_seen = u.first,
                last_seen = u.last, count_last_7d = u.last7, count_prev_7d = u.prev7, prompt_version = u.prompt,
                recency = u.recency, trend = u.trend, pain = u.pain
            FROM unnest(%(id)s::bigint[], %(turns)s::int[], %(users)s::int[], %(severity)s::float8[],
                        %(first)s::timestamptz[], %(last)s::timestamptz[], %(last7)s::int[], %(prev7)s::int[],
                        %(prompt)s::text[], %(recency)s::float8[], %(trend)s::float8[], %(pain)s::float8[])
                AS u(id, turns, users, severity, first, last, last7, prev7, prompt, recency, trend, pain)
            WHERE p.id = u.id AND p.project_id = %(project_id)s
            """,
            columns,
        )
        return cursor.rowcount


def apply_proposal(problem: Problem, chosen: dict | None, evidence: dict) -> None:
    """Set the proposal on ``problem`` (not saved). A confirmed cause is kept as it is."""
    problem.evidence = evidence
    problem.needs_cause = False
    if problem.cause_state == CauseState.CONFIRMED:
        return
    if chosen is not None:
        problem.cause, problem.cause_key, problem.cause_state = chosen["text"][:2000], chosen["key"][:300], CauseState.PROPOSED
    elif problem.cause_state == CauseState.PROPOSED:
        problem.cause, problem.cause_key, problem.cause_state = "", "", CauseState.NONE


def problem_causes_refresh(*, project, now: dt.datetime, problem_ids=None) -> int:
    """Propose causes for problems whose members changed (or for ``problem_ids``)."""
    problems = Problem.objects.for_project(project).exclude(status=ProblemStatus.MERGED)
    problems = problems.filter(pk__in=list(problem_ids)) if problem_ids is not None else problems.filter(needs_cause=True)
    problems = list(problems.order_by("id"))
    if not problems:
        return 0
    counts = selectors.problem_member_counts(project=project, problem_ids=[p.pk for p in problems])
    baseline = selectors.problem_baseline_counts(project=project, now=now)
    for problem in problems:
        chosen, evidence = propose(counts[problem.pk], baseline, problem.rejected_causes or [])
        apply_proposal(problem, chosen, evidence)
    Problem.objects.for_project(project).bulk_update(problems, ["cause", "cause_key", "cause_state", "evidence", "needs_cause"], batch_size=500)
    return len(problems)
