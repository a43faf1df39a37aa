"""What the detectors read and return: a turn, a detection, a customer rule to run."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import msgspec


class TurnData(msgspec.Struct, array_like=True, gc=False):
    """One turn as the detectors see it. ``apps.detection.selectors`` decodes these straight from
    the database's JSON (msgspec honours the annotations: ``id`` a UUID, times aware datetimes).

    A msgspec Struct rather than a dataclass: decoding one is about three times cheaper, and a
    worker decodes hundreds per batch. ``gc=False``: a turn holds only JSON values, never a
    reference back to itself, so the cycle collector need not track the thousands of them.
    ``array_like``: the database sends each turn as a JSON array of the fields in this order
    (no key names: a smaller document to send and decode); trailing fields may be left out.
    """

    id: uuid.UUID
    session_id: str = ""
    end_user_id: str = ""
    created_at: dt.datetime | None = None
    question: str = ""
    answer: str = ""
    model: str = ""
    prompt_version: str = ""
    variant: str = ""
    metadata: dict = msgspec.field(default_factory=dict)
    retrieved: list = msgspec.field(default_factory=list)
    tool_calls: list = msgspec.field(default_factory=list)
    signals: dict = msgspec.field(default_factory=dict)  # kind → value, detector output excluded
    step_errors: list = msgspec.field(default_factory=list)  # names of steps that failed
    retrieval_attempted: bool = False  # a retrieval step exists


class Detection(msgspec.Struct, frozen=True, gc=False):
    """One signal to store (a Struct: built thousands of times per pass, and encoded as is)."""

    turn_id: uuid.UUID
    kind: str
    value: dict
    dedupe_key: str


@dataclass(slots=True, frozen=True)
class CompiledRule:
    id: object
    signal_kind: str
    ast: dict


def as_number(value) -> float | None:
    """A reported JSON number as a float; None for anything else (a boolean included)."""
    kind = type(value)
    if kind is float or kind is int:  # the JSON case, first
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
