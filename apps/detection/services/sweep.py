"""The detection sweep: the turns no pass has seen (a task lost with the broker) and the passes
whose recheck is due, across projects, from a cursor."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from django.utils import timezone

from apps.core.sql import tenant_sql
from apps.detection.models import SweepCursor
from apps.detection.services.run import detect_turns
from apps.traces import scans

SWEEP_BATCH = 500
SWEEP_LOOKBACK = dt.timedelta(days=7)
SWEEP_GRACE = dt.timedelta(seconds=60)  # leave the just-ingested turns to their own task
# Ingestion stamps received_at before its transaction commits, and transactions commit out of
# order: a turn can become visible after the sweep's cursor passed its received_at. Each run
# re-reads this much before the cursor for such turns (a commit later than this, plus the
# grace, is not caught).
SWEEP_REREAD = dt.timedelta(minutes=10)
SWEEP_CURSOR = "missed_turns"
# A turn no pass has seen: one probe of the pass key per scanned turn.
_UNSEEN = (f"NOT EXISTS (SELECT 1 FROM detection_detectionpass p "
           f"WHERE p.project_id = {scans.TURN}.project_id AND p.turn_id = {scans.TURN}.id)")
# Turns no pass has seen, in (received_at, id) order after the sweep cursor, across projects:
# capture's ordered scan of traces_turn_received_idx (received_at, covering project_id and id)
# with that probe per turn; bench/detectors.py prints the plan.
SWEEP_MISSED_SQL = scans.received_after_sql(unseen=_UNSEEN)
# The same for the re-read window just before the cursor (late commits).
SWEEP_REREAD_SQL = scans.reread_before_sql(unseen=_UNSEEN)
# Moves the cursor forward only, so two overlapping sweeps cannot move it back.
SWEEP_CURSOR_SQL = """
INSERT INTO detection_sweepcursor (name, received_at, turn_id, updated_at)
VALUES (%(name)s, %(received_at)s, %(turn_id)s, now())
ON CONFLICT (name) DO UPDATE SET received_at = EXCLUDED.received_at, turn_id = EXCLUDED.turn_id, updated_at = now()
WHERE (detection_sweepcursor.received_at, detection_sweepcursor.turn_id) < (EXCLUDED.received_at, EXCLUDED.turn_id)
"""
_FIRST_ID = uuid.UUID(int=0)


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
    with tenant_sql(unscoped="the detection sweep reads every project's turns that no pass has seen") as db:
        db.execute(SWEEP_MISSED_SQL, window)
        missed = db.fetchall()
        reread = []
        if cursor:
            db.execute(SWEEP_REREAD_SQL, window)
            reread = db.fetchall()
        db.execute(
            "SELECT project_id, turn_id FROM detection_detectionpass WHERE recheck_after <= %(now)s "
            "ORDER BY recheck_after LIMIT %(limit)s",
            {"now": now, "limit": limit},
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
        with tenant_sql(unscoped="the sweep cursor is one row for every project") as db:
            db.execute(SWEEP_CURSOR_SQL, {"name": SWEEP_CURSOR, "received_at": position[0], "turn_id": position[1]})
    return sum(len(ids) for ids in by_project.values())
