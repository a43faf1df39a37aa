"""Reads for detection: settings, rules, and the turn data the detectors need."""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec
from django.db.models import Count, Exists, OuterRef, Q, Sum

from apps.core.sql import tenant_prepared_value, tenant_sql
from apps.detection.config import DETECTORS, DetectorConfig, effective_config
from apps.detection.detectors.base import CompiledRule, TurnData
from apps.detection.judge import Conversation, prompt_for, prompt_hash
from apps.detection.models import DetectionRule, DetectorSettings, JudgeSettings, JudgeUsage, JudgeVerdict
from apps.traces import scans
from apps.traces.models import Signal, SignalSource, Turn

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


# One statement: detection's settings and rules, and capture's turns for the batch, composed
# from capture's fragments (apps.traces.scans) — each app names only its own tables.
_LOAD = f"""
WITH settings AS (
    SELECT s.detector, s.enabled, s.params FROM detection_detectorsettings s WHERE s.project_id = %(project_id)s
),
recurrence AS (  -- an upper bound of the recurrence window (0 when off) to load history for
    SELECT CASE
        WHEN s.enabled IS FALSE THEN 0
        WHEN jsonb_typeof(s.params -> 'window_seconds') = 'number' THEN (s.params ->> 'window_seconds')::float8
        ELSE %(recurrence_window)s END AS seconds
    FROM (SELECT 1) AS one LEFT JOIN settings s ON s.detector = 'recurrence'
),
{scans.session_batch_ctes(window_seconds="SELECT seconds FROM recurrence")}
SELECT json_build_object(
    'settings', (SELECT json_agg(json_build_object('detector', detector, 'enabled', enabled, 'params', params)
                                 ORDER BY detector)::text FROM settings),
    'rules', (SELECT json_agg(json_build_object('id', r.id, 'signal_kind', r.signal_kind, 'ast', r.ast) ORDER BY r.name)::text
              FROM detection_detectionrule r WHERE r.project_id = %(project_id)s AND r.enabled),
    'judge', (SELECT j.enabled FROM detection_judgesettings j WHERE j.project_id = %(project_id)s),
    'turns', {scans.BATCH_TURNS_JSON},
    'history', {scans.HISTORY_JSON}
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
    judge: bool | None = None


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
    judge_enabled: bool = False  # the LLM judge runs after this pass (apps.detection.services.judge)


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
    loaded = _DECODE_LOADED(tenant_prepared_value(_LOAD, {
        "sessions": sorted({s for s in session_ids if s}),
        "turns": [str(t) for t in turn_ids],
        "per_session": SESSION_TURN_LIMIT,
        "history_limit": HISTORY_LIMIT,
        "recurrence_window": DETECTORS["recurrence"][1]["window_seconds"],
    }, project=project))
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
    return DetectionBatch(
        config=config, rules=rules, sessions=sessions, history=loaded.history or [], judge_enabled=bool(loaded.judge),
    )


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


# --- The LLM judge (apps.detection.services.judge) ----------------------------------------------


def judge_settings_get(*, project):
    """The project's judge settings, or an unsaved row with the defaults (off)."""
    return JudgeSettings.objects.for_project(project).first() or JudgeSettings(project=project)


def judge_conversations(*, project, turn_ids) -> list:
    """What the judge sees of each turn (``apps.detection.judge.Conversation``): the turn, the
    exchange before it and the next question in its session. Two queries; unknown ids dropped."""
    turns = list(Turn.objects.for_project(project).filter(id__in=list(turn_ids)).values("id", "session_id", "input", "output"))
    sessions = {turn["session_id"] for turn in turns if turn["session_id"]}
    neighbours: dict = {}
    if sessions:
        rows = (
            Turn.objects.for_project(project).filter(session_id__in=sessions)
            .order_by("session_id", "created_at", "id").values_list("id", "session_id", "input", "output")
        )[: len(sessions) * SESSION_TURN_LIMIT]
        ordered: dict = {}
        for row in rows:
            ordered.setdefault(row[1], []).append(row)
        for rows_of_session in ordered.values():
            for index, row in enumerate(rows_of_session):
                before = rows_of_session[index - 1] if index else None
                after = rows_of_session[index + 1] if index + 1 < len(rows_of_session) else None
                neighbours[row[0]] = (before, after)
    conversations = []
    for turn in turns:
        before, after = neighbours.get(turn["id"], (None, None))
        conversations.append(Conversation(
            turn_id=str(turn["id"]), question=turn["input"], answer=turn["output"],
            previous_question=before[2] if before else "", previous_answer=before[3] if before else "",
            next_question=after[2] if after else "",
        ))
    return conversations


def judge_cached(*, project, keys) -> set[tuple[str, str]]:
    """The (turn id, kind) pairs of ``keys`` = ``[(turn_id, kind, prompt_hash, model), …]`` that
    already have a verdict (one query)."""
    if not keys:
        return set()
    condition = Q()
    for turn_id, kind, digest, model in keys:
        condition |= Q(turn_id=turn_id, kind=kind, prompt_hash=digest, model=model)
    rows = JudgeVerdict.objects.for_project(project).filter(condition).values_list("turn_id", "kind")
    return {(str(turn_id), kind) for turn_id, kind in rows}


def judge_usage_totals(*, project, today) -> dict:
    """The judge's usage so far (all days) and today's turns against the budget."""
    rows = JudgeUsage.objects.for_project(project)
    totals = rows.aggregate(
        turns=Sum("turns"), requests=Sum("requests"), prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"), cost=Sum("cost"), malformed=Sum("malformed"), failures=Sum("failures"),
    )
    totals = {key: value or 0 for key, value in totals.items()}
    totals["today"] = rows.filter(day=today).values_list("turns", flat=True).first() or 0
    return totals


def cohen_kappa(both: int, judge_only: int, rule_only: int, neither: int) -> float | None:
    """Cohen's kappa of two raters on a 2×2 table (Cohen 1960, "A coefficient of agreement for
    nominal scales"): κ = (p_o − p_e) / (1 − p_e), with p_o the observed agreement
    (both + neither) / n and p_e the agreement expected by chance from each rater's marginals,
    (judge yes · rule yes + judge no · rule no) / n². None with no turns, or when chance agreement
    is already 1 (both raters gave one answer throughout: κ is undefined)."""
    n = both + judge_only + rule_only + neither
    if not n:
        return None
    observed = (both + neither) / n
    expected = ((both + judge_only) * (both + rule_only) + (rule_only + neither) * (judge_only + neither)) / (n * n)
    if expected >= 1:
        return None
    return (observed - expected) / (1 - expected)


def judge_agreement(*, project, settings) -> list[dict]:
    """Per judged kind, of the turns judged with the current prompt and model: how often the rule
    detector (a ``detector`` signal of that kind) and the judge agree, with Cohen's kappa. One
    grouped query."""
    kinds = list(settings.signal_kinds or [])
    if not kinds:
        return []
    current = Q()
    for kind in kinds:
        current |= Q(kind=kind, prompt_hash=prompt_hash(prompt_for(kind, settings.prompts or {})), model=settings.model)
    rule_fired = Signal.objects.for_project(project).filter(
        turn_id=OuterRef("turn_id"), kind=OuterRef("kind"), source=SignalSource.DETECTOR,
    )
    counts = (
        JudgeVerdict.objects.for_project(project).filter(current).annotate(rule=Exists(rule_fired))
        .values("kind", "verdict", "rule").annotate(n=Count("id")).order_by()
    )
    table = {kind: {"both": 0, "judge_only": 0, "rule_only": 0, "neither": 0} for kind in kinds}
    cell = {(True, True): "both", (True, False): "judge_only", (False, True): "rule_only", (False, False): "neither"}
    for row in counts:
        table[row["kind"]][cell[(row["verdict"], row["rule"])]] += row["n"]
    rows = []
    for kind in kinds:
        cells = table[kind]
        judged = sum(cells.values())
        rows.append({
            "kind": kind, "judged": judged, **cells,
            "agreement": (cells["both"] + cells["neither"]) / judged if judged else None,
            "kappa": cohen_kappa(cells["both"], cells["judge_only"], cells["rule_only"], cells["neither"]),
        })
    return rows
