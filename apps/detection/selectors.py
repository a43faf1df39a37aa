"""Reads for detection: settings, rules, and the turn data the detectors need."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from apps.detection.config import DetectorConfig, effective_config
from apps.detection.detectors import CompiledRule, TurnData
from apps.detection.models import DetectionRule, DetectorSettings
from apps.traces.models import Signal, SignalSource, Step, StepKind, Turn

SESSION_TURN_LIMIT = 500  # the newest turns of a very long session are the ones that matter
_TURN_FIELDS = (
    "id", "session_id", "end_user_id", "created_at", "input", "output", "model", "prompt_version",
    "variant", "metadata", "retrieved", "tool_calls", "expires_at",
)


def detector_settings_list(*, project) -> list[DetectorSettings]:
    return list(DetectorSettings.objects.for_project(project).order_by("detector"))


def detector_config_get(*, project) -> DetectorConfig:
    return effective_config(detector_settings_list(project=project))


def detection_rule_list(*, project, enabled_only: bool = False) -> list[DetectionRule]:
    rules = DetectionRule.objects.for_project(project).order_by("name")
    return list(rules.filter(enabled=True) if enabled_only else rules)


def detection_rule_compiled_list(*, project) -> list[CompiledRule]:
    return [CompiledRule(id=r.pk, signal_kind=r.signal_kind, ast=r.ast) for r in detection_rule_list(project=project, enabled_only=True)]


def _turn_data(rows) -> tuple[list[TurnData], dict]:
    turns, expires = [], {}
    for (turn_id, session_id, user, created_at, question, answer, model, prompt_version, variant,
         metadata, retrieved, tool_calls, expires_at) in rows:
        turns.append(TurnData(
            id=turn_id, session_id=session_id, end_user_id=user, created_at=created_at, question=question,
            answer=answer, model=model, prompt_version=prompt_version, variant=variant,
            metadata=metadata if isinstance(metadata, dict) else {},
            retrieved=retrieved if isinstance(retrieved, list) else [],
            tool_calls=tool_calls if isinstance(tool_calls, list) else [],
        ))
        expires[turn_id] = expires_at
    return turns, expires


def _attach_children(project, turns: list[TurnData]) -> None:
    by_id = {t.id: t for t in turns}
    if not by_id:
        return
    signals = (
        Signal.objects.for_project(project).filter(turn_id__in=list(by_id)).exclude(source=SignalSource.DETECTOR)
        .order_by("created_at").values_list("turn_id", "kind", "value")
    )
    for turn_id, kind, value in signals:
        by_id[turn_id].signals[kind] = value
    steps = (
        Step.objects.for_project(project).filter(turn_id__in=list(by_id))
        .filter(Q(kind=StepKind.RETRIEVAL) | ~Q(error="")).values_list("turn_id", "kind", "name", "error")
    )
    for turn_id, kind, name, error in steps:
        if kind == StepKind.RETRIEVAL:
            by_id[turn_id].retrieval_attempted = True
        if error:
            by_id[turn_id].step_errors.append(name or kind)


def detection_input_get(*, project, session_ids, turn_ids, history_window_seconds: int):
    """Sessions (each sorted by time), same-user history from other sessions, and expiries.

    A turn without a session is a session of its own. History covers the recurrence window
    before the earliest turn loaded.
    """
    session_ids = sorted({s for s in session_ids if s})
    scoped = Turn.objects.for_project(project)
    sessions: list[list[TurnData]] = []
    expires: dict = {}
    if len(session_ids) == 1:
        rows = scoped.filter(session_id=session_ids[0]).order_by("-created_at", "-id").values_list(*_TURN_FIELDS)[:SESSION_TURN_LIMIT]
        turns, expires = _turn_data(list(rows))
        turns.reverse()
        sessions = [turns] if turns else []
    elif session_ids:
        # One query for many sessions (the sweep); each keeps its newest SESSION_TURN_LIMIT turns.
        rows = scoped.filter(session_id__in=session_ids).order_by("session_id", "created_at", "id").values_list(*_TURN_FIELDS)
        turns, expires = _turn_data(rows)
        grouped: dict[str, list[TurnData]] = {}
        for t in turns:
            grouped.setdefault(t.session_id, []).append(t)
        sessions = [group[-SESSION_TURN_LIMIT:] for group in grouped.values()]
    if turn_ids:
        rows = scoped.filter(pk__in=list(turn_ids), session_id="").values_list(*_TURN_FIELDS)
        loose, more = _turn_data(rows)
        sessions.extend([t] for t in loose)
        expires.update(more)
    everything = [t for session in sessions for t in session]
    _attach_children(project, everything)
    history: list[TurnData] = []
    users = {t.end_user_id for t in everything if t.end_user_id}
    if users and history_window_seconds:
        start = min(t.created_at for t in everything) - dt.timedelta(seconds=history_window_seconds)
        end = max(t.created_at for t in everything)
        rows = (
            scoped.filter(end_user_id__in=users, created_at__gte=start, created_at__lt=end)
            .exclude(session_id__in=session_ids).order_by("-created_at").values_list(*_TURN_FIELDS)[:2000]
        )
        history, _ = _turn_data(rows)
    return sessions, history, expires


def turn_sessions_get(*, project, turn_ids) -> tuple[set[str], set]:
    """The sessions of ``turn_ids`` and the ids of those without a session (missing ids dropped)."""
    rows = Turn.objects.for_project(project).filter(pk__in=list(turn_ids)).values_list("id", "session_id")
    sessions, loose = set(), set()
    for turn_id, session_id in rows:
        (sessions.add(session_id) if session_id else loose.add(turn_id))
    return sessions, loose
