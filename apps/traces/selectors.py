"""Reads of captured data. Every query starts from a project (fail-closed managers)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import Exists, OuterRef, Q

from apps.feedback.models import Feedback
from apps.traces.models import Signal, Step, Turn


def turn_get(*, project, turn_id) -> Turn | None:
    try:
        turn_id = uuid.UUID(str(turn_id))
    except ValueError:
        return None
    return Turn.objects.for_project(project).filter(pk=turn_id).first()


def turn_children(*, project, turn_id) -> dict:
    return {
        "steps": list(Step.objects.for_project(project).filter(turn_id=turn_id).order_by("started_at", "id")),
        "signals": list(Signal.objects.for_project(project).filter(turn_id=turn_id).order_by("created_at", "id")),
        "feedback": list(Feedback.objects.for_project(project).filter(turn_id=turn_id).order_by("created_at")),
    }


def _iso(value):
    return value.isoformat() if value else None


def turn_as_dict(turn: Turn) -> dict:
    children = turn_children(project=turn.project_id, turn_id=turn.pk)
    return {
        "id": str(turn.pk),
        "project": str(turn.project_id),
        "session_id": turn.session_id,
        "user_id": turn.end_user_id,
        "question": turn.input,
        "agent_response": turn.output,
        "history": turn.history,
        "prompt_version": turn.prompt_version,
        "model": turn.model,
        "retrieved": turn.retrieved,
        "tool_calls": turn.tool_calls,
        "metadata": turn.metadata,
        "variant": turn.variant,
        "source": turn.source,
        "timestamp": _iso(turn.created_at),
        "received_at": _iso(turn.received_at),
        "expires_at": _iso(turn.expires_at),
        "review_state": turn.review_state,
        "steps": [
            {
                "id": s.span_id, "parent_id": s.parent_span_id, "kind": s.kind, "name": s.name,
                "started_at": _iso(s.started_at), "ended_at": _iso(s.ended_at), "duration_ms": s.duration_ms,
                "input": s.input, "output": s.output, "error": s.error, "attributes": s.attributes,
            }
            for s in children["steps"]
        ],
        "signals": [
            {"kind": s.kind, "value": s.value, "source": s.source, "dedupe_key": s.dedupe_key, "created_at": _iso(s.created_at)}
            for s in children["signals"]
        ],
        "feedback": [
            {
                "id": str(f.pk), "rating": f.rating, "comment": f.comment, "correction": f.correction,
                "source": f.source, "user_id": f.end_user_id, "created_at": _iso(f.created_at), "updated_at": _iso(f.updated_at),
            }
            for f in children["feedback"]
        ],
    }


@dataclass
class TurnFilters:
    signal: str = ""
    feedback: str = ""  # "", "any", "up", "down", "comment", "correction"
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    user: str = ""
    session: str = ""
    prompt_version: str = ""
    model: str = ""
    variant: str = ""
    text: str = ""


def _signal_exists(project, kind: str):
    return Exists(Signal.objects.for_project(project).filter(turn_id=OuterRef("pk"), kind=kind))


def turn_list(*, project, filters: TurnFilters):
    turns = Turn.objects.for_project(project)
    if filters.since:
        turns = turns.filter(created_at__gte=filters.since)
    if filters.until:
        turns = turns.filter(created_at__lt=filters.until)
    for name, column in (("user", "end_user_id"), ("session", "session_id"), ("prompt_version", "prompt_version"),
                         ("model", "model"), ("variant", "variant")):
        value = getattr(filters, name)
        if value:
            turns = turns.filter(**{column: value})
    if filters.signal:
        turns = turns.filter(_signal_exists(project, filters.signal))
    if filters.feedback:
        feedback = Feedback.objects.for_project(project).filter(turn_id=OuterRef("pk"))
        if filters.feedback in ("up", "down"):
            feedback = feedback.filter(rating=filters.feedback)
        elif filters.feedback == "comment":
            feedback = feedback.exclude(comment="")
        elif filters.feedback == "correction":
            feedback = feedback.exclude(correction="")
        turns = turns.filter(Exists(feedback))
    if filters.text:
        turns = turns.annotate(search=SearchVector("input", "output", config="simple")).filter(
            search=SearchQuery(filters.text, config="simple", search_type="websearch")
        )
    return turns.order_by("-created_at", "-id")


def encode_cursor(turn: Turn) -> str:
    raw = json.dumps([turn.created_at.isoformat(), str(turn.pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID] | None:
    try:
        created, turn_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(created), uuid.UUID(turn_id)
    except (ValueError, TypeError):
        return None


def turn_page(*, project, filters: TurnFilters, after: str = "", size: int = 50) -> tuple[list[Turn], str | None]:
    """Keyset pagination (newest first): stable and index-backed on millions of turns."""
    turns = turn_list(project=project, filters=filters)
    position = decode_cursor(after) if after else None
    if position:
        created, turn_id = position
        turns = turns.filter(Q(created_at__lt=created) | Q(created_at=created, pk__lt=turn_id))
    rows = list(turns[: size + 1])
    next_cursor = encode_cursor(rows[size - 1]) if len(rows) > size else None
    return rows[:size], next_cursor


def signal_kinds_for(*, project, turn_ids) -> dict:
    kinds: dict = {}
    for turn_id, kind in Signal.objects.for_project(project).filter(turn_id__in=list(turn_ids)).values_list("turn_id", "kind"):
        kinds.setdefault(turn_id, []).append(kind)
    return kinds


def session_turns(*, project, session_id: str) -> list[Turn]:
    return list(Turn.objects.for_project(project).filter(session_id=session_id).order_by("created_at", "id")[:1000])


def filter_choices(*, project) -> dict:
    """Distinct values for the explorer's dropdowns (bounded)."""
    turns = Turn.objects.for_project(project)
    return {
        "signal_kinds": sorted(set(Signal.objects.for_project(project).values_list("kind", flat=True).distinct()[:100])),
        "prompt_versions": sorted(set(turns.exclude(prompt_version="").values_list("prompt_version", flat=True).distinct()[:100])),
        "models": sorted(set(turns.exclude(model="").values_list("model", flat=True).distinct()[:100])),
        "variants": sorted(set(turns.exclude(variant="").values_list("variant", flat=True).distinct()[:100])),
    }


def waiting_items(*, project, limit: int = 200) -> dict:
    """Children stored before their turn arrived ("waiting for their turn")."""
    turn_exists = Exists(Turn.objects.for_project(project).filter(pk=OuterRef("turn_id")))
    return {
        "feedback": list(Feedback.objects.for_project(project).filter(~turn_exists).order_by("-created_at")[:limit]),
        "signals": list(Signal.objects.for_project(project).filter(~turn_exists).order_by("-created_at")[:limit]),
        "steps": list(Step.objects.for_project(project).filter(~turn_exists).order_by("-received_at")[:limit]),
    }
