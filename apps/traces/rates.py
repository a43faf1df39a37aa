"""Reads: signal rates of live traffic per arm — A/B variants or prompt versions — over a window.

The floors above compare arms with them (an online validation, a prompt version's traffic, the
post-deploy watch). Two grouped statements whatever the traffic: turns per arm (an index range
of ``traces_turn_variant_idx`` / ``traces_turn_prompt_idx`` per arm), and per arm and signal
kind the turns that carry that signal with a value other than ``false`` (a thumbs-down sent as
``false`` is not a thumbs-down). Nothing is read into Python row by row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apps.core.sql import tenant_sql

ARM_COLUMNS = {"variant": "variant", "prompt_version": "prompt_version"}


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
    column = ARM_COLUMNS.get(arm_by)
    if column is None:
        raise ValueError(f"arms are told apart by {sorted(ARM_COLUMNS)}, not {arm_by!r}")
    counts = {arm: ArmCounts(with_signal={kind: 0 for kind in kinds}) for arm in arms}
    if not arms:
        return counts
    window = "t.created_at >= coalesce(%(since)s::timestamptz, '-infinity') AND t.created_at < coalesce(%(until)s::timestamptz, 'infinity')"
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
