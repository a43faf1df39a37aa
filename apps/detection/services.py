"""Detection writes: run the detectors and store their signals; detector settings and rules.

A pass costs the worker two round trips whatever the batch size: one statement loads settings,
rules, turns, their children and history (``selectors.detection_batch_get``), one writes
(``_write``). Signals are inserted with ``ON CONFLICT DO NOTHING`` on the signal's unique key
(project, turn, kind, source="detector", dedupe key = detector name or ``rule:<id>``): running
detection twice, or concurrently, stores each signal once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

import msgspec
from django.db import connection, transaction
from django.utils import timezone

from apps.core.collector import collector_paused
from apps.core.errors import NotFound, ValidationFailed
from apps.core.text import required_name
from apps.detection import selectors
from apps.detection.config import DETECTORS, validate_params
from apps.detection.db import prepared_value
from apps.detection.detectors.runner import run_detectors
from apps.detection.embedding import similarity_backend
from apps.detection.models import DetectionRule, DetectorSettings, SweepCursor
from apps.detection.rules.parser import RuleSyntaxError, parse
from apps.core.audit import Actor, AuditAction, audit_record


SWEEP_BATCH = 500
SWEEP_LOOKBACK = dt.timedelta(days=7)
SWEEP_GRACE = dt.timedelta(seconds=60)  # leave the just-ingested turns to their own task
# Ingestion stamps received_at before its transaction commits, and transactions commit out of
# order: a turn can become visible after the sweep's cursor passed its received_at. Each run
# re-reads this much before the cursor for such turns (a commit later than this, plus the
# grace, is not caught).
SWEEP_REREAD = dt.timedelta(minutes=10)
SWEEP_CURSOR = "missed_turns"
# Turns no pass has seen, in (received_at, id) order after the sweep cursor, across projects:
# an ordered scan of traces_turn_received_idx (received_at, covering project_id and id) with one
# probe of the pass key per turn; bench/detectors.py prints the plan.
SWEEP_MISSED_SQL = """
SELECT t.project_id, t.id, t.received_at FROM traces_turn t
WHERE t.received_at >= %(after)s AND (t.received_at, t.id) > (%(after)s, %(after_id)s) AND t.received_at < %(until)s
  AND NOT EXISTS (SELECT 1 FROM detection_detectionpass p WHERE p.project_id = t.project_id AND p.turn_id = t.id)
ORDER BY t.received_at, t.id LIMIT %(limit)s
"""
# The same for the re-read window just before the cursor (late commits).
SWEEP_REREAD_SQL = """
SELECT t.project_id, t.id FROM traces_turn t
WHERE t.received_at >= %(since)s AND t.received_at <= %(after)s AND (t.received_at, t.id) <= (%(after)s, %(after_id)s)
  AND NOT EXISTS (SELECT 1 FROM detection_detectionpass p WHERE p.project_id = t.project_id AND p.turn_id = t.id)
ORDER BY t.received_at LIMIT %(limit)s
"""
# Moves the cursor forward only, so two overlapping sweeps cannot move it back.
SWEEP_CURSOR_SQL = """
INSERT INTO detection_sweepcursor (name, received_at, turn_id, updated_at) VALUES (%s, %s, %s, now())
ON CONFLICT (name) DO UPDATE SET received_at = EXCLUDED.received_at, turn_id = EXCLUDED.turn_id, updated_at = now()
WHERE (detection_sweepcursor.received_at, detection_sweepcursor.turn_id) < (EXCLUDED.received_at, EXCLUDED.turn_id)
"""
_FIRST_ID = uuid.UUID(int=0)


_WRITE = """
WITH stored AS (  -- a detector signal expires with its turn
    INSERT INTO traces_signal (project_id, turn_id, kind, value, source, dedupe_key, created_at, expires_at)
    SELECT %(project)s, d.turn_id, d.kind, d.value, 'detector', d.dedupe_key, %(now)s, t.expires_at
    FROM json_to_recordset(%(detections)s::json) AS d(turn_id uuid, kind text, value jsonb, dedupe_key text)
    LEFT JOIN traces_turn t ON t.project_id = %(project)s AND t.id = d.turn_id
    ON CONFLICT (project_id, turn_id, kind, source, dedupe_key) DO NOTHING
    RETURNING turn_id
), passes AS (
    INSERT INTO detection_detectionpass (project_id, turn_id, detected_at, recheck_after)
    SELECT %(project)s, e.turn_id::uuid, %(now)s, r.recheck_after
    FROM json_array_elements_text(%(turns)s::json) AS e(turn_id)
    LEFT JOIN json_to_recordset(%(rechecks)s::json) AS r(turn_id uuid, recheck_after timestamptz) ON r.turn_id = e.turn_id::uuid
    ON CONFLICT (project_id, turn_id) DO UPDATE
        SET detected_at = EXCLUDED.detected_at, recheck_after = EXCLUDED.recheck_after
)
SELECT json_build_object('count', count(*), 'turns', coalesce(json_agg(DISTINCT turn_id), '[]'::json)) FROM stored
"""
_ENCODE = msgspec.json.Encoder().encode


def _write(project, sessions, result, now) -> int:
    """Store the detections and mark every examined turn; returns how many signals were new.

    One statement (two data-modifying CTEs), so it is atomic without a transaction block and
    costs one round trip; the rows travel as JSON parameters (msgspec encodes the ``Detection``
    dataclasses and the turn ids directly; the database joins each signal to its turn's expiry).
    The turns that got a new signal go on to review routing (the pipeline's next step).
    """
    stored = prepared_value(_WRITE, {
        "project": project.pk, "now": now,
        "detections": _ENCODE(result.detections).decode(),
        "turns": _ENCODE([turn.id for session in sessions for turn in session]).decode(),
        "rechecks": _ENCODE([{"turn_id": turn_id, "recheck_after": due} for turn_id, due in result.recheck_after.items()]).decode(),
    })
    # Routing follows the evidence: turns that got a detector signal now, and turns that carry
    # explicit ones (a thumbs-down from the SDK) — routing is idempotent, so a re-pass costs a no-op.
    flagged = set(stored["turns"]) | {str(turn.id) for session in sessions for turn in session if turn.signals}
    if flagged:
        routing_enqueue(project_id=project.pk, turn_ids=sorted(flagged))
    return stored["count"]


def routing_enqueue(*, project_id, turn_ids) -> None:
    """After the signals are committed, publish review routing for these turns (by name: review
    sits above detection). A lost publish is caught by the routing beat's catch-up run."""
    from apps.core.tasks import publish

    turn_ids = [str(turn_id) for turn_id in turn_ids]
    transaction.on_commit(lambda: publish("review.route", {"project_id": str(project_id), "turn_ids": turn_ids}))


def _detect(*, project, session_ids=(), turn_ids=(), now=None) -> int:
    """One pass (``_pass``) with the cyclic garbage collector paused: a pass allocates a few
    containers per turn (decoded metadata, documents, tool calls) that live until it ends and
    form no cycles, and the collections they would trigger over the worker's heap cost a large
    share of the pass's CPU (bench/detectors.py). ``_pass`` returns, freeing all of them, before
    the collector resumes: resuming while they are still alive would only defer those collections."""
    with collector_paused():
        return _pass(project=project, session_ids=session_ids, turn_ids=turn_ids, now=now or timezone.now())


def _pass(*, project, session_ids, turn_ids, now) -> int:
    """Load, detect, write: two round trips."""
    batch = selectors.detection_batch_get(project=project, session_ids=session_ids, turn_ids=turn_ids)
    if not batch.sessions:
        return 0
    result = run_detectors(
        batch.sessions, batch.config, now=now, history=batch.history, rules=batch.rules, similarity=similarity_backend(),
    )
    return _write(project, batch.sessions, result, now)


def detect_session(*, project, session_id: str, now=None) -> int:
    """Run every enabled detector and rule over one session; returns the number of new signals."""
    return _detect(project=project, session_ids=[session_id], now=now)


def detect_sessions(*, project, session_ids, now=None) -> int:
    """``detect_session`` for many sessions of one project in one pass (two round trips); the
    signals are the same as one pass per session."""
    return _detect(project=project, session_ids=session_ids, now=now)


def detect_turns(*, project, turn_ids, now=None) -> int:
    """Run detection over the sessions of ``turn_ids`` (a turn without a session on its own)."""
    return _detect(project=project, turn_ids=turn_ids, now=now)


ENQUEUE_SESSIONS_PER_TASK = 100


def detection_enqueue(*, project_id, session_ids, turn_ids) -> None:
    """Queue detection after ingestion: the batch's sessions in tasks of up to
    ``ENQUEUE_SESSIONS_PER_TASK`` (each still examined as a whole session), one task for turns
    without a session. A worker pass costs two round trips however many sessions it holds, so
    one task per ingestion batch, not per session, is what keeps the worker's CPU per turn low.

    Called from ``transaction.on_commit``, so the rows are committed whatever happens here, and
    published with ``apps.core.tasks.publish``: a broker outage costs the request at most one
    short timeout, is counted on ``/healthz``, and the periodic sweep (``detection_sweep``) picks
    up the turns whose task was not sent (they have no detection pass yet).
    """
    from apps.core.tasks import publish

    ordered = sorted(session_ids)
    for start in range(0, len(ordered), ENQUEUE_SESSIONS_PER_TASK):
        publish("detection.detect_sessions", {"project_id": str(project_id), "session_ids": ordered[start:start + ENQUEUE_SESSIONS_PER_TASK]})
    if turn_ids:
        publish("detection.detect_turns", {"project_id": str(project_id), "turn_ids": [str(t) for t in turn_ids]})


def detection_sweep(*, limit: int = SWEEP_BATCH, now=None) -> int:
    """Run detection for turns no pass has seen (lost tasks) and passes whose recheck is due.

    Missed turns are looked for after the sweep cursor (``SweepCursor``), plus a re-read of the
    ``SWEEP_REREAD`` before it for late commits, so a run reads only what arrived since the last
    one instead of the whole lookback. Bounded: at most ``limit`` turns of each kind per call,
    oldest first; turns younger than a minute are left to their own task, turns older than the
    lookback are left alone. The cursor moves once the turns before it were examined (a run
    that fails leaves it where it was). Returns the number of turns examined.
    """
    now = now or timezone.now()
    oldest, until = now - SWEEP_LOOKBACK, now - SWEEP_GRACE
    cursor = SweepCursor.objects.filter(name=SWEEP_CURSOR).values_list("received_at", "turn_id").first()
    after, after_id = max(cursor, (oldest, _FIRST_ID)) if cursor else (oldest, _FIRST_ID)
    window = {"after": after, "after_id": after_id, "until": until, "limit": limit,
              "since": max(oldest, after - SWEEP_REREAD)}
    with connection.cursor() as db:
        # Every project: the sweep is maintenance, not a tenant request.
        db.execute(SWEEP_MISSED_SQL, window)
        missed = db.fetchall()
        reread = []
        if cursor:
            db.execute(SWEEP_REREAD_SQL, window)
            reread = db.fetchall()
        db.execute(
            "SELECT project_id, turn_id FROM detection_detectionpass WHERE recheck_after <= %s ORDER BY recheck_after LIMIT %s",
            [now, limit],
        )
        due = db.fetchall()
    by_project: dict = defaultdict(set)
    for project_id, turn_id, *_ in missed + reread + due:
        by_project[project_id].add(turn_id)
    if by_project:
        from apps.projects.models import Project

        projects = Project.all_tenants.select_related("organization").in_bulk(list(by_project))  # unscoped: the sweep spans every project
        for project_id, turn_ids in by_project.items():
            project = projects.get(project_id)
            if project is not None:
                detect_turns(project=project, turn_ids=turn_ids, now=now)
    if len(missed) == limit:  # more to come: up to the last turn examined
        position = (missed[-1][2], missed[-1][1])
    else:  # everything before ``until`` was seen; never past the real clock (``now`` may be given)
        position = (min(until, timezone.now() - SWEEP_GRACE), _FIRST_ID)
    if position > (after, after_id):
        with connection.cursor() as db:
            db.execute(SWEEP_CURSOR_SQL, [SWEEP_CURSOR, *position])
    return sum(len(ids) for ids in by_project.values())


# --- settings -------------------------------------------------------------------------------


def _settings_snapshot(row: DetectorSettings | None) -> dict:
    return {"enabled": row.enabled, "params": row.params} if row else {"enabled": True, "params": {}}


@transaction.atomic
def detector_settings_update(*, project, detector: str, enabled: bool, params: dict, actor: Actor) -> DetectorSettings:
    """Set one detector's switch and parameter overrides (validated); audited."""
    cleaned = validate_params(detector, params)
    defaults = DETECTORS[detector][1]
    overrides = {key: value for key, value in cleaned.items() if value != defaults[key]}
    row = DetectorSettings.objects.for_project(project).select_for_update().filter(detector=detector).first()
    before = _settings_snapshot(row)
    if row is None:
        row = DetectorSettings(project=project, detector=detector)
    row.enabled, row.params = bool(enabled), overrides
    row.save()
    after = _settings_snapshot(row)
    if after != before:
        audit_record(
            organization=project.organization, actor=actor, action=AuditAction.DETECTOR_CHANGED,
            target_type="detector", target_id=f"{project.pk}:{detector}", target_label=f"{project.name} · {detector}",
            before=before, after=after,
        )
    return row


@transaction.atomic
def detection_rule_create(*, project, name: str, expression: str, signal_kind: str, actor: Actor) -> DetectionRule:
    """Parse and store a customer rule; a syntax error names its position."""
    name, signal_kind = name.strip(), signal_kind.strip()
    if not name:
        raise ValidationFailed("A rule needs a name.", field="name")
    name = required_name(name)
    if not signal_kind or len(signal_kind) > 64:
        raise ValidationFailed("The signal kind is 1 to 64 characters.", field="signal_kind")
    if signal_kind in DETECTORS:
        raise ValidationFailed(f"'{signal_kind}' is a built-in detector's kind; choose another.", field="signal_kind")
    try:
        ast = parse(expression)
    except RuleSyntaxError as error:
        raise ValidationFailed(f"Rule syntax: {error}", field="expression") from None
    if DetectionRule.objects.for_project(project).filter(name=name).exists():
        raise ValidationFailed(f"A rule named '{name}' already exists.", field="name")
    rule = DetectionRule.objects.create(project=project, name=name, expression=expression, ast=ast, signal_kind=signal_kind)
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.RULE_CREATED, target_type="detection_rule",
        target_id=rule.pk, target_label=name, after={"expression": expression, "signal_kind": signal_kind},
    )
    return rule


@transaction.atomic
def detection_rule_delete(*, project, rule_id, actor: Actor) -> None:
    rule = DetectionRule.objects.for_project(project).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("No such rule.", field="rule")
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.RULE_DELETED, target_type="detection_rule",
        target_id=rule.pk, target_label=rule.name, before={"expression": rule.expression, "signal_kind": rule.signal_kind},
    )
    rule.delete()
