"""Reads for detection: settings, rules, and the turn data the detectors need."""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

from apps.core.sql import tenant_sql
from apps.detection.config import DETECTORS, DetectorConfig, effective_config
from apps.detection.db import prepared_value
from apps.detection.detectors.base import CompiledRule, TurnData
from apps.detection.models import DetectionRule, DetectorSettings

SESSION_TURN_LIMIT = 500  # the newest turns of a very long session are the ones that matter
HISTORY_LIMIT = 2000  # at least; a batch may load 10 earlier turns per turn it examines


def detector_settings_list(*, project) -> list[DetectorSettings]:
    return list(DetectorSettings.objects.for_project(project).order_by("detector"))


def detector_config_get(*, project) -> DetectorConfig:
    return effective_config(detector_settings_list(project=project))


def detection_rule_list(*, project, enabled_only: bool = False) -> list[DetectionRule]:
    rules = DetectionRule.objects.for_project(project).order_by("name")
    return list(rules.filter(enabled=True) if enabled_only else rules)


def detection_rule_compiled_list(*, project) -> list[CompiledRule]:
    return [CompiledRule(id=r.pk, signal_kind=r.signal_kind, ast=r.ast) for r in detection_rule_list(project=project, enabled_only=True)]


_LOAD = """
WITH named AS (  -- the sessions asked for by name, and the sessions of the turns asked for by id
    SELECT unnest(%(sessions)s::text[]) AS session_id
    UNION
    SELECT t.session_id FROM traces_turn t
    WHERE t.project_id = %(project)s AND t.id = ANY(%(turns)s::uuid[]) AND t.session_id <> ''
),
batch AS (  -- each named session's newest turns (one probe of traces_turn_session_idx each), and the asked-for turns without a session
    SELECT t.* FROM named n, LATERAL (
        SELECT t.id, t.session_id, t.end_user_id, t.created_at, t.input, t.output, t.model, t.prompt_version,
               t.variant, t.metadata, t.retrieved, t.tool_calls
        FROM traces_turn t
        WHERE t.project_id = %(project)s AND t.session_id = n.session_id
        ORDER BY t.created_at DESC, t.id DESC LIMIT %(per_session)s
    ) t
    UNION ALL
    SELECT t.id, t.session_id, t.end_user_id, t.created_at, t.input, t.output, t.model, t.prompt_version,
           t.variant, t.metadata, t.retrieved, t.tool_calls
    FROM traces_turn t
    WHERE t.project_id = %(project)s AND t.id = ANY(%(turns)s::uuid[]) AND t.session_id = ''
),
settings AS (
    SELECT s.detector, s.enabled, s.params FROM detection_detectorsettings s WHERE s.project_id = %(project)s
),
recurrence AS (  -- an upper bound of the recurrence window (0 when off) to load history for
    SELECT CASE
        WHEN s.enabled IS FALSE THEN 0
        WHEN jsonb_typeof(s.params -> 'window_seconds') = 'number' THEN (s.params ->> 'window_seconds')::float8
        ELSE %(recurrence_window)s END AS seconds
    FROM (SELECT 1) AS one LEFT JOIN settings s ON s.detector = 'recurrence'
),
windows AS MATERIALIZED (  -- computed first, so both bounds below are index conditions
    SELECT b.end_user_id, b.created_at, b.created_at - make_interval(secs => r.seconds) AS since
    FROM batch b, recurrence r WHERE r.seconds > 0 AND b.end_user_id <> ''
),
history AS (  -- the same end users' turns in other sessions, within the window before one of their batch turns:
    -- one probe of traces_turn_user_idx per batch turn
    SELECT * FROM (
        SELECT DISTINCT h.id, h.session_id, h.end_user_id, h.created_at, h.input
        FROM windows b, LATERAL (
            SELECT h.id, h.session_id, h.end_user_id, h.created_at, h.input FROM traces_turn h
            WHERE h.project_id = %(project)s AND h.end_user_id = b.end_user_id
              AND h.created_at < b.created_at AND h.created_at >= b.since
              AND h.session_id NOT IN (SELECT session_id FROM named)
            OFFSET 0  -- planned per window (never flattened), so its bounds stay index conditions on any statistics
        ) h
    ) found
    ORDER BY found.created_at DESC LIMIT greatest(%(history_limit)s, 10 * (SELECT count(*) FROM batch))
)
SELECT json_build_object(
    'settings', (SELECT json_agg(json_build_object('detector', detector, 'enabled', enabled, 'params', params)
                                 ORDER BY detector)::text FROM settings),
    'rules', (SELECT json_agg(json_build_object('id', r.id, 'signal_kind', r.signal_kind, 'ast', r.ast) ORDER BY r.name)::text
              FROM detection_detectionrule r WHERE r.project_id = %(project)s AND r.enabled),
    'turns', (SELECT json_agg(json_build_array(  -- TurnData's fields in order (an array_like Struct)
        b.id, b.session_id, b.end_user_id, b.created_at, b.input, b.output, b.model, b.prompt_version, b.variant,
        CASE WHEN jsonb_typeof(b.metadata) = 'object' THEN b.metadata ELSE '{}' END,
        CASE WHEN jsonb_typeof(b.retrieved) = 'array' THEN b.retrieved ELSE '[]' END,
        CASE WHEN jsonb_typeof(b.tool_calls) = 'array' THEN b.tool_calls ELSE '[]' END,
        COALESCE((  -- explicit signals, the latest of a kind winning; detector output excluded
            SELECT jsonb_object_agg(s.kind, s.value ORDER BY s.created_at) FROM traces_signal s
            WHERE s.project_id = %(project)s AND s.turn_id = b.id AND s.source <> 'detector'), '{}'),
        COALESCE((  -- the names of failed steps
            SELECT json_agg(COALESCE(NULLIF(st.name, ''), st.kind) ORDER BY st.started_at, st.span_id) FROM traces_step st
            WHERE st.project_id = %(project)s AND st.turn_id = b.id AND st.error <> ''), '[]'),
        EXISTS (SELECT 1 FROM traces_step st WHERE st.project_id = %(project)s AND st.turn_id = b.id AND st.kind = 'retrieval')
    ) ORDER BY b.session_id = '', b.session_id, b.created_at, b.id) FROM batch b),
    'history', (SELECT json_agg(json_build_array(h.id, h.session_id, h.end_user_id, h.created_at, h.input)) FROM history h)
)::text
"""


# Without comments and runs of blanks the statement stays under psycopg's 4 KB limit for caching
# its converted form.
_LOAD = " ".join(re.sub(r"--[^\n]*", "", _LOAD).split())


class _SettingsRow(msgspec.Struct):
    detector: str
    enabled: bool
    params: dict


class _Loaded(msgspec.Struct):
    settings: str | None  # kept as text: the key of the parsed-config cache
    rules: str | None
    turns: list[TurnData] | None
    history: list[TurnData] | None


_DECODE_LOADED = msgspec.json.Decoder(_Loaded).decode
_DECODE_SETTINGS = msgspec.json.Decoder(list[_SettingsRow]).decode
_DECODE_RULES = msgspec.json.Decoder(list[CompiledRule]).decode
_PARSED: dict[tuple[str, str | None], object] = {}  # (kind, text) → parsed config or rules; stored text is the key
_PARSED_MAX = 512


def _parsed(kind: str, text: str | None, parse):
    """Parse settings or rules once per distinct stored text (so a change is seen on the next load)."""
    key = (kind, text)
    found = _PARSED.get(key)
    if found is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        found = _PARSED[key] = parse(text)
    return found


@dataclass(slots=True)
class DetectionBatch:
    config: DetectorConfig
    rules: list[CompiledRule]
    sessions: list[list[TurnData]]  # each sorted by time; a turn without a session is one on its own
    history: list[TurnData]  # the same end users' turns from other sessions, recurrence window only


def detection_batch_get(*, project, session_ids=(), turn_ids=()) -> DetectionBatch:
    """Everything one detector pass needs, in one round trip.

    ``session_ids`` name sessions; ``turn_ids`` name turns, whose sessions are loaded whole (a
    turn without a session is a session of its own; unknown ids are dropped). Each session
    keeps its newest ``SESSION_TURN_LIMIT`` turns. Also returns the project's effective settings
    and enabled rules, and for recurrence the same end users' turns in other sessions within
    the window before the batch (newest ``HISTORY_LIMIT``). The database builds one JSON
    document that msgspec decodes straight into ``TurnData``: no ORM instances, no per-row
    Python conversion.
    """
    loaded = _DECODE_LOADED(prepared_value(_LOAD, {
            "project": project.pk,
            "sessions": sorted({s for s in session_ids if s}),
            "turns": [str(t) for t in turn_ids],
            "per_session": SESSION_TURN_LIMIT,
            "history_limit": HISTORY_LIMIT,
        "recurrence_window": DETECTORS["recurrence"][1]["window_seconds"],
    }))
    config = _parsed("settings", loaded.settings, lambda text: effective_config(_DECODE_SETTINGS(text) if text else []))
    rules = _parsed("rules", loaded.rules, lambda text: _DECODE_RULES(text) if text else [])
    sessions: list[list[TurnData]] = []
    current = None
    for turn in loaded.turns or ():
        if turn.session_id and turn.session_id == current:
            sessions[-1].append(turn)
        else:
            sessions.append([turn])
            current = turn.session_id
    return DetectionBatch(config=config, rules=rules, sessions=sessions, history=loaded.history or [])


# --- Reads for the floors above (problems) ------------------------------------------------------



def detection_pass_rows_after(*, project, watermark: int, limit: int) -> list[tuple]:
    """(pass id, turn id, detected_at) of the project's first detection passes past ``watermark``,
    by id, at most ``limit`` (the clustering job's watermark read: one statement)."""
    with tenant_sql(project=project) as cursor:
        cursor.execute(
            "SELECT id, turn_id, detected_at FROM detection_detectionpass WHERE project_id = %(project_id)s AND id > %(watermark)s ORDER BY id LIMIT %(limit)s",
            {"watermark": watermark, "limit": limit},
        )
        return cursor.fetchall()
