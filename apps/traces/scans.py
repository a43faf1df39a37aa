"""Capture's tables as SQL fragments, for the floors above that scan them in bulk (detection).

A detector pass costs the worker two round trips whatever its size: one statement loads the
project's settings, rules, the turns and their children, one stores the signals and the pass.
Those statements span two apps' tables, and only an app's own modules name its tables, so each
app writes its own part and the higher floor composes them: capture's parts are here, with the
column names, JSON shapes and indexes they rely on; detection's statements put them together
(``apps.detection.selectors``, ``apps.detection.services``).

The contract of each fragment, besides the ``%(project_id)s`` that ``apps.core.sql`` binds:

- ``session_batch_ctes(window_seconds=…)`` gives common table expressions (joined with commas into a ``WITH``):
  ``named`` (sessions asked for by ``%(sessions)s`` text[] or through ``%(turns)s`` uuid[]),
  ``batch`` (each named session's newest ``%(per_session)s`` turns, and the asked-for turns
  without a session), ``windows`` and ``history`` (the batch's end users' turns from other
  sessions within ``{window_seconds}`` before one of their batch turns, newest first, at least
  ``%(history_limit)s``; ``window_seconds`` is a scalar SQL expression of the caller's, 0 = none).
- ``BATCH_TURNS_JSON`` and ``HISTORY_JSON`` are scalar expressions over those CTEs: a JSON array
  of turns, each an array of ``id, session_id, end_user_id, created_at, input, output, model,
  prompt_version, variant, metadata (object), retrieved (array), tool_calls (array), explicit
  signals (kind → value, the latest of a kind; detector output excluded), the names of failed
  steps, whether a retrieval step exists`` (history: the first five) — the field order of
  ``apps.detection.detectors.base.TurnData``.
- ``DETECTOR_SIGNALS_INSERT`` stores ``%(detections)s`` (JSON array of ``{turn_id, kind, value,
  dedupe_key}``) as detector signals at ``%(now)s``, each expiring with its turn, once per
  unique key (``ON CONFLICT DO NOTHING``), and returns the ``turn_id`` of each new one: a
  data-modifying CTE.
- ``received_after_sql(unseen=…)``: the turns of every project received in the window
  ``(%(after)s, %(after_id)s) < (received_at, id) < %(until)s``, oldest first, at most
  ``%(limit)s``, as ``(project_id, id, received_at)``, keeping only those for which the caller's
  ``unseen`` condition over ``{turn}.project_id`` / ``{turn}.id`` holds (an ordered scan of
  ``traces_turn_received_idx``); ``reread_before_sql`` the same for ``[%(since)s, cursor]``.
"""

from __future__ import annotations

TURN = "t"  # the alias a caller's condition names the scanned turn by

_SESSION_BATCH_CTES = """
named AS (
    SELECT unnest(%(sessions)s::text[]) AS session_id
    UNION
    SELECT t.session_id FROM traces_turn t
    WHERE t.project_id = %(project_id)s AND t.id = ANY(%(turns)s::uuid[]) AND t.session_id <> ''
),
batch AS (  -- one probe of traces_turn_session_idx per named session
    SELECT t.* FROM named n, LATERAL (
        SELECT t.id, t.session_id, t.end_user_id, t.created_at, t.input, t.output, t.model, t.prompt_version,
               t.variant, t.metadata, t.retrieved, t.tool_calls
        FROM traces_turn t
        WHERE t.project_id = %(project_id)s AND t.session_id = n.session_id
        ORDER BY t.created_at DESC, t.id DESC LIMIT %(per_session)s
    ) t
    UNION ALL
    SELECT t.id, t.session_id, t.end_user_id, t.created_at, t.input, t.output, t.model, t.prompt_version,
           t.variant, t.metadata, t.retrieved, t.tool_calls
    FROM traces_turn t
    WHERE t.project_id = %(project_id)s AND t.id = ANY(%(turns)s::uuid[]) AND t.session_id = ''
),
windows AS MATERIALIZED (  -- computed first, so both bounds below are index conditions
    SELECT b.end_user_id, b.created_at, b.created_at - make_interval(secs => w.seconds) AS since
    FROM batch b, (SELECT ({window_seconds})::float8 AS seconds) w WHERE w.seconds > 0 AND b.end_user_id <> ''
),
history AS (  -- one probe of traces_turn_user_idx per batch turn
    SELECT * FROM (
        SELECT DISTINCT h.id, h.session_id, h.end_user_id, h.created_at, h.input
        FROM windows b, LATERAL (
            SELECT h.id, h.session_id, h.end_user_id, h.created_at, h.input FROM traces_turn h
            WHERE h.project_id = %(project_id)s AND h.end_user_id = b.end_user_id
              AND h.created_at < b.created_at AND h.created_at >= b.since
              AND h.session_id NOT IN (SELECT session_id FROM named)
            OFFSET 0  -- planned per window (never flattened), so its bounds stay index conditions on any statistics
        ) h
    ) found
    ORDER BY found.created_at DESC LIMIT greatest(%(history_limit)s, 10 * (SELECT count(*) FROM batch))
)
"""

BATCH_TURNS_JSON = """
(SELECT json_agg(json_build_array(
    b.id, b.session_id, b.end_user_id, b.created_at, b.input, b.output, b.model, b.prompt_version, b.variant,
    CASE WHEN jsonb_typeof(b.metadata) = 'object' THEN b.metadata ELSE '{}' END,
    CASE WHEN jsonb_typeof(b.retrieved) = 'array' THEN b.retrieved ELSE '[]' END,
    CASE WHEN jsonb_typeof(b.tool_calls) = 'array' THEN b.tool_calls ELSE '[]' END,
    COALESCE((
        SELECT jsonb_object_agg(s.kind, s.value ORDER BY s.created_at) FROM traces_signal s
        WHERE s.project_id = %(project_id)s AND s.turn_id = b.id AND s.source <> 'detector'), '{}'),
    COALESCE((
        SELECT json_agg(COALESCE(NULLIF(st.name, ''), st.kind) ORDER BY st.started_at, st.span_id) FROM traces_step st
        WHERE st.project_id = %(project_id)s AND st.turn_id = b.id AND st.error <> ''), '[]'),
    EXISTS (SELECT 1 FROM traces_step st WHERE st.project_id = %(project_id)s AND st.turn_id = b.id AND st.kind = 'retrieval')
) ORDER BY b.session_id = '', b.session_id, b.created_at, b.id) FROM batch b)
"""



def session_batch_ctes(*, window_seconds: str) -> str:
    """The batch's CTEs (see the module doc); ``window_seconds`` a scalar SQL expression."""
    return _SESSION_BATCH_CTES.replace("{window_seconds}", window_seconds)


HISTORY_JSON = "(SELECT json_agg(json_build_array(h.id, h.session_id, h.end_user_id, h.created_at, h.input)) FROM history h)"

DETECTOR_SIGNALS_INSERT = """
INSERT INTO traces_signal (project_id, turn_id, kind, value, source, dedupe_key, created_at, expires_at)
SELECT %(project_id)s, d.turn_id, d.kind, d.value, 'detector', d.dedupe_key, %(now)s, t.expires_at
FROM json_to_recordset(%(detections)s::json) AS d(turn_id uuid, kind text, value jsonb, dedupe_key text)
LEFT JOIN traces_turn t ON t.project_id = %(project_id)s AND t.id = d.turn_id
ON CONFLICT (project_id, turn_id, kind, source, dedupe_key) DO NOTHING
RETURNING turn_id
"""


def received_after_sql(*, unseen: str) -> str:
    """Turns received after the cursor, for which ``unseen`` holds (see the module doc)."""
    return f"""
SELECT t.project_id, t.id, t.received_at FROM traces_turn t
WHERE t.received_at >= %(after)s AND (t.received_at, t.id) > (%(after)s, %(after_id)s) AND t.received_at < %(until)s
  AND {unseen}
ORDER BY t.received_at, t.id LIMIT %(limit)s
"""


def reread_before_sql(*, unseen: str) -> str:
    """Turns received in the re-read window before the cursor (late commits), as ``(project_id, id)``."""
    return f"""
SELECT t.project_id, t.id FROM traces_turn t
WHERE t.received_at >= %(since)s AND t.received_at <= %(after)s AND (t.received_at, t.id) <= (%(after)s, %(after_id)s)
  AND {unseen}
ORDER BY t.received_at LIMIT %(limit)s
"""
