"""Deleting turns: the one door both retention expiry and end-user deletion go through.

A turn goes together with what lives and dies with it (steps, signals, feedback, the detection
pass that saw it, the LLM judge's verdicts on it) and leaves a ``TurnTombstone`` for the lineage
that outlives it (dataset cases, review decisions, problem memberships, audit rows refer to
turns by id). One call is one
transaction over a bounded set of turns: a crash leaves either the whole batch or none of it,
never a turn without its tombstone or children without a turn they had. Callers choose the turns
(expiry excludes held ones in the same query, so a turn that became held after it was listed is
not deleted) and loop over batches; each loop is resumable because a deleted turn is not found
again and a tombstone insert ignores one already there.

A batch is one prepared statement: the caller's queryset, compiled by the ORM, locks and lists
the batch in a CTE (``FOR UPDATE SKIP LOCKED``), and the tombstones and every delete read the
batch from there, each child table probed through its ``(project, turn_id)`` index. The ids never
travel to Python and back: quoting thousands of them into six statements' text and parsing
thousands of timestamps cost more than the deletes themselves.

Most of a batch's WAL is not its rows but full-page images: the first change to a page after a
checkpoint logs the whole 8 kB page, and a purge changes every page of the old turns and their
children once. On 1,000,000 turns that was 1.9 GB of WAL, 90 % of it page images, which every
commit of ingestion has to wait behind (its WAL flush). So a batch compresses its page images
(``wal_compression``, transaction-local) where the server leaves them uncompressed and the role
may change it (a superuser, or one granted ``SET`` on it); the embedded server compresses them
server-wide. The same purge then writes 0.9 GB in the same time (``bench/expiry.py``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from apps.core.sql import tenant_prepared_value, tenant_sql
from apps.detection.models import DetectionPass, JudgeVerdict
from apps.traces.models import Feedback, Signal, Step, Turn, TurnTombstone

# What goes with its turn, by the name the deletion counts use.
TURN_CHILDREN = {
    "steps": Step, "signals": Signal, "feedback": Feedback, "detection_passes": DetectionPass, "judge_verdicts": JudgeVerdict,
}
KINDS = (*TURN_CHILDREN, "turns")

_PLACEHOLDER = re.compile(r"(?<!%)%s")

_CHILDREN_SQL = ",\n".join(
    f"{kind} AS (DELETE FROM {model._meta.db_table} WHERE project_id = %(project_id)s"
    f" AND turn_id = ANY(ARRAY(SELECT id FROM batch)) RETURNING 1)"
    for kind, model in TURN_CHILDREN.items()
)
_PURGE_SQL = f"""
    WITH batch AS ({{batch}}),
    tombstones AS (
        INSERT INTO {TurnTombstone._meta.db_table} (project_id, id, turn_created_at, deleted_at, reason)
        SELECT %(project_id)s, id, created_at, %(now)s, %(reason)s FROM batch
        ON CONFLICT DO NOTHING
    ),
    {_CHILDREN_SQL},
    turns AS (
        DELETE FROM {Turn._meta.db_table} WHERE project_id = %(project_id)s
        AND id = ANY(ARRAY(SELECT id FROM batch)) RETURNING 1
    )
    SELECT json_build_object(
        {", ".join(f"'{kind}', (SELECT count(*) FROM {kind})" for kind in KINDS)},
        'last_created_at', (SELECT max(created_at) FROM batch)
    )
"""


# Turned on for the batch's transaction only, where it is off and this role may set it (PostgreSQL
# 15 grants SET on a parameter; before it, only a superuser may).
_COMPRESS_PAGE_IMAGES = """
    SELECT set_config('wal_compression', 'on', true) WHERE current_setting('wal_compression') = 'off'
    AND (current_setting('is_superuser') = 'on' {or_granted})
"""


def _compress_page_images() -> None:
    granted = "OR has_parameter_privilege('wal_compression', 'SET')" if connection.pg_version >= 150000 else ""
    with tenant_sql(unscoped="a setting of this transaction, no table read") as cursor:
        cursor.execute(_COMPRESS_PAGE_IMAGES.format(or_granted=granted))


@dataclass(frozen=True)
class Purged:
    """What one batch deleted (row counts by kind) and the newest ``created_at`` among its turns
    (where an oldest-first caller resumes), None when the batch found nothing."""

    counts: Counter
    last_created_at: dt.datetime | None


def purge_batch(*, project, turns, reason: str, now=None) -> Purged:
    """Delete the turns of ``turns`` (a Turn queryset of ``project``, sliced to the batch) that no
    other transaction holds locked, with their children, leaving tombstones.

    Rows locked by a concurrent writer (a turn being updated right now) are skipped, not waited
    for: the next batch or run takes them.
    """
    now = now or timezone.now()
    with transaction.atomic():
        _compress_page_images()
        batch = turns.select_for_update(skip_locked=True, of=("self",)).values("id", "created_at")
        batch_sql, batch_params = batch.query.sql_with_params()
        names = iter(range(len(batch_params)))
        named_sql = _PLACEHOLDER.sub(lambda _: f"%(batch_{next(names)})s", batch_sql)
        result = tenant_prepared_value(
            _PURGE_SQL.replace("{batch}", named_sql),
            {**{f"batch_{i}": value for i, value in enumerate(batch_params)}, "now": now, "reason": reason},
            project=project,
        )
    last = result.pop("last_created_at")
    return Purged(counts=+Counter(result), last_created_at=dt.datetime.fromisoformat(last) if last else None)


def purge_turns(*, project, turns, reason: str, now=None) -> Counter:
    """``purge_batch``'s counts: the rows deleted by kind."""
    return purge_batch(project=project, turns=turns, reason=reason, now=now).counts
