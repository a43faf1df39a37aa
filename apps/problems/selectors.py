"""Reads of problems: the ranked backlog, one problem and its turns, and the clustering job's
inputs (what changed since the watermarks, the facts of those turns, the cause baseline)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.http import Http404

from apps.core.pagination import decode_position, encode_position
from apps.core.sql import tenant_sql
from apps.detection import selectors as detection_selectors
from apps.problems.causes import BASELINE_DAYS, SIGNAL_LABELS, Counts
from apps.problems.flags import TurnFlags, turn_flags
from apps.problems.models import UNRESOLVED_STATUSES, ClusteringState, Problem, ProblemStatus, ProblemTurn
from apps.review import selectors as review_selectors
from apps.traces import selectors as traces_selectors
from apps.traces.models import Turn

# --- the backlog ------------------------------------------------------------------------------

STATUS_FILTERS = {
    "unresolved": UNRESOLVED_STATUSES,
    "all": [s for s in ProblemStatus.values if s != ProblemStatus.MERGED],
    **{s: [s] for s in ProblemStatus.values if s != ProblemStatus.MERGED},
}


def problem_list(*, project, status: str = "unresolved", include_empty: bool = False):
    """Problems ranked by pain (then the most recent first); ``status`` is a STATUS_FILTERS key."""
    problems = Problem.objects.for_project(project).filter(status__in=STATUS_FILTERS[status])
    if not include_empty:
        problems = problems.filter(turn_count__gt=0)
    return problems.order_by("-pain", "-last_seen", "id")


def problem_get(*, project, problem_id) -> Problem:
    """One problem of this project (merged ones included); 404 for another project's or none."""
    problem = problem_get_by_id(project=project, problem_id=problem_id)
    if problem is None:
        raise Http404("No such problem.")
    return problem


def problem_get_by_id(*, project, problem_id) -> Problem | None:
    """A problem named in a request body: None when it is not this project's."""
    try:
        problem_id = int(problem_id)
    except (TypeError, ValueError):
        return None
    return Problem.objects.for_project(project).filter(pk=problem_id).first()


def problem_surviving(*, problem: Problem) -> Problem:
    """Follow ``merged_into`` to the problem that absorbed this one (itself if not merged)."""
    seen = {problem.pk}
    while problem.merged_into_id and problem.merged_into_id not in seen:
        seen.add(problem.merged_into_id)
        problem = Problem.objects.for_project(problem.project_id).get(pk=problem.merged_into_id)
    return problem


def problem_merge_targets(*, project, problem: Problem, limit: int = 200) -> list[Problem]:
    """Problems this one can be merged into: the others that are not merged, by pain."""
    return list(
        Problem.objects.for_project(project).exclude(status=ProblemStatus.MERGED).exclude(pk=problem.pk)
        .order_by("-pain", "id")[:limit]
    )


@dataclass(slots=True)
class MemberRow:
    membership: ProblemTurn
    turn: Turn | None  # None once the turn expired
    tombstone: object = None  # its TurnTombstone then (None for a turn deleted before tombstones existed)

    @property
    def turn_id(self):
        return self.membership.turn_id


def problem_members(*, problem: Problem, limit: int = 200, after: str = "") -> tuple[list[MemberRow], str | None]:
    """A page of ``limit`` memberships, newest turn first, with their turns (a turn past
    retention is None), and the cursor of the next (older) page or None. ``after`` is a cursor
    from an earlier page (``apps.core.pagination``; one it did not make starts from the newest)."""
    memberships = ProblemTurn.objects.for_project(problem.project_id).filter(problem=problem)
    position = decode_position(after) if after else None
    if position:
        created, turn_id = position
        memberships = memberships.filter(turn_created_at__lte=created).filter(
            Q(turn_created_at__lt=created) | Q(turn_created_at=created, turn_id__gt=turn_id)
        )
    page = list(memberships.order_by("-turn_created_at", "turn_id")[:limit + 1])
    next_cursor = encode_position(page[limit - 1].turn_created_at, page[limit - 1].turn_id) if len(page) > limit else None
    page = page[:limit]
    turns = {
        turn.id: turn
        for turn in Turn.objects.for_project(problem.project_id).filter(id__in=[m.turn_id for m in page]).only(
            "id", "input", "output", "end_user_id", "session_id", "created_at", "prompt_version", "model"
        )
    }
    tombstones = traces_selectors.tombstones_for(project=problem.project_id, turn_ids=[m.turn_id for m in page if m.turn_id not in turns])
    return [MemberRow(membership=m, turn=turns.get(m.turn_id), tombstone=tombstones.get(m.turn_id)) for m in page], next_cursor


def problem_turn_ids(*, problem: Problem, limit: int = 1000) -> list:
    return list(
        ProblemTurn.objects.for_project(problem.project_id).filter(problem=problem)
        .order_by("-turn_created_at", "turn_id").values_list("turn_id", flat=True)[:limit]
    )


def problem_member_turn_ids(*, problem: Problem, turn_ids) -> set:
    """Which of ``turn_ids`` are members of ``problem``."""
    return set(
        ProblemTurn.objects.for_project(problem.project_id).filter(problem=problem, turn_id__in=list(turn_ids))
        .values_list("turn_id", flat=True)
    )


def clustering_projects_behind() -> list:
    """Ids of the projects with evidence the clustering job has not taken in: a signal, review
    decision or detection pass past the project's watermarks, or any evidence at all for a
    project never clustered. Index-driven ``EXISTS`` probes (each table's id order per project);
    the catch-up beat visits only these."""
    from django.db.models import Exists, OuterRef

    from apps.detection.models import DetectionPass
    from apps.projects.models import Project
    from apps.review.models import Decision
    from apps.traces.models import Signal

    def newer(model, watermark):
        return Exists(model.all_tenants.filter(project=OuterRef("project"), id__gt=OuterRef(watermark)))  # unscoped: correlated to each project's state

    behind = ClusteringState.all_tenants.filter(  # unscoped: the beat looks at every project's watermarks
        newer(Signal, "signal_watermark") | newer(Decision, "decision_watermark") | newer(DetectionPass, "pass_watermark")
    ).values_list("project_id", flat=True)
    never = Project.all_tenants.filter(  # unscoped: the beat looks at every project
        ~Exists(ClusteringState.all_tenants.filter(project=OuterRef("pk"))),  # unscoped: correlated
        Exists(Signal.all_tenants.filter(project=OuterRef("pk"))) | Exists(Decision.all_tenants.filter(project=OuterRef("pk"))),  # unscoped: correlated
    ).values_list("pk", flat=True)
    return [*behind, *never]


def clustering_state_get(*, project) -> ClusteringState | None:
    return ClusteringState.objects.for_project(project).first()


# --- the clustering job's inputs -------------------------------------------------------------


@dataclass(slots=True)
class TurnFacts:
    id: object
    text: str
    created_at: dt.datetime
    affected_key: str
    prompt_version: str
    model: str
    flags: TurnFlags


def _read_since(rows: list[tuple], watermark: int, limit: int, cutoff: dt.datetime):
    """``rows`` (id, turn_id, created_at) read after ``watermark``, at most ``limit``; returns
    (turn ids, new watermark, more).

    A ``bigserial`` id is taken before its transaction commits, so a row committed late can
    appear below ids already read. Rows younger than ``cutoff`` are processed but the watermark
    stays below them: they are read again next run (a no-op for turns already placed).
    """
    turn_ids = {row[1] for row in rows}
    new_watermark = watermark
    held_back = False
    for row_id, _, created_at in rows:
        if created_at is not None and created_at > cutoff:
            held_back = True
            break
        new_watermark = row_id
    return turn_ids, new_watermark, len(rows) == limit and not held_back


def clustering_changes_get(*, project, state: ClusteringState, limit: int, cutoff: dt.datetime):
    """Turns touched since the watermarks: a new signal, a new review decision, or a first
    detection pass (which also catches signals that arrived before their turn).

    Returns (turn ids, {"signal": wm, "decision": wm, "pass": wm}, more to read).
    """
    reads = (
        ("signal", traces_selectors.signal_rows_after, state.signal_watermark),
        ("decision", review_selectors.review_decision_rows_after, state.decision_watermark),
        ("pass", detection_selectors.detection_pass_rows_after, state.pass_watermark),
    )
    turn_ids, marks, more = set(), {}, False
    for name, rows_after, watermark in reads:
        rows = rows_after(project=project, watermark=watermark, limit=limit)
        ids, marks[name], truncated = _read_since(rows, watermark, limit, cutoff)
        turn_ids |= ids
        more = more or truncated
    return turn_ids, marks, more


def clustering_turn_facts(*, project, turn_ids) -> dict:
    """turn id → TurnFacts for the turns that exist (their signals and latest verdict read)."""
    ids = list(turn_ids)
    if not ids:
        return {}
    rows = traces_selectors.turn_fact_rows(project=project, turn_ids=ids)
    signals: dict = {}
    for turn_id, kind, value, source in rows.signals:
        signals.setdefault(turn_id, []).append((kind, value, source))
    verdicts = review_selectors.review_final_verdicts(project=project, turn_ids=ids)
    facts = {}
    for turn_id, question, answer, created_at, user, session, prompt_version, model in rows.turns:
        affected = f"user:{user}" if user else (f"session:{session}" if session else f"turn:{turn_id}")
        facts[turn_id] = TurnFacts(
            id=turn_id, text=question or answer or "", created_at=created_at, affected_key=affected[:220],
            prompt_version=prompt_version, model=model,
            flags=turn_flags(signals.get(turn_id, ()), verdicts.get(turn_id)),
        )
    return facts


def clustering_memberships(*, project, turn_ids) -> dict:
    """turn id → its ProblemTurn (with the problem's grouping key and status)."""
    rows = ProblemTurn.objects.for_project(project).filter(turn_id__in=list(turn_ids)).select_related("problem")
    return {m.turn_id: m for m in rows}


def clustering_seeds(*, project, keys) -> list[Problem]:
    """Problems new turns may join: not merged, with one of the grouping keys (category, tool)."""
    keys = set(keys)
    if not keys:
        return []
    categories = {category for category, _ in keys}
    tools = {tool for _, tool in keys}
    rows = (
        Problem.objects.for_project(project).exclude(status=ProblemStatus.MERGED)
        .filter(category__in=categories, key_tool__in=tools).order_by("id")
    )
    return [p for p in rows if (p.category, p.key_tool) in keys]


def problem_stats_rows(*, project, since_week: dt.datetime, since_fortnight: dt.datetime, problem_ids=None) -> dict:
    """problem id → (turns, users, mean severity, first, last, last 7 days, previous 7 days, top prompt)."""
    where, params = "m.project_id = %(project_id)s", {"week": since_week, "fortnight": since_fortnight}
    if problem_ids is not None:
        where += " AND m.problem_id = ANY(%(problems)s)"
        params["problems"] = list(problem_ids)
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            f"""
            SELECT m.problem_id, count(*), count(DISTINCT m.affected_key), avg(m.severity)::float8,
                   min(m.turn_created_at), max(m.turn_created_at),
                   count(*) FILTER (WHERE m.turn_created_at >= %(week)s),
                   count(*) FILTER (WHERE m.turn_created_at >= %(fortnight)s AND m.turn_created_at < %(week)s),
                   mode() WITHIN GROUP (ORDER BY m.prompt_version)
            FROM problems_problemturn m WHERE {where} GROUP BY m.problem_id
            """,
            params,
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def problem_member_counts(*, project, problem_ids) -> dict:
    """problem id → Counts over its memberships (for the cause proposal)."""
    ids = list(problem_ids)
    counts = {pid: Counts() for pid in ids}
    if not ids:
        return counts
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            """
            SELECT problem_id, count(*), count(*) FILTER (WHERE retrieval_gap = 'empty'),
                   count(*) FILTER (WHERE retrieval_gap = 'low_score')
            FROM problems_problemturn WHERE project_id = %(project_id)s AND problem_id = ANY(%(ids)s) GROUP BY problem_id
            """,
            {"ids": ids},
        )
        for pid, total, empty, low in cursor.fetchall():
            counts[pid].total, counts[pid].gap_empty, counts[pid].gap_low = total, empty, low
        for attribute, expression in (
            ("tools", "unnest(failed_tools)"), ("kinds", "unnest(signal_kinds)"),
            ("prompt_versions", "prompt_version"), ("models", "model"),
        ):
            cursor.execute(
                f"""
                SELECT problem_id, value, count(*) FROM (
                    SELECT problem_id, {expression} AS value FROM problems_problemturn
                    WHERE project_id = %(project_id)s AND problem_id = ANY(%(ids)s)
                ) AS v GROUP BY problem_id, value
                """,
                {"ids": ids},
            )
            for pid, value, count in cursor.fetchall():
                getattr(counts[pid], attribute)[value] = count
    return counts


def problem_baseline_counts(*, project, now: dt.datetime) -> Counts:
    """The project's turns over the last BASELINE_DAYS: what a cause is compared against."""
    rows = traces_selectors.turn_baseline_counts(
        project=project, since=now - dt.timedelta(days=BASELINE_DAYS), kinds=SIGNAL_LABELS
    )
    baseline = Counts(prompt_versions=rows.prompt_versions, models=rows.models, kinds=rows.kinds, tools=rows.tools)
    baseline.total = sum(baseline.models.values())
    for reason, count in rows.gap_reasons.items():
        if reason == "empty":
            baseline.gap_empty += count
        else:
            baseline.gap_low += count
    return baseline
