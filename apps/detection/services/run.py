"""Detection runs: load a batch, run the detectors, store their signals and the pass.

A pass costs the worker two round trips whatever the batch size: one statement loads settings,
rules, turns, their children and history (``selectors.detection_batch_get``), one writes
(``_write``). Signals are inserted with ``ON CONFLICT DO NOTHING`` on the signal's unique key
(project, turn, kind, source="detector", dedupe key = detector name or ``rule:<id>``): running
detection twice, or concurrently, stores each signal once.
"""

from __future__ import annotations

import msgspec
from django.db import transaction
from django.utils import timezone

from apps.core.collector import collector_paused
from apps.core.sql import tenant_prepared_value
from apps.detection import selectors
from apps.detection.detectors.runner import run_detectors
from apps.detection.embedding import similarity_backend
from apps.traces import scans

# One statement (two data-modifying CTEs): capture stores the signals (its fragment, each
# signal expiring with its turn), detection marks every examined turn.
_WRITE = f"""
WITH stored AS ({scans.DETECTOR_SIGNALS_INSERT}), passes AS (
    INSERT INTO detection_detectionpass (project_id, turn_id, detected_at, recheck_after)
    SELECT %(project_id)s, e.turn_id::uuid, %(now)s, r.recheck_after
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
    stored = tenant_prepared_value(_WRITE, {
        "now": now,
        "detections": _ENCODE(result.detections).decode(),
        "turns": _ENCODE([turn.id for session in sessions for turn in session]).decode(),
        "rechecks": _ENCODE([{"turn_id": turn_id, "recheck_after": due} for turn_id, due in result.recheck_after.items()]).decode(),
    }, project=project)
    # Routing follows the evidence: turns that got a detector signal now, turns that carry
    # explicit ones (a thumbs-down from the SDK), and turns whose windowed decisions are closed
    # (with no signal at all they belong to the catch-all queue) — routing is idempotent, so a
    # re-pass costs a no-op.
    routable = set(stored["turns"]) | {
        str(turn.id) for session in sessions for turn in session if turn.signals or turn.id not in result.recheck_after
    }
    if routable:
        routing_enqueue(project_id=project.pk, turn_ids=sorted(routable))
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
    stored = _write(project, batch.sessions, result, now)
    if batch.judge_enabled:
        judge_enqueue(project_id=project.pk, turn_ids=[
            turn.id for session in batch.sessions for turn in session if turn.id not in result.recheck_after
        ])
    return stored


def judge_enqueue(*, project_id, turn_ids) -> None:
    """Publish the LLM judge for the turns whose windowed decisions are closed (a turn still
    waiting for its next message is judged on its recheck pass, when the judge can see it). A
    lost publish is not swept: the judge is an optional second opinion."""
    from apps.core.tasks import publish

    turn_ids = [str(turn_id) for turn_id in turn_ids]
    if turn_ids:
        transaction.on_commit(lambda: publish("detection.judge", {"project_id": str(project_id), "turn_ids": turn_ids}))


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
