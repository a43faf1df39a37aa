"""Every enabled detector and customer rule over a batch of sessions, in one pass.

``run_detectors`` takes the turns of one or more sessions (plus, for recurrence, the same end
users' recent turns from other sessions) and returns the detections to store. Every function is
deterministic for a given ``now``; the service layer loads the data and writes the signals.
The per-turn loop inlines each detector's cheap "cannot fire" test before calling it: the
usual turn fires nothing, and this loop is what ``bench/detectors.py`` measures.

The text detectors (agent punted, a request for a human, frustration, factual claim) are pure
functions of the texts they are given: their verdicts come from a per-process memo keyed by
those texts (``verdicts``), so a session re-examined when a turn lands decides its earlier turns
once. A detector that starts to read more of a turn than the texts in its key must not be
memoised here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from operator import attrgetter

import msgspec

from apps.detection.config import DetectorConfig
from apps.detection.detectors.abandonment import abandonment
from apps.detection.detectors.agent_punted import agent_punted
from apps.detection.detectors.base import CompiledRule, Detection, TurnData
from apps.detection.detectors.escalation import asked_for_human, escalation, may_escalate
from apps.detection.detectors.factual_claim import factual_claim
from apps.detection.detectors.frustration import frustration
from apps.detection.detectors.knowledge_gap import knowledge_gap
from apps.detection.detectors.low_confidence import low_confidence
from apps.detection.detectors.recurrence import history_by_user, recurrence_candidates
from apps.detection.detectors.rephrase import rephrase_candidates
from apps.detection.detectors.rephrase_model import score_pairs
from apps.detection.detectors.tool_error import tool_error
from apps.detection.detectors.verdicts import UNSEEN, verdicts
from apps.detection.rules.evaluator import compile_rule
from apps.detection.similarity import DEFAULT_SIMILARITY, Similarity


@dataclass(slots=True)
class Result:
    detections: list[Detection]
    recheck_after: dict  # turn id → when a windowed decision (abandonment) must be looked at again


# Encoded AST → its predicate over a turn (``apps.detection.rules.evaluator.compile_rule``).
_RULES: dict[bytes, object] = {}


def _asked_for_human(question: str, phrases: tuple) -> dict | None:
    """``escalation`` for a turn without a reported signal: a request in the question, tried only
    when the question may hold one (``may_escalate``, exact) or the project has phrases."""
    return asked_for_human(question, phrases) if phrases or may_escalate(question) else None


def _metadata(turn: TurnData) -> dict:
    return turn.metadata if isinstance(turn.metadata, dict) else {}


# A rule's field names → the turn's values, as ``rule_context`` names them.
_TURN_FIELDS = {
    "model": attrgetter("model"), "prompt_version": attrgetter("prompt_version"), "variant": attrgetter("variant"),
    "user_id": attrgetter("end_user_id"), "session_id": attrgetter("session_id"), "question": attrgetter("question"),
    "answer": attrgetter("answer"), "metadata": _metadata, "signals": attrgetter("signals"),
}


def _no_field(turn: TurnData) -> None:
    return None


_TURN_OBJECTS = {"metadata": attrgetter("metadata"), "signals": attrgetter("signals")}  # the fields a path can go into


def _turn_field(path: list[str]):
    """A function of a turn returning ``context_field(path)(rule_context(turn))``, in one call
    (``apps.detection.rules.evaluator.context_field``)."""
    head, rest = path[0], path[1:]
    if not rest:
        return _TURN_FIELDS.get(head, _no_field)
    # Into a field: only a dict has keys (a metadata that is not a dict is {}: no key either).
    container = _TURN_OBJECTS.get(head)
    if container is None:
        return _no_field
    if len(rest) == 1:
        key = rest[0]

        def one(turn: TurnData):
            value = container(turn)
            return value.get(key) if isinstance(value, dict) else None

        return one

    def deep(turn: TurnData):
        value = container(turn)
        for key in rest:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return deep


def _compiled_rule(ast: dict):
    """The rule as a predicate over a ``TurnData``: equal to ``matches(ast, rule_context(turn))``
    without building the context dict for every turn."""
    key = msgspec.json.encode(ast)
    found = _RULES.get(key)
    if found is None:
        if len(_RULES) >= 1024:
            _RULES.clear()
        found = _RULES[key] = compile_rule(ast, _turn_field)
    return found


def rule_context(turn: TurnData) -> dict:
    """The turn as a rule context (field name → value): what ``_turn_field``'s getters read in place."""
    return {
        "model": turn.model, "prompt_version": turn.prompt_version, "variant": turn.variant,
        "user_id": turn.end_user_id, "session_id": turn.session_id, "question": turn.question,
        "answer": turn.answer, "metadata": turn.metadata if isinstance(turn.metadata, dict) else {},
        "signals": turn.signals,
    }


def run_detectors(
    sessions: list[list[TurnData]],
    config: DetectorConfig,
    *,
    now: dt.datetime,
    history: list[TurnData] = (),
    rules: list[CompiledRule] = (),
    similarity: Similarity = DEFAULT_SIMILARITY,
    rephrase_model=None,
) -> Result:
    """Every enabled detector and rule over ``sessions`` (each sorted by ``created_at``).

    Rephrase is the learned model (``apps.detection.detectors.rephrase_model``; ``rephrase_model``
    overrides the shipped one, for training and tests); recurrence pairs go to the similarity
    backend. Both work one session at a time, so the result does not depend on how sessions
    were batched.
    """
    on = config.enabled
    detections: list[Detection] = []
    add = detections.append
    recheck: dict = {}
    punt_on, escalation_on, tool_on = "agent_punted" in on, "escalation" in on, "tool_error" in on
    punt_phrases = tuple(config.p("agent_punted")["phrases"])
    escalation_phrases = tuple(config.p("escalation").get("phrases", ())) if escalation_on else ()
    frustration_on, claim_on = "frustration" in on, "factual_claim" in on
    confidence_threshold = config.p("low_confidence")["threshold"] if "low_confidence" in on else None
    gap_min_score = config.p("knowledge_gap")["min_score"] if "knowledge_gap" in on else None
    percentage = config.p("random_sample")["percentage"] if "random_sample" in on else 0
    abandon = config.p("abandonment") if "abandonment" in on else None
    abandon_window = dt.timedelta(seconds=abandon["window_seconds"]) if abandon is not None else None
    checks = [(rule, _compiled_rule(rule.ast)) for rule in rules]
    sample_on, sample_cutoff, blake2b = percentage > 0, percentage * 10_000, hashlib.blake2b
    punted_ids = set()  # the rephrase model reads whether the first answer punted
    rephrase_on = "rephrase" in on
    punts, requests = verdicts("agent_punted", punt_phrases), verdicts("escalation", escalation_phrases)
    frustrations, claims = verdicts("frustration"), verdicts("factual_claim")
    for session in sessions:
        last = session[-1] if session else None
        first = session[0] if session else None
        for turn in session:
            turn_id = turn.id
            # The punt is also an input of abandonment (a session's last turn) and of the rephrase
            # model (whether the first answer of a pair punted: every turn but the last).
            punted = None
            if turn.answer and (punt_on or (rephrase_on if turn is not last else abandon is not None)):
                if (punted := punts.get(texts := (turn.answer, turn.question), UNSEEN)) is UNSEEN:
                    punted = punts[texts] = agent_punted(turn.answer, punt_phrases, turn.question)
            if punted:
                punted_ids.add(turn_id)
            if punted and punt_on:
                add(Detection(turn_id, "agent_punted", dict(punted), "agent_punted"))
            if escalation_on:
                if "escalation" in turn.signals:  # a reported signal: ``escalation`` reads it first
                    found = escalation(turn, escalation_phrases)
                elif (found := requests.get(question := turn.question, UNSEEN)) is UNSEEN:
                    found = requests[question] = _asked_for_human(question, escalation_phrases)
                if found:
                    add(Detection(turn_id, "escalation", dict(found), "escalation"))
            if frustration_on and turn.question:
                if (found := frustrations.get(said := (turn.question, turn is not first), UNSEEN)) is UNSEEN:
                    found = frustrations[said] = frustration(turn.question, reply=turn is not first)
                if found:
                    add(Detection(turn_id, "frustration", dict(found), "frustration"))
            if claim_on and turn.answer:
                if (found := claims.get(texts := (turn.answer, turn.question), UNSEEN)) is UNSEEN:
                    found = claims[texts] = factual_claim(turn.answer, turn.question)
                if found:
                    add(Detection(turn_id, "factual_claim", dict(found), "factual_claim"))
            if confidence_threshold is not None and (
                # the usual turn: no reported signal, a float confidence in the metadata at or above
                # the threshold (``low_confidence`` is None); anything else the full way
                (signals := turn.signals) and "confidence" in signals
                or type(reported := (turn.metadata.get("confidence") if type(turn.metadata) is dict else None)) is not float
                or not reported >= confidence_threshold
            ) and (found := low_confidence(turn, confidence_threshold)):
                add(Detection(turn_id, "low_confidence", found, "low_confidence"))
            if gap_min_score is not None and (found := knowledge_gap(turn, gap_min_score)):
                add(Detection(turn_id, "knowledge_gap", found, "knowledge_gap"))
            if tool_on and (turn.step_errors or (calls := turn.tool_calls) and not (
                # the usual turn: one tool call without an error or a status, which ``tool_error`` passes
                len(calls) == 1 and type(call := calls[0]) is dict and not call.get("error") and call.get("status") is None
            )) and (found := tool_error(turn)):
                add(Detection(turn_id, "tool_error", found, "tool_error"))
            if sample_on and int.from_bytes(blake2b(
                turn_id.bytes if isinstance(turn_id, uuid.UUID) else str(turn_id).encode(), digest_size=8
            ).digest(), "big") % 1_000_000 < sample_cutoff:  # ``sampling.sampled``, inline
                add(Detection(turn_id, "random_sample", {"percentage": percentage}, "random_sample"))
            if abandon is not None and turn is last:  # only a session's last turn can be abandoned
                found = abandonment(turn, is_last=True, now=now, window_seconds=abandon["window_seconds"], punted=bool(punted))
                if found and found["score"] >= abandon["min_score"]:
                    add(Detection(turn_id, "abandonment", found, "abandonment"))
                elif turn.created_at is not None and found is None:
                    due = turn.created_at + abandon_window
                    if due > now:
                        recheck[turn_id] = due
            if checks:
                for rule, holds in checks:
                    if holds(turn):
                        add(Detection(turn_id, rule.signal_kind, {"rule_id": str(rule.id)}, f"rule:{rule.id}"))

    rephrase_window = config.p("rephrase")["window_seconds"] if "rephrase" in on else None
    by_user = None
    if "recurrence" in on and (history or len(sessions) > 1):
        recurrence_window = config.p("recurrence")["window_seconds"]
        # The batch's own sessions count as history too: a sweep batch holding two sessions of one
        # user finds the same recurrences as two per-session passes.
        by_user = history_by_user([*history, *(t for session in sessions for t in session)] if len(sessions) > 1 else history)
    if rephrase_window is not None:
        # The earlier turn is the one that failed: its user had to ask again.
        rephrase_groups = [pairs for session in sessions if (pairs := rephrase_candidates(session, rephrase_window))]
        for a, _, value in score_pairs(
            rephrase_groups, punted=punted_ids, min_probability=config.p("rephrase")["min_probability"],
            model=rephrase_model,
        ):
            detections.append(Detection(a.id, "rephrase", value, "rephrase"))
    # One similarity group per session, so a pair scores the same whether its session was
    # examined alone (after ingestion) or inside a sweep batch (IDF is fitted on the group);
    # the groups of every session go to the backend in one call.
    groups = [pairs for session in sessions if by_user and (pairs := recurrence_candidates(session, by_user, recurrence_window))]
    texts = [[(a.question, b.question) for a, b in pairs] for pairs in groups]
    group_scores = getattr(similarity, "group_scores", None)
    scored = [] if not groups else group_scores(texts) if group_scores is not None else [similarity.pair_scores(t) for t in texts]
    threshold = config.p("recurrence")["threshold"] if groups else None
    recurring: dict = {}
    for pairs, scores in zip(groups, scored):
        for (a, b), score in zip(pairs, scores):
            if score >= threshold and (b.id not in recurring or score > recurring[b.id][0]):
                recurring[b.id] = (score, a)
    for turn_id, (score, earlier) in recurring.items():
        detections.append(Detection(
            turn_id, "recurrence", {"score": round(float(score), 3), "previous_turn_id": str(earlier.id)}, "recurrence"
        ))
    return Result(detections=detections, recheck_after=recheck)
