"""Reads of captured data. Every query starts from a project (fail-closed managers)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.core.pagination import decode_position, encode_position
from apps.core.sql import tenant_sql
from apps.traces.models import Feedback, Signal, Step, Turn, TurnTombstone


def turn_get(*, project, turn_id) -> Turn | None:
    try:
        turn_id = uuid.UUID(str(turn_id))
    except ValueError:
        return None
    return Turn.objects.for_project(project).filter(id=turn_id).first()


def turn_children(*, project, turn_id) -> dict:
    return {
        "steps": list(Step.objects.for_project(project).filter(turn_id=turn_id).order_by("started_at", "id")),
        "signals": list(Signal.objects.for_project(project).filter(turn_id=turn_id).order_by("created_at", "id")),
        "feedback": list(Feedback.objects.for_project(project).filter(turn_id=turn_id).order_by("created_at")),
    }


def feedback_get(*, project, feedback_id) -> Feedback | None:
    return Feedback.objects.for_project(project).filter(id=feedback_id).first()


def _iso(value):
    return value.isoformat() if value else None


def turn_as_dict(turn: Turn) -> dict:
    children = turn_children(project=turn.project_id, turn_id=turn.id)
    return {
        "id": str(turn.id),
        "project": str(turn.project_id),
        "session_id": turn.session_id,
        "user_id": turn.end_user_id,
        "question": turn.input,
        "agent_response": turn.output,
        "history": turn.history,
        "prompt_version": turn.prompt_version,
        "model": turn.model,
        "retrieved": turn.retrieved,
        "tool_calls": turn.tool_calls,
        "metadata": turn.metadata,
        "variant": turn.variant,
        "source": turn.source,
        "timestamp": _iso(turn.created_at),
        "received_at": _iso(turn.received_at),
        "expires_at": _iso(turn.expires_at),
        "review_state": turn.review_state,
        "redactions": turn.redactions,
        "steps": [
            {
                "id": s.span_id, "parent_id": s.parent_span_id, "kind": s.kind, "name": s.name,
                "started_at": _iso(s.started_at), "ended_at": _iso(s.ended_at), "duration_ms": s.duration_ms,
                "input": s.input, "output": s.output, "error": s.error, "attributes": s.attributes,
            }
            for s in children["steps"]
        ],
        "signals": [
            {"kind": s.kind, "value": s.value, "source": s.source, "dedupe_key": s.dedupe_key, "created_at": _iso(s.created_at)}
            for s in children["signals"]
        ],
        "feedback": [
            {
                "id": str(f.id), "rating": f.rating, "comment": f.comment, "correction": f.correction,
                "source": f.source, "user_id": f.end_user_id, "created_at": _iso(f.created_at), "updated_at": _iso(f.updated_at),
            }
            for f in children["feedback"]
        ],
    }


@dataclass
class TurnFilters:
    signal: str = ""
    feedback: str = ""  # "", "any", "up", "down", "comment", "correction"
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    user: str = ""
    session: str = ""
    prompt_version: str = ""
    model: str = ""
    variant: str = ""
    text: str = ""


def _signal_exists(project, kind: str):
    return Exists(Signal.objects.for_project(project).filter(turn_id=OuterRef("id"), kind=kind))


def turn_list(*, project, filters: TurnFilters):
    turns = Turn.objects.for_project(project)
    if filters.since:
        turns = turns.filter(created_at__gte=filters.since)
    if filters.until:
        turns = turns.filter(created_at__lt=filters.until)
    for name, column in (("user", "end_user_id"), ("session", "session_id"), ("prompt_version", "prompt_version"),
                         ("model", "model"), ("variant", "variant")):
        value = getattr(filters, name)
        if value:
            turns = turns.filter(**{column: value})
    if filters.signal:
        turns = turns.filter(_signal_exists(project, filters.signal))
    if filters.feedback:
        feedback = Feedback.objects.for_project(project).filter(turn_id=OuterRef("id"))
        if filters.feedback in ("up", "down"):
            feedback = feedback.filter(rating=filters.feedback)
        elif filters.feedback == "comment":
            feedback = feedback.exclude(comment="")
        elif filters.feedback == "correction":
            feedback = feedback.exclude(correction="")
        turns = turns.filter(Exists(feedback))
    if filters.text:
        turns = turns.annotate(search=SearchVector("input", "output", config="simple")).filter(
            search=SearchQuery(filters.text, config="simple", search_type="websearch")
        )
    return turns.order_by("-created_at", "-id")


def turn_page(*, project, filters: TurnFilters, after: str = "", size: int = 50) -> tuple[list[Turn], str | None]:
    """Keyset pagination (newest first): stable and index-backed on millions of turns."""
    turns = turn_list(project=project, filters=filters)
    position = decode_position(after) if after else None
    if position:
        created, turn_id = position
        # ``created_at <= cursor`` is implied by the OR; it is spelled out because PostgreSQL can
        # use it as an index condition (start the scan at the cursor) but not the OR itself, which
        # would otherwise be a filter over every newer row — OFFSET's cost under another name.
        turns = turns.filter(created_at__lte=created).filter(
            Q(created_at__lt=created) | Q(created_at=created, id__lt=turn_id)
        )
    rows = list(turns[: size + 1])
    next_cursor = encode_position(rows[size - 1].created_at, rows[size - 1].id) if len(rows) > size else None
    return rows[:size], next_cursor


def signal_kinds_for(*, project, turn_ids) -> dict:
    """``{turn_id: [kind, …]}``: each turn's distinct signal kinds, sorted (one badge per kind)."""
    kinds: dict = {}
    rows = Signal.objects.for_project(project).filter(turn_id__in=list(turn_ids)).values_list("turn_id", "kind")
    for turn_id, kind in rows.distinct():
        kinds.setdefault(turn_id, []).append(kind)
    return {turn_id: sorted(names) for turn_id, names in kinds.items()}


@dataclass
class FeedbackSummary:
    up: int = 0
    down: int = 0
    stars: list = field(default_factory=list)
    unrated: int = 0
    comments: int = 0
    corrections: int = 0

    @property
    def total(self) -> int:
        return self.up + self.down + len(self.stars) + self.unrated


def feedback_summary_for(*, project, turn_ids) -> dict:
    """``{turn_id: FeedbackSummary}`` for the turns that have feedback."""
    summaries: dict = {}
    rows = Feedback.objects.for_project(project).filter(turn_id__in=list(turn_ids)).values_list(
        "turn_id", "rating", "comment", "correction"
    )
    for turn_id, rating, comment, correction in rows:
        summary = summaries.setdefault(turn_id, FeedbackSummary())
        if rating == "up":
            summary.up += 1
        elif rating == "down":
            summary.down += 1
        elif rating:
            summary.stars.append(rating)
        else:
            summary.unrated += 1
        summary.comments += bool(comment)
        summary.corrections += bool(correction)
    return summaries


def session_turns(*, project, session_id: str) -> list[Turn]:
    return list(Turn.objects.for_project(project).filter(session_id=session_id).order_by("created_at", "id")[:1000])


def _distinct_values(*, model, column: str, project, limit: int) -> list[str]:
    """Distinct non-empty values of ``column`` in one project, in order, at most ``limit``.

    A loose index scan (a recursive CTE that jumps from one value to the next through the
    ``(project, column, …)`` index): one index probe per distinct value, where ``SELECT
    DISTINCT`` would read every row of the project — a million index entries per dropdown.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(column)
    sql = f"""
        WITH RECURSIVE walk(value) AS (
            (SELECT {column} FROM {table} WHERE project_id = %(project_id)s AND {column} > '' ORDER BY {column} LIMIT 1)
            UNION ALL
            SELECT (SELECT {column} FROM {table} WHERE project_id = %(project_id)s AND {column} > walk.value
                    ORDER BY {column} LIMIT 1)
            FROM walk WHERE walk.value IS NOT NULL
        )
        SELECT value FROM walk WHERE value IS NOT NULL LIMIT %(limit)s
    """
    with tenant_sql(project=project) as cursor:
        cursor.execute(sql, {"limit": limit})
        return [row[0] for row in cursor.fetchall()]


def filter_choices(*, project, limit: int = 100) -> dict:
    """Distinct values for the explorer's dropdowns (bounded, index-backed)."""
    return {
        "signal_kinds": _distinct_values(model=Signal, column="kind", project=project, limit=limit),
        "prompt_versions": _distinct_values(model=Turn, column="prompt_version", project=project, limit=limit),
        "models": _distinct_values(model=Turn, column="model", project=project, limit=limit),
        "variants": _distinct_values(model=Turn, column="variant", project=project, limit=limit),
    }


def project_capture_counts(*, project, now: dt.datetime | None = None) -> dict:
    """The overview's numbers: turns in the last 24 h and in total, thumbs-down turns, waiting children."""
    now = now or timezone.now()
    turns = Turn.objects.for_project(project)
    return {
        "turns_last_day": turns.filter(created_at__gte=now - dt.timedelta(hours=24)).count(),
        "turns_total": turns.count(),
        "thumbs_down": turns_with_signal_count(project=project, kind="thumbs_down"),
        "waiting": sum(waiting_counts(project=project).values()),
        "redactions": project_redaction_counts(project=project),
    }


_REDACTION_COUNTS_SQL = """
    SELECT c.key, sum(c.value::bigint) FROM traces_turn t, jsonb_each_text(t.redactions) AS c(key, value)
    WHERE t.project_id = %(project_id)s AND t.redactions <> '{}'::jsonb
    GROUP BY c.key ORDER BY 2 DESC, 1
"""


def project_redaction_counts(*, project) -> dict[str, int]:
    """What PII redaction replaced in the project's stored turns, per kind (``Turn.redactions``)."""
    with tenant_sql(project=project) as cursor:
        cursor.execute(_REDACTION_COUNTS_SQL)
        return {kind: int(total) for kind, total in cursor.fetchall()}


def turns_with_signal_count(*, project, kind: str) -> int:
    """How many arrived turns carry a signal of ``kind``; driven from the (usually far fewer) signals."""
    turn_exists = Exists(Turn.objects.for_project(project).filter(id=OuterRef("turn_id")))
    signals = Signal.objects.for_project(project).filter(kind=kind).filter(turn_exists)
    return signals.values("turn_id").distinct().count()


def _waiting(model, project):
    """Rows of ``model`` whose turn has not arrived in this project: the flagged rows (a small
    partial index), each checked against the turn table (a flag can be stale, never missing)."""
    turn_exists = Exists(Turn.objects.for_project(project).filter(id=OuterRef("turn_id")))
    return model.objects.for_project(project).filter(waiting=True).filter(~turn_exists)


def waiting_counts(*, project) -> dict:
    return {
        "feedback": _waiting(Feedback, project).count(),
        "signals": _waiting(Signal, project).count(),
        "steps": _waiting(Step, project).count(),
    }


def waiting_for_turn(*, project, turn_id) -> dict:
    """Children already stored for a turn id that has not arrived (all zero for an unknown id)."""
    return {
        "feedback": Feedback.objects.for_project(project).filter(turn_id=turn_id).count(),
        "signals": Signal.objects.for_project(project).filter(turn_id=turn_id).count(),
        "steps": Step.objects.for_project(project).filter(turn_id=turn_id).count(),
    }


def waiting_items(*, project, limit: int = 200) -> dict:
    """Children stored before their turn arrived ("waiting for their turn"), newest first."""
    return {
        "feedback": list(_waiting(Feedback, project).order_by("-created_at")[:limit]),
        "signals": list(_waiting(Signal, project).order_by("-created_at")[:limit]),
        "steps": list(_waiting(Step, project).order_by("-received_at")[:limit]),
    }


# --- Reads for the floors above (problems) ------------------------------------------------------
# The clustering job's reads of turns and signals, asked of this app rather than spelled against
# its tables elsewhere. Each is one statement through the tenancy door, the text the job was
# tuned on: these run for every batch the job reads.



def signal_rows_after(*, project, watermark: int, limit: int) -> list[tuple]:
    """(id, turn id, created_at) of the project's signals past ``watermark``, by id, at most ``limit``."""
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            "SELECT id, turn_id, created_at FROM traces_signal WHERE project_id = %(project_id)s AND id > %(watermark)s ORDER BY id LIMIT %(limit)s",
            {"watermark": watermark, "limit": limit},
        )
        return cursor.fetchall()


def _json(value):
    """Django's psycopg setup hands jsonb to raw cursors as text."""
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass(slots=True)
class TurnFactRows:
    """The turns asked for that exist, and every signal of them (value decoded)."""

    turns: list[tuple]  # (id, input, output, created_at, end_user_id, session_id, prompt_version, model)
    signals: list[tuple]  # (turn id, kind, value, source)


def turn_fact_rows(*, project, turn_ids: list) -> TurnFactRows:
    """The facts clustering places a turn by, for ``turn_ids`` (two statements, one cursor)."""
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            """
            SELECT id, input, output, created_at, end_user_id, session_id, prompt_version, model
            FROM traces_turn WHERE project_id = %(project_id)s AND id = ANY(%(ids)s::uuid[])
            """,
            {"ids": turn_ids},
        )
        turns = cursor.fetchall()
        cursor.execute(
            "SELECT turn_id, kind, value, source FROM traces_signal WHERE project_id = %(project_id)s AND turn_id = ANY(%(ids)s::uuid[])",
            {"ids": turn_ids},
        )
        signals = [(turn_id, kind, _json(value), source) for turn_id, kind, value, source in cursor.fetchall()]
    return TurnFactRows(turns=turns, signals=signals)


@dataclass(slots=True)
class TurnBaselineCounts:
    """The project's turns since a moment, counted the ways a problem's cause is compared by."""

    prompt_versions: dict = field(default_factory=dict)  # prompt version → turns
    models: dict = field(default_factory=dict)  # model → turns
    kinds: dict = field(default_factory=dict)  # signal kind (of those asked for) → turns with it, not false
    gap_reasons: dict = field(default_factory=dict)  # knowledge_gap reason → turns
    tools: dict = field(default_factory=dict)  # failed tool of a tool_error → turns


def turn_baseline_counts(*, project, since: dt.datetime, kinds) -> TurnBaselineCounts:
    """Turn and signal group counts since ``since`` (five statements, one cursor)."""
    counts = TurnBaselineCounts()
    with tenant_sql(project=project) as cursor:
        for attribute, column in (("prompt_versions", "prompt_version"), ("models", "model")):
            cursor.execute(
                f"SELECT {column}, count(*) FROM traces_turn WHERE project_id = %(project_id)s AND created_at >= %(since)s GROUP BY 1",
                {"since": since},
            )
            setattr(counts, attribute, dict(cursor.fetchall()))
        cursor.execute(
            """
            SELECT kind, count(DISTINCT turn_id) FROM traces_signal
            WHERE project_id = %(project_id)s AND created_at >= %(since)s AND kind = ANY(%(kinds)s) AND value IS DISTINCT FROM 'false'::jsonb
            GROUP BY kind
            """,
            {"since": since, "kinds": list(kinds)},
        )
        counts.kinds = dict(cursor.fetchall())
        cursor.execute(
            """
            SELECT value->>'reason', count(DISTINCT turn_id) FROM traces_signal
            WHERE project_id = %(project_id)s AND created_at >= %(since)s AND kind = 'knowledge_gap' GROUP BY 1
            """,
            {"since": since},
        )
        counts.gap_reasons = dict(cursor.fetchall())
        cursor.execute(
            """
            SELECT tool, count(DISTINCT turn_id) FROM traces_signal s,
                LATERAL jsonb_array_elements_text(
                    CASE WHEN jsonb_typeof(s.value->'failed') = 'array' THEN s.value->'failed' ELSE '[]'::jsonb END
                ) AS tool
            WHERE s.project_id = %(project_id)s AND s.created_at >= %(since)s AND s.kind = 'tool_error' GROUP BY tool
            """,
            {"since": since},
        )
        counts.tools = dict(cursor.fetchall())
    return counts


# --- Reads for the floors above (experiments: a prompt version's traffic) -----------------------


def prompt_version_turn_ids(*, project, prompt_version: str, since: dt.datetime):
    """The ids of the turns that carried ``prompt_version`` since ``since`` (a lazy queryset, to
    use inside another query)."""
    return Turn.objects.for_project(project).filter(prompt_version=prompt_version, created_at__gte=since).values("id")


def prompt_version_signal_counts(*, project, prompt_version: str, since: dt.datetime, kinds) -> tuple[int, dict]:
    """(turns that carried ``prompt_version`` since ``since``, signal kind → how many of those
    turns have it, not false). Two statements on the prompt-version index."""
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            "SELECT count(*) FROM traces_turn WHERE project_id = %(project_id)s AND prompt_version = %(version)s AND created_at >= %(since)s",
            {"version": prompt_version, "since": since},
        )
        turns = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT s.kind, count(DISTINCT s.turn_id) FROM traces_signal s
            JOIN traces_turn t ON t.project_id = s.project_id AND t.id = s.turn_id
            WHERE s.project_id = %(project_id)s AND t.project_id = %(project_id)s
              AND t.prompt_version = %(version)s AND t.created_at >= %(since)s
              AND s.kind = ANY(%(kinds)s) AND s.value IS DISTINCT FROM 'false'::jsonb
            GROUP BY s.kind
            """,
            {"version": prompt_version, "since": since, "kinds": list(kinds)},
        )
        return turns, dict(cursor.fetchall())


def tombstones_for(*, project, turn_ids) -> dict[uuid.UUID, TurnTombstone]:
    """The tombstones among ``turn_ids`` (deleted turns), by id: what a page shows in place of a link."""
    ids = [turn_id for turn_id in turn_ids if turn_id]
    if not ids:
        return {}
    return {row.id: row for row in TurnTombstone.objects.for_project(project).filter(id__in=ids)}
