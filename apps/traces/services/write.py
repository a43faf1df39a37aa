"""The ingestion hot path, second half: write a parsed ``Batch`` with one set-based statement per
kind (``INSERT … SELECT FROM unnest(arrays) ON CONFLICT``) in one transaction, through the
tenancy door for raw SQL (apps.core.sql: every statement is bound to the batch's project).

Idempotency comes from the database, never from check-then-act: turns are unique by
(project, id), steps by (project, turn, span), signals by (project, turn, kind, source, dedupe
key) and feedback by (project, id), so retries and concurrent duplicates store exactly one row.
Every key starts with the project: no statement here reads or conflicts with another tenant's
rows, so no answer depends on them.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from django.db import transaction
from django.utils import timezone

from apps.core import hooks
from apps.core.sql import tenant_sql
from apps.traces.services.batch import Batch, Outcome, SignalRow, reject
from apps.traces.services.redact import redact_batch

FEEDBACK_SIGNAL_KINDS = ("thumbs_up", "thumbs_down", "rating")


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _json(value) -> str:
    return msgspec.json.encode(value).decode()


def _feedback_signal(rating) -> tuple[str, object] | None:
    if rating == "down":
        return "thumbs_down", True
    if rating == "up":
        return "thumbs_up", True
    if isinstance(rating, int):
        return "rating", rating
    return None


def _jsonb_array(parameter: str) -> str:
    """A JSON column's values as one jsonb array parameter, not a text[] of JSON strings:
    psycopg escapes every quote of every array element in Python, which more than doubled the
    write of a 512-span OTLP export."""
    return f"ARRAY(SELECT e FROM jsonb_array_elements(%({parameter})s::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n)"


_EXISTING_TURNS_SQL = "SELECT id FROM traces_turn WHERE project_id = %(project_id)s AND id = ANY(%(ids)s)"

_TURNS_SQL = f"""
    INSERT INTO traces_turn (id, project_id, session_id, end_user_id, input, output, history,
        prompt_version, model, retrieved, tool_calls, metadata, variant, source, created_at,
        received_at, expires_at, review_state, redactions)
    SELECT u.id, %(project_id)s, u.session_id, u.end_user_id, u.input, u.output, u.history,
        u.prompt_version, u.model, u.retrieved, u.tool_calls, u.metadata,
        u.variant, %(source)s, u.created_at, %(now)s, %(expires_at)s, 'unreviewed', u.redactions
    FROM unnest(%(ids)s::uuid[], %(session_ids)s::text[], %(end_user_ids)s::text[], %(inputs)s::text[],
                %(outputs)s::text[], {_jsonb_array("history")}, %(prompt_versions)s::text[], %(models)s::text[],
                {_jsonb_array("retrieved")}, {_jsonb_array("tool_calls")}, {_jsonb_array("metadata")},
                %(variants)s::text[], %(created_at)s::timestamptz[], {_jsonb_array("redactions")})
        AS u(id, session_id, end_user_id, input, output, history, prompt_version, model,
             retrieved, tool_calls, metadata, variant, created_at, redactions)
    ON CONFLICT (project_id, id) DO NOTHING
    RETURNING id
"""

_STEPS_SQL = f"""
    INSERT INTO traces_step (project_id, turn_id, span_id, parent_span_id, kind, name, started_at,
        ended_at, input, output, error, attributes, received_at, expires_at, waiting)
    SELECT %(project_id)s, u.turn_id, u.span_id, u.parent_span_id, u.kind, u.name, u.started_at, u.ended_at,
        u.input, u.output, u.error, u.attributes, %(now)s, %(expires_at)s, u.waiting
    FROM unnest(%(turn_ids)s::uuid[], %(span_ids)s::text[], %(parent_span_ids)s::text[], %(kinds)s::text[],
                %(names)s::text[], %(started_at)s::timestamptz[], %(ended_at)s::timestamptz[],
                {_jsonb_array("inputs")}, {_jsonb_array("outputs")}, %(errors)s::text[],
                {_jsonb_array("attributes")}, %(waiting)s::boolean[])
        AS u(turn_id, span_id, parent_span_id, kind, name, started_at, ended_at, input, output, error, attributes,
             waiting)
    ON CONFLICT (project_id, turn_id, span_id) DO NOTHING
    RETURNING turn_id, span_id
"""

_SIGNALS_SQL = """
    INSERT INTO traces_signal (project_id, turn_id, kind, value, source, dedupe_key, created_at, expires_at,
        waiting)
    SELECT %(project_id)s, u.turn_id, u.kind, u.value::jsonb, u.source, u.dedupe_key, %(now)s, %(expires_at)s,
        u.waiting
    FROM unnest(%(turn_ids)s::uuid[], %(kinds)s::text[], %(values)s::text[], %(sources)s::text[],
                %(dedupe_keys)s::text[], %(waiting)s::boolean[])
        AS u(turn_id, kind, value, source, dedupe_key, waiting)
    ON CONFLICT (project_id, turn_id, kind, source, dedupe_key) DO NOTHING
    RETURNING turn_id, kind, source, dedupe_key
"""

_FEEDBACK_SQL = """
    INSERT INTO feedback_feedback (id, project_id, turn_id, end_user_id, rating, comment, correction,
        source, metadata, created_at, updated_at, expires_at, waiting)
    SELECT u.id, %(project_id)s, u.turn_id, u.end_user_id, u.rating, u.comment, u.correction, u.source,
        u.metadata::jsonb, %(now)s, %(now)s, %(expires_at)s, u.waiting
    FROM unnest(%(ids)s::uuid[], %(turn_ids)s::uuid[], %(end_user_ids)s::text[], %(ratings)s::text[],
                %(comments)s::text[], %(corrections)s::text[], %(sources)s::text[], %(metadata)s::text[],
                %(waiting)s::boolean[])
        AS u(id, turn_id, end_user_id, rating, comment, correction, source, metadata, waiting)
    ON CONFLICT (project_id, id) DO UPDATE SET
        rating = EXCLUDED.rating, comment = EXCLUDED.comment, correction = EXCLUDED.correction,
        end_user_id = EXCLUDED.end_user_id, metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at,
        waiting = EXCLUDED.waiting
    WHERE feedback_feedback.turn_id = EXCLUDED.turn_id
    RETURNING id, (xmax = 0) AS inserted
"""

_FEEDBACK_SIGNALS_DELETE_SQL = """
    DELETE FROM traces_signal
    WHERE project_id = %(project_id)s AND dedupe_key = ANY(%(dedupe_keys)s) AND kind = ANY(%(kinds)s)
"""

_CLEAR_WAITING_SQL = """
    WITH steps AS (
        UPDATE traces_step SET waiting = false WHERE project_id = %(project_id)s AND waiting AND turn_id = ANY(%(ids)s)
    ), signals AS (
        UPDATE traces_signal SET waiting = false WHERE project_id = %(project_id)s AND waiting AND turn_id = ANY(%(ids)s)
    )
    UPDATE feedback_feedback SET waiting = false WHERE project_id = %(project_id)s AND waiting AND turn_id = ANY(%(ids)s)
"""


def _existing_turns(cursor, turn_ids) -> set:
    if not turn_ids:
        return set()
    cursor.execute(_EXISTING_TURNS_SQL, {"ids": list(turn_ids)})
    return {row[0] for row in cursor.fetchall()}


def _write_turns(cursor, batch: Batch, now, expires_at) -> None:
    if not batch.turns:
        return
    turn_ids = list(batch.turns)
    turns = [row.parsed for row in batch.turns.values()]
    cursor.execute(_TURNS_SQL, {
        "source": batch.source_kind, "now": now, "expires_at": expires_at,
        "ids": turn_ids,
        "session_ids": [p.session_id for p in turns],
        "end_user_ids": [p.user_id for p in turns],
        "inputs": [p.question for p in turns],
        "outputs": [p.agent_response for p in turns],
        "history": _json([p.history for p in turns]),
        "prompt_versions": [p.prompt_version for p in turns],
        "models": [p.model for p in turns],
        "retrieved": _json([p.retrieved for p in turns]),
        "tool_calls": _json([p.tool_calls for p in turns]),
        "metadata": _json([p.metadata for p in turns]),
        "variants": [p.variant for p in turns],
        "created_at": [_utc(p.timestamp) or now for p in turns],
        "redactions": _json([batch.redactions.get(turn_id, {}) for turn_id in turn_ids]),
    })
    inserted = {row[0] for row in cursor.fetchall()}
    for turn_id, row in batch.turns.items():
        row.outcome.status = 201 if turn_id in inserted else 200  # not inserted: this project already has it


def _write_steps(cursor, batch: Batch, now, expires_at, present: set) -> None:
    rows = batch.steps
    if not rows:
        return
    steps = [row.step for row in rows]
    cursor.execute(_STEPS_SQL, {
        "now": now, "expires_at": expires_at,
        "turn_ids": [row.turn_id for row in rows],
        "span_ids": [s.id for s in steps],
        "parent_span_ids": [s.parent_id for s in steps],
        "kinds": [s.kind for s in steps],
        "names": [s.name for s in steps],
        "started_at": [_utc(s.started_at) for s in steps],
        "ended_at": [_utc(s.ended_at) for s in steps],
        "inputs": _json([s.input for s in steps]),
        "outputs": _json([s.output for s in steps]),
        "errors": [s.error for s in steps],
        "attributes": _json([s.attributes for s in steps]),
        "waiting": [row.turn_id not in present for row in rows],
    })
    inserted = set(cursor.fetchall())
    for row in rows:
        if row.outcome is not None:
            row.outcome.status = 201 if (row.turn_id, row.step.id) in inserted else 200


def _write_signals(cursor, batch: Batch, now, expires_at, present: set) -> None:
    signals = batch.signals
    if not signals:
        return
    cursor.execute(_SIGNALS_SQL, {
        "now": now, "expires_at": expires_at,
        "turn_ids": [s.turn_id for s in signals],
        "kinds": [s.kind for s in signals],
        "values": [_json(s.value) for s in signals],
        "sources": [s.source for s in signals],
        "dedupe_keys": [s.dedupe_key for s in signals],
        "waiting": [s.turn_id not in present for s in signals],
    })
    inserted = set(cursor.fetchall())
    for s in signals:
        if s.outcome is not None:
            s.outcome.status = 201 if (s.turn_id, s.kind, s.source, s.dedupe_key) in inserted else 200


def _write_feedback(cursor, batch: Batch, now, expires_at, present: set) -> None:
    if not batch.feedback:
        return
    rows = list(batch.feedback.values())
    cursor.execute(_FEEDBACK_SQL, {
        "now": now, "expires_at": expires_at,
        "ids": list(batch.feedback),
        "turn_ids": [row.parsed.turn_id for row in rows],
        "end_user_ids": [row.parsed.user_id for row in rows],
        "ratings": ["" if row.parsed.rating is None else str(row.parsed.rating) for row in rows],
        "comments": [row.parsed.comment for row in rows],
        "corrections": [row.parsed.correction for row in rows],
        "sources": [row.source for row in rows],
        "metadata": [_json(row.parsed.metadata) for row in rows],
        "waiting": [row.parsed.turn_id not in present for row in rows],
    })
    written = dict(cursor.fetchall())
    for feedback_id, row in batch.feedback.items():
        outcome = row.outcome
        if feedback_id not in written:
            reject(outcome, "id_conflict", "This feedback id belongs to another turn of this project.", "body.id")
            outcome.status = 409
        elif outcome.status == 0:
            outcome.status = 201 if written[feedback_id] else 200
    # The signals a feedback implies follow its latest rating (a widget user may change their mind).
    stored = [(feedback_id, row) for feedback_id, row in batch.feedback.items() if feedback_id in written]
    if not stored:
        return
    cursor.execute(_FEEDBACK_SIGNALS_DELETE_SQL, {
        "dedupe_keys": [f"feedback:{feedback_id}" for feedback_id, _ in stored], "kinds": list(FEEDBACK_SIGNAL_KINDS),
    })
    for feedback_id, row in stored:
        parsed = row.parsed
        implied = _feedback_signal(parsed.rating)
        extra = list(parsed.signals.items()) + ([implied] if implied else [])
        for kind, value in extra:
            batch.signals.append(SignalRow(parsed.turn_id, kind, value, row.source, f"feedback:{feedback_id}", None))


def _present_turns(cursor, batch: Batch) -> set:
    """Of the turns this batch's children name, those stored (before or by this batch)."""
    turn_ids = {row.turn_id for row in batch.steps} | {row.turn_id for row in batch.signals}
    turn_ids |= {row.parsed.turn_id for row in batch.feedback.values()}
    return _existing_turns(cursor, turn_ids)


def _mark_waiting(batch: Batch, present: set) -> None:
    """Children whose turn is not here yet are stored all the same (flagged ``waiting``) and
    answered 202."""
    for row in batch.steps:
        if row.outcome is not None and row.outcome.status in (200, 201) and row.turn_id not in present:
            row.outcome.status = 202
    for row in batch.signals:
        if row.outcome is not None and row.outcome.status in (200, 201) and row.turn_id not in present:
            row.outcome.status = 202
    for row in batch.feedback.values():
        if row.outcome.status in (200, 201) and row.parsed.turn_id not in present:
            row.outcome.status = 202


def _clear_waiting(cursor, batch: Batch) -> None:
    """The turns this batch stored for the first time: their children that waited stop waiting."""
    arrived = [turn_id for turn_id, row in batch.turns.items() if row.outcome.status == 201]
    if arrived:
        cursor.execute(_CLEAR_WAITING_SQL, {"ids": arrived})


def write_batch(batch: Batch) -> list[Outcome]:
    """Redact (services/redact.py), then write every accepted item in one transaction; the
    caller answers only after it commits."""
    if batch.turns or batch.steps or batch.signals or batch.feedback:
        redact_batch(batch)
        now = timezone.now()
        retention = batch.project.organization.retention_days
        expires_at = now + dt.timedelta(days=retention)
        with transaction.atomic(), tenant_sql(project=batch.project) as cursor:
            _write_turns(cursor, batch, now, expires_at)
            _clear_waiting(cursor, batch)
            present = _present_turns(cursor, batch)
            _write_feedback(cursor, batch, now, expires_at, present)
            _write_signals(cursor, batch, now, expires_at, present)
            _write_steps(cursor, batch, now, expires_at, present)
            _mark_waiting(batch, present)
        _enqueue_detection(batch)
    return batch.outcomes


# After a batch commits: the sessions and loose turns it touched. apps.detection registers the
# detection enqueue here (it sits above capture and is never imported from it).
CAPTURE_COMMITTED_HOOK = "capture.committed"


def _enqueue_detection(batch: Batch) -> None:
    """After commit, hand detection (apps/detection, through the ``capture.committed`` hook) the
    sessions touched by new turns and the other touched turns (late signals, feedback,
    sessionless turns)."""
    sessions = {row.parsed.session_id for row in batch.turns.values() if row.outcome.status == 201 and row.parsed.session_id}
    loose = {turn_id for turn_id, row in batch.turns.items() if row.outcome.status == 201 and not row.parsed.session_id}
    loose |= {s.turn_id for s in batch.signals if s.outcome is not None and s.outcome.status in (200, 201)}
    loose |= {row.parsed.turn_id for row in batch.feedback.values() if row.outcome.status in (200, 201)}
    if sessions or loose:
        project_id = batch.project.pk
        transaction.on_commit(
            lambda: hooks.call(CAPTURE_COMMITTED_HOOK, project_id=project_id, session_ids=sessions, turn_ids=loose)
        )
