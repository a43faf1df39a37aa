"""Ingestion payloads: msgspec structs validate the hot path without DRF serializers, and the
same structs generate the OpenAPI schema (apps/traces/openapi.py).

Unknown fields are rejected so a typo (``agent_reponse``) is an error, not silent data loss.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec import Meta

MAX_TEXT = 262_144  # characters in question / agent_response / correction
MAX_SHORT = 200
MAX_LIST = 500
MAX_KEYS = 100
MAX_BATCH = 1000
KIND_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:\-]{0,63}$"

Text = Annotated[str, Meta(max_length=MAX_TEXT)]
Short = Annotated[str, Meta(max_length=MAX_SHORT)]
Kind = Annotated[str, Meta(pattern=KIND_PATTERN, description="Signal kind, e.g. thumbs_down or a custom name")]
Signals = Annotated[dict[Kind, Any], Meta(max_length=50, description="Signal kind → value (true, a number, text…)")]
Metadata = Annotated[dict[str, Any], Meta(max_length=MAX_KEYS)]
AnyList = Annotated[list[Any], Meta(max_length=MAX_LIST)]
Rating = Union[Literal["up", "down"], Annotated[int, Meta(ge=1, le=5)]]
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59)  # PostgreSQL refuses a larger timestamptz offset


def _storable(**moments: dt.datetime | None) -> None:
    """Refuse (as a validation error, not a database error) a time PostgreSQL cannot store."""
    for name, moment in moments.items():
        offset = moment.utcoffset() if moment is not None else None
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValueError(f"`{name}` has a UTC offset beyond ±15:59")


class StepIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A span inside a turn (an LLM call, a tool call, a retrieval…)."""

    id: Annotated[str, Meta(min_length=1, max_length=64, description="Span id, unique within the turn")]
    turn_id: uuid.UUID | None = None
    parent_id: Annotated[str, Meta(max_length=64)] = ""
    kind: Literal["llm", "tool", "retrieval", "other"] = "other"
    name: Short = ""
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    input: Any = None
    output: Any = None
    error: Text = ""
    attributes: Metadata = {}

    def __post_init__(self) -> None:
        _storable(started_at=self.started_at, ended_at=self.ended_at)


class TurnIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One agent turn, with the field names of the SDKs' ``log_turn``."""

    id: uuid.UUID | None = None
    question: Text = ""
    agent_response: Text = ""
    user_id: Short = ""
    session_id: Short = ""
    signals: Signals = {}
    history: AnyList = []
    prompt_version: Short = ""
    model: Short = ""
    retrieved: AnyList = []
    tool_calls: AnyList = []
    metadata: Metadata = {}
    variant: Annotated[str, Meta(max_length=100)] = ""
    timestamp: dt.datetime | None = None
    steps: Annotated[list[StepIn], Meta(max_length=MAX_LIST)] = []

    def __post_init__(self) -> None:
        _storable(timestamp=self.timestamp)


class SignalIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    turn_id: uuid.UUID
    kind: Kind
    value: Any = True
    dedupe_key: Short = ""


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """End-user feedback from the customer's backend; the turn may not have arrived yet."""

    turn_id: uuid.UUID
    id: uuid.UUID | None = None
    rating: Rating | None = None
    comment: Annotated[str, Meta(max_length=10_000)] = ""
    correction: Text = ""
    signals: Signals = {}
    user_id: Short = ""
    metadata: Metadata = {}


class BatchItem(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["turn", "step", "signal", "feedback"]
    body: dict[str, Any]
    id: Annotated[str, Meta(max_length=64)] | None = None


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    batch: Annotated[list[Any], Meta(min_length=1, max_length=MAX_BATCH)]


class TurnCreatedOut(msgspec.Struct):
    id: uuid.UUID
    feedback_url: str | None  # None only when the key's signing key cannot be unsealed (see README)


class ItemResult(msgspec.Struct, omit_defaults=True):
    index: int
    type: str
    status: int
    id: str | None = None
    code: str | None = None
    message: str | None = None
    field: str | None = None


class BatchOut(msgspec.Struct):
    accepted: int
    rejected: int
    results: list[ItemResult]


BODY_TYPES = {"turn": TurnIn, "step": StepIn, "signal": SignalIn, "feedback": FeedbackIn}
