"""The ingestion hot path: validate items one by one, write each kind with one set-based
statement (``INSERT … SELECT FROM unnest(arrays) ON CONFLICT``), commit, then answer.

Idempotency comes from the database, never from check-then-act: turns are unique by
(project, id), steps by (project, turn, span), signals by (project, turn, kind, source, dedupe
key) and feedback by (project, id), so retries and concurrent duplicates store exactly one row.
Every key starts with the project: no statement here reads or conflicts with another tenant's
rows, so no answer depends on them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field

import msgspec
from django.db import connection, transaction
from django.utils import timezone

from apps.core.text import InvalidText, clean_json
from apps.traces.schemas import BODY_TYPES, BatchItem, FeedbackIn, SignalIn, StepIn, TurnIn

_FIELD = re.compile(r" - at `\$\.?([^`]*)`$")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")
FEEDBACK_SIGNAL_KINDS = ("thumbs_up", "thumbs_down", "rating")


@dataclass
class Outcome:
    """Per-item result: ``status`` 201 created, 200 duplicate/updated, 202 waiting for its turn."""

    index: int
    type: str
    status: int = 0
    id: str | None = None
    code: str | None = None
    message: str | None = None
    field: str | None = None

    def as_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass
class Batch:
    project: object
    source_kind: str = "sdk"
    outcomes: list[Outcome] = field(default_factory=list)
    turns: dict[uuid.UUID, tuple[TurnIn, Outcome]] = field(default_factory=dict)
    steps: list[tuple[uuid.UUID, StepIn, Outcome | None]] = field(default_factory=list)
    signals: list[tuple[uuid.UUID, str, object, str, str, Outcome | None]] = field(default_factory=list)
    feedback: dict[uuid.UUID, tuple[FeedbackIn, str, Outcome]] = field(default_factory=dict)


def _reject(outcome: Outcome, code: str, message: str, field_name: str | None = None) -> Outcome:
    outcome.status, outcome.code, outcome.message, outcome.field = 400, code, message, field_name
    return outcome


def validation_error(outcome: Outcome, exc: msgspec.ValidationError, prefix: str = "") -> Outcome:
    message = str(exc)
    match = _FIELD.search(message)
    unknown = _UNKNOWN.search(message)
    if unknown:
        return _reject(outcome, "unknown_field", message, prefix + unknown.group(1))
    field_name = match.group(1) if match else None
    code = "too_large" if "length" in message and "<=" in message else "invalid"
    return _reject(outcome, code, message, (prefix + field_name) if field_name else (prefix.rstrip(".") or None))


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


def _add_item(batch: Batch, index: int, raw, *, source: str) -> None:
    outcome = Outcome(index=index, type=str(raw.get("type")) if isinstance(raw, dict) else "?")
    batch.outcomes.append(outcome)
    try:
        item = msgspec.convert(raw, BatchItem)
    except msgspec.ValidationError as exc:
        validation_error(outcome, exc)
        if outcome.field == "type":
            outcome.code = "unknown_type"
        return
    outcome.type = item.type
    body = dict(item.body)
    if item.id is not None and item.type != "signal":  # a signal's item id is only for the caller's bookkeeping
        body.setdefault("id", item.id)
    try:
        body = clean_json(body)
        parsed = msgspec.convert(body, BODY_TYPES[item.type])
    except InvalidText as exc:
        _reject(outcome, "invalid_unicode", str(exc))
        return
    except msgspec.ValidationError as exc:
        validation_error(outcome, exc, prefix="body.")
        return
    add_parsed(batch, parsed, outcome, source=source)


def add_parsed(batch: Batch, parsed, outcome: Outcome, *, source: str) -> None:
    """Queue one validated payload for writing (also used by OTLP and the widget)."""
    if isinstance(parsed, TurnIn):
        turn_id = parsed.id or uuid.uuid4()
        outcome.id = str(turn_id)
        if turn_id in batch.turns:
            outcome.status = 200  # the same turn twice in one batch: the first one is written
            return
        batch.turns[turn_id] = (parsed, outcome)
        for kind, value in parsed.signals.items():
            batch.signals.append((turn_id, kind, value, source, "", None))
        for step in parsed.steps:
            batch.steps.append((turn_id, step, None))
    elif isinstance(parsed, StepIn):
        if parsed.turn_id is None:
            _reject(outcome, "required", "A step needs the turn_id of its turn.", "body.turn_id")
            return
        outcome.id = parsed.id
        batch.steps.append((parsed.turn_id, parsed, outcome))
    elif isinstance(parsed, SignalIn):
        outcome.id = str(parsed.turn_id)
        batch.signals.append((parsed.turn_id, parsed.kind, parsed.value, source, parsed.dedupe_key, outcome))
    elif isinstance(parsed, FeedbackIn):
        feedback_id = parsed.id or uuid.uuid4()
        outcome.id = str(feedback_id)
        previous = batch.feedback.get(feedback_id)
        if previous is not None:
            previous[2].status = 200  # superseded by the later copy in this batch
        batch.feedback[feedback_id] = (parsed, source, outcome)


def parse_batch(project, items: list, *, source: str = "sdk") -> Batch:
    batch = Batch(project=project)
    for index, raw in enumerate(items):
        _add_item(batch, index, raw, source=source)
    return batch


def _existing_turns(cursor, project_id, turn_ids) -> set[uuid.UUID]:
    if not turn_ids:
        return set()
    cursor.execute(
        "SELECT id FROM traces_turn WHERE project_id = %s AND id = ANY(%s)", [project_id, list(turn_ids)]
    )
    return {row[0] for row in cursor.fetchall()}


# JSON columns travel as one jsonb array, not as a text[] of JSON strings: psycopg escapes every
# quote of every array element in Python, which more than doubled the write of a 512-span OTLP export.
_JSONB_ARRAY = "ARRAY(SELECT e FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n)"


def _write_turns(cursor, batch: Batch, now, expires_at) -> None:
    if not batch.turns:
        return
    rows = [(turn_id, parsed) for turn_id, (parsed, _) in batch.turns.items()]
    cursor.execute(
        """
        INSERT INTO traces_turn (id, project_id, session_id, end_user_id, input, output, history,
            prompt_version, model, retrieved, tool_calls, metadata, variant, source, created_at,
            received_at, expires_at, review_state)
        SELECT u.id, %s, u.session_id, u.end_user_id, u.input, u.output, u.history,
            u.prompt_version, u.model, u.retrieved, u.tool_calls, u.metadata,
            u.variant, %s, u.created_at, %s, %s, 'unreviewed'
        FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], {jsonb}, %s::text[],
                    %s::text[], {jsonb}, {jsonb}, {jsonb}, %s::text[], %s::timestamptz[])
            AS u(id, session_id, end_user_id, input, output, history, prompt_version, model,
                 retrieved, tool_calls, metadata, variant, created_at)
        ON CONFLICT (project_id, id) DO NOTHING
        RETURNING id
        """.replace("{jsonb}", _JSONB_ARRAY),
        [
            batch.project.pk, batch.source_kind, now, expires_at,
            [turn_id for turn_id, _ in rows],
            [p.session_id for _, p in rows],
            [p.user_id for _, p in rows],
            [p.question for _, p in rows],
            [p.agent_response for _, p in rows],
            _json([p.history for _, p in rows]),
            [p.prompt_version for _, p in rows],
            [p.model for _, p in rows],
            _json([p.retrieved for _, p in rows]),
            _json([p.tool_calls for _, p in rows]),
            _json([p.metadata for _, p in rows]),
            [p.variant for _, p in rows],
            [_utc(p.timestamp) or now for _, p in rows],
        ],
    )
    inserted = {row[0] for row in cursor.fetchall()}
    for turn_id, (_, outcome) in batch.turns.items():
        outcome.status = 201 if turn_id in inserted else 200  # not inserted: this project already has it


def _write_steps(cursor, batch: Batch, now, expires_at, present: set) -> None:
    steps = batch.steps
    if not steps:
        return
    cursor.execute(
        """
        INSERT INTO traces_step (project_id, turn_id, span_id, parent_span_id, kind, name, started_at,
            ended_at, input, output, error, attributes, received_at, expires_at, waiting)
        SELECT %s, u.turn_id, u.span_id, u.parent_span_id, u.kind, u.name, u.started_at, u.ended_at,
            u.input, u.output, u.error, u.attributes, %s, %s, u.waiting
        FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                    %s::timestamptz[], {jsonb}, {jsonb}, %s::text[], {jsonb}, %s::boolean[])
            AS u(turn_id, span_id, parent_span_id, kind, name, started_at, ended_at, input, output, error, attributes,
                 waiting)
        ON CONFLICT (project_id, turn_id, span_id) DO NOTHING
        RETURNING turn_id, span_id
        """.replace("{jsonb}", _JSONB_ARRAY),
        [
            batch.project.pk, now, expires_at,
            [t for t, _, _ in steps],
            [s.id for _, s, _ in steps],
            [s.parent_id for _, s, _ in steps],
            [s.kind for _, s, _ in steps],
            [s.name for _, s, _ in steps],
            [_utc(s.started_at) for _, s, _ in steps],
            [_utc(s.ended_at) for _, s, _ in steps],
            _json([s.input for _, s, _ in steps]),
            _json([s.output for _, s, _ in steps]),
            [s.error for _, s, _ in steps],
            _json([s.attributes for _, s, _ in steps]),
            [t not in present for t, _, _ in steps],
        ],
    )
    inserted = set(cursor.fetchall())
    for turn_id, step, outcome in steps:
        if outcome is not None:
            outcome.status = 201 if (turn_id, step.id) in inserted else 200


def _write_signals(cursor, batch: Batch, now, expires_at, present: set) -> None:
    signals = batch.signals
    if not signals:
        return
    cursor.execute(
        """
        INSERT INTO traces_signal (project_id, turn_id, kind, value, source, dedupe_key, created_at, expires_at,
            waiting)
        SELECT %s, u.turn_id, u.kind, u.value::jsonb, u.source, u.dedupe_key, %s, %s, u.waiting
        FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::boolean[])
            AS u(turn_id, kind, value, source, dedupe_key, waiting)
        ON CONFLICT (project_id, turn_id, kind, source, dedupe_key) DO NOTHING
        RETURNING turn_id, kind, source, dedupe_key
        """,
        [
            batch.project.pk, now, expires_at,
            [s[0] for s in signals],
            [s[1] for s in signals],
            [_json(s[2]) for s in signals],
            [s[3] for s in signals],
            [s[4] for s in signals],
            [s[0] not in present for s in signals],
        ],
    )
    inserted = set(cursor.fetchall())
    for turn_id, kind, _, source, dedupe_key, outcome in signals:
        if outcome is not None:
            outcome.status = 201 if (turn_id, kind, source, dedupe_key) in inserted else 200


def _write_feedback(cursor, batch: Batch, now, expires_at, present: set) -> None:
    if not batch.feedback:
        return
    rows = list(batch.feedback.items())
    cursor.execute(
        """
        INSERT INTO feedback_feedback (id, project_id, turn_id, end_user_id, rating, comment, correction,
            source, metadata, created_at, updated_at, expires_at, waiting)
        SELECT u.id, %s, u.turn_id, u.end_user_id, u.rating, u.comment, u.correction, u.source,
            u.metadata::jsonb, %s, %s, %s, u.waiting
        FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                    %s::boolean[])
            AS u(id, turn_id, end_user_id, rating, comment, correction, source, metadata, waiting)
        ON CONFLICT (project_id, id) DO UPDATE SET
            rating = EXCLUDED.rating, comment = EXCLUDED.comment, correction = EXCLUDED.correction,
            end_user_id = EXCLUDED.end_user_id, metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at,
            waiting = EXCLUDED.waiting
        WHERE feedback_feedback.turn_id = EXCLUDED.turn_id
        RETURNING id, (xmax = 0) AS inserted
        """,
        [
            batch.project.pk, now, now, expires_at,
            [feedback_id for feedback_id, _ in rows],
            [f.turn_id for _, (f, _, _) in rows],
            [f.user_id for _, (f, _, _) in rows],
            ["" if f.rating is None else str(f.rating) for _, (f, _, _) in rows],
            [f.comment for _, (f, _, _) in rows],
            [f.correction for _, (f, _, _) in rows],
            [source for _, (_, source, _) in rows],
            [_json(f.metadata) for _, (f, _, _) in rows],
            [f.turn_id not in present for _, (f, _, _) in rows],
        ],
    )
    written = dict(cursor.fetchall())
    for feedback_id, (_, _, outcome) in rows:
        if feedback_id not in written:
            _reject(outcome, "id_conflict", "This feedback id belongs to another turn of this project.", "body.id")
            outcome.status = 409
        elif outcome.status == 0:
            outcome.status = 201 if written[feedback_id] else 200
    # The signals a feedback implies follow its latest rating (a widget user may change their mind).
    stored = [(feedback_id, f, source) for feedback_id, (f, source, _) in rows if feedback_id in written]
    if not stored:
        return
    cursor.execute(
        "DELETE FROM traces_signal WHERE project_id = %s AND dedupe_key = ANY(%s) AND kind = ANY(%s)",
        [batch.project.pk, [f"feedback:{fid}" for fid, _, _ in stored], list(FEEDBACK_SIGNAL_KINDS)],
    )
    for feedback_id, parsed, source in stored:
        implied = _feedback_signal(parsed.rating)
        extra = list(parsed.signals.items()) + ([implied] if implied else [])
        for kind, value in extra:
            batch.signals.append((parsed.turn_id, kind, value, source, f"feedback:{feedback_id}", None))


def _present_turns(cursor, batch: Batch) -> set:
    """Of the turns this batch's children name, those stored (before or by this batch)."""
    turn_ids = {t for t, _, _ in batch.steps} | {s[0] for s in batch.signals}
    turn_ids |= {f.turn_id for f, _, _ in batch.feedback.values()}
    return _existing_turns(cursor, batch.project.pk, turn_ids)


def _mark_waiting(batch: Batch, present: set) -> None:
    """Children whose turn is not here yet are stored all the same (flagged ``waiting``) and
    answered 202."""
    for turn_id, _, outcome in batch.steps:
        if outcome is not None and outcome.status in (200, 201) and turn_id not in present:
            outcome.status = 202
    for signal in batch.signals:
        outcome = signal[5]
        if outcome is not None and outcome.status in (200, 201) and signal[0] not in present:
            outcome.status = 202
    for parsed, _, outcome in batch.feedback.values():
        if outcome.status in (200, 201) and parsed.turn_id not in present:
            outcome.status = 202


def _clear_waiting(cursor, batch: Batch) -> None:
    """The turns this batch stored for the first time: their children that waited stop waiting."""
    arrived = [turn_id for turn_id, (_, outcome) in batch.turns.items() if outcome.status == 201]
    if not arrived:
        return
    cursor.execute(
        """
        WITH steps AS (
            UPDATE traces_step SET waiting = false WHERE project_id = %(project)s AND waiting AND turn_id = ANY(%(ids)s)
        ), signals AS (
            UPDATE traces_signal SET waiting = false WHERE project_id = %(project)s AND waiting AND turn_id = ANY(%(ids)s)
        )
        UPDATE feedback_feedback SET waiting = false WHERE project_id = %(project)s AND waiting AND turn_id = ANY(%(ids)s)
        """,
        {"project": batch.project.pk, "ids": arrived},
    )


def write_batch(batch: Batch) -> list[Outcome]:
    """Write every accepted item in one transaction; the caller answers only after it commits."""
    if batch.turns or batch.steps or batch.signals or batch.feedback:
        now = timezone.now()
        retention = batch.project.organization.retention_days
        expires_at = now + dt.timedelta(days=retention)
        with transaction.atomic(), connection.cursor() as cursor:
            _write_turns(cursor, batch, now, expires_at)
            _clear_waiting(cursor, batch)
            present = _present_turns(cursor, batch)
            _write_feedback(cursor, batch, now, expires_at, present)
            _write_signals(cursor, batch, now, expires_at, present)
            _write_steps(cursor, batch, now, expires_at, present)
            _mark_waiting(batch, present)
        _enqueue_detection(batch)
    return batch.outcomes


def _enqueue_detection(batch: Batch) -> None:
    """After commit, queue detection (apps/detection) once per session touched by new turns and
    once for other touched turns (late signals, feedback, sessionless turns)."""
    sessions = {parsed.session_id for parsed, outcome in batch.turns.values() if outcome.status == 201 and parsed.session_id}
    loose = {turn_id for turn_id, (parsed, outcome) in batch.turns.items() if outcome.status == 201 and not parsed.session_id}
    loose |= {s[0] for s in batch.signals if s[5] is not None and s[5].status in (200, 201)}
    loose |= {f.turn_id for f, _, outcome in batch.feedback.values() if outcome.status in (200, 201)}
    if sessions or loose:
        from apps.detection.services import detection_enqueue

        project_id = batch.project.pk
        transaction.on_commit(lambda: detection_enqueue(project_id=project_id, session_ids=sessions, turn_ids=loose))


def ingest_items(*, project, items: list, source: str = "sdk") -> list[Outcome]:
    """Validate and store a batch of ``{"type", "id", "body"}`` items; one outcome per item."""
    batch = parse_batch(project, items, source=source)
    return write_batch(batch)
