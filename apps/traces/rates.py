"""Reads: signal rates of live traffic per arm — A/B variants or prompt versions — over a window.

The floors above compare arms with them (an online validation, a prompt version's traffic, the
post-deploy watch). Two grouped statements whatever the traffic: turns per arm (an index range
of ``traces_turn_variant_idx`` / ``traces_turn_prompt_idx`` per arm), and per arm and signal
kind the turns that carry that signal with a value other than ``false`` (a thumbs-down sent as
``false`` is not a thumbs-down). Nothing is read into Python row by row.

For the mean of a numeric signal (a ``csat`` of 1–5, a ``latency_ms``) ``arm_signal_values``
returns per arm and kind the count, sum and sum of squares of one value a turn (a turn with
several numeric values of a kind counts their mean; non-numeric values, and beyond ±10¹⁰⁰, are
left out), in one grouped statement: what Welch's test needs, whatever the traffic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apps.core.sql import tenant_sql

ARM_COLUMNS = {"variant": "variant", "prompt_version": "prompt_version"}
WINDOW = ("t.created_at >= coalesce(%(since)s::timestamptz, '-infinity') "
          "AND t.created_at < coalesce(%(until)s::timestamptz, 'infinity')")


@dataclass(slots=True)
class ArmCounts:
    turns: int = 0
    with_signal: dict[str, int] = field(default_factory=dict)  # kind → turns with it

    def rate(self, kind: str) -> float | None:
        return self.with_signal.get(kind, 0) / self.turns if self.turns else None


def arm_signal_counts(*, project, arm_by: str, arms: list[str], kinds: list[str],
                      since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict[str, ArmCounts]:
    """``{arm: ArmCounts}`` for each of ``arms`` (turns created in ``[since, until)``), every
    arm present even without turns; ``arm_by`` is ``"variant"`` or ``"prompt_version"``."""
    column = _column(arm_by)
    counts = {arm: ArmCounts(with_signal={kind: 0 for kind in kinds}) for arm in arms}
    if not arms:
        return counts
    window = WINDOW
    params = {"arms": list(arms), "kinds": list(kinds), "since": since, "until": until}
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            f"SELECT t.{column}, count(*) FROM traces_turn t "
            f"WHERE t.project_id = %(project_id)s AND t.{column} = ANY(%(arms)s) AND {window} GROUP BY 1",
            params,
        )
        for arm, turns in cursor.fetchall():
            counts[arm].turns = turns
        if kinds:
            cursor.execute(
                f"""
                SELECT t.{column}, s.kind, count(DISTINCT s.turn_id)
                FROM traces_turn t JOIN traces_signal s ON s.project_id = t.project_id AND s.turn_id = t.id
                WHERE t.project_id = %(project_id)s AND t.{column} = ANY(%(arms)s) AND {window}
                  AND s.kind = ANY(%(kinds)s) AND s.value IS DISTINCT FROM 'false'::jsonb
                GROUP BY 1, 2
                """,
                params,
            )
            for arm, kind, turns in cursor.fetchall():
                counts[arm].with_signal[kind] = turns
    return counts


def _column(arm_by: str) -> str:
    column = ARM_COLUMNS.get(arm_by)
    if column is None:
        raise ValueError(f"arms are told apart by {sorted(ARM_COLUMNS)}, not {arm_by!r}")
    return column


@dataclass(frozen=True, slots=True)
class ValueSums:
    n: int = 0  # turns with a numeric value of the kind
    total: float = 0.0
    squares: float = 0.0


def arm_signal_values(*, project, arm_by: str, arms: list[str], kinds: list[str],
                      since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict[str, dict[str, ValueSums]]:
    """``{arm: {kind: ValueSums}}`` of the numeric values of ``kinds`` on each arm's turns in
    ``[since, until)`` (module doc); every arm and kind present, ``n = 0`` without values."""
    column = _column(arm_by)
    sums = {arm: {kind: ValueSums() for kind in kinds} for arm in arms}
    if not arms or not kinds:
        return sums
    params = {"arms": list(arms), "kinds": list(kinds), "since": since, "until": until}
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            f"""
            SELECT arm, kind, count(value), sum(value), sum(value * value)
            FROM (
                -- CASE, not AND: PostgreSQL may evaluate AND's operands in any order, and a cast of
                -- `true` (or of 1e400, beyond a double) would fail the whole statement.
                SELECT t.{column} AS arm, s.kind, avg(CASE WHEN jsonb_typeof(s.value) <> 'number' THEN NULL
                                                            WHEN abs((s.value #>> '{{}}')::numeric) < 1e100
                                                            THEN (s.value #>> '{{}}')::double precision END) AS value
                FROM traces_turn t JOIN traces_signal s ON s.project_id = t.project_id AND s.turn_id = t.id
                WHERE t.project_id = %(project_id)s AND t.{column} = ANY(%(arms)s) AND {WINDOW}
                  AND s.kind = ANY(%(kinds)s) AND jsonb_typeof(s.value) = 'number'
                GROUP BY t.id, 1, 2
            ) per_turn
            GROUP BY 1, 2
            """,
            params,
        )
        for arm, kind, n, total, squares in cursor.fetchall():
            if n:
                sums[arm][kind] = ValueSums(n, float(total), float(squares))
    return sums
