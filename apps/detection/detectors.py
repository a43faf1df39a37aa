"""The built-in detectors as pure decision functions over plain data (no ORM, no I/O).

``run_detectors`` takes the turns of one or more sessions (plus, for recurrence, the same end
users' recent turns from other sessions) and returns the detections to store. Every function is
deterministic for a given ``now``; the service layer loads the data and writes the signals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from operator import attrgetter

import msgspec

from apps.detection.config import DetectorConfig
from apps.detection.rules import compile_rule
from apps.detection.similarity import DEFAULT_SIMILARITY, Similarity

# Explicit feedback is a user action: a session that ends on it was not abandoned.
USER_ACTION_SIGNALS = frozenset({"thumbs_up", "thumbs_down", "rating", "comment"})


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


# --- single-turn decisions ------------------------------------------------------------------

_ESCALATION = re.compile(
    r"""
    \b(?=[tscprlaehig])(?:
    \b(?:talk|speak|chat|connect|transfer|put)\s+(?:me\s+)?(?:to|with|through\s+to)\s+
        (?:a|an|the|your|some|someone\s+from)?\s*(?:real\s+|live\s+|actual\s+)?
        (?:human|person|agent|representative|rep|manager|supervisor|someone|support|operator)\b
  | \b(?:real|live|actual)\s+(?:human|person)\b
  | \bescalate\s+(?:this|my|the|it)\b
  | \b(?:human|customer)\s+(?:support|service)\s*(?:please|now|!)
  | \bi\s+(?:want|need|demand)\s+(?:a|an|your|to\s+(?:talk|speak)\s+to\s+(?:a|an|your))\s+(?:human|manager|supervisor|representative)\b
  | \b(?:get|give)\s+me\s+(?:a|an|your)\s+(?:human|manager|supervisor)\b
    )""",
    re.IGNORECASE | re.VERBOSE,
)


# Every alternative of ``_ESCALATION`` contains one of these words, so a question holding none of
# them cannot match and skips the regex (about 10 µs on a typical question; the check below 2 µs).
_ESCALATION_WORDS = ("human", "person", "agent", "rep", "manag", "sup", "someone", "operator", "escalate", "service")
# What ``re.IGNORECASE`` equates with an ASCII letter beyond ``str.lower``: dotless ı and İ with
# i, long ſ with s (``str.lower`` already maps the Kelvin sign to k).
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


def _folded(text: str) -> str:
    """``text`` lowercased so that an ASCII needle ``re.IGNORECASE`` would find in it is a plain
    substring: the prefilters below test needles with ``in`` (C speed) before running a regex."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    # ``str.lower`` turns İ into i + U+0307 and keeps ı and ſ: translate only a text holding one.
    if "\u0307" in lowered or "\u0131" in lowered or "\u017f" in lowered:
        return text.translate(_FOLD).lower()
    return lowered


def may_escalate(question: str) -> bool:
    """False only for a question ``_ESCALATION`` cannot match (a necessary condition, exact)."""
    lowered = _folded(question)
    for word in _ESCALATION_WORDS:
        if word in lowered:
            return True
    return False


def escalation(turn: TurnData) -> dict | None:
    """The user asks for a human / support / a manager, or the customer reported ``escalation``."""
    if turn.signals.get("escalation") not in (None, False, 0, ""):
        return {"reason": "signal"}
    match = _ESCALATION.search(turn.question) if may_escalate(turn.question) else None
    if match:
        return {"reason": "asked", "phrase": match.group(0)[:100]}
    return None


@lru_cache(maxsize=256)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern | None:
    variants = []
    for phrase in phrases:
        escaped = re.escape(phrase).replace("'", "['’]")  # "don't" also matches a curly apostrophe
        variants.append(escaped)
    if not variants:
        return None
    # The lookahead on the phrases' first letters rejects most positions before trying each
    # alternative (3x faster on typical answers).
    first = re.escape("".join(sorted({p[0] for p in phrases if p})))
    alternatives = "|".join(sorted(variants, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?=[{first}])(?:{alternatives})(?!\w)", re.IGNORECASE)


_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


@lru_cache(maxsize=256)
def phrase_search(phrases: tuple[str, ...]):
    """``_phrase_pattern(phrases).search``, or None without phrases, behind an exact prefilter.

    Each phrase contributes a needle: its longest ASCII run without an apostrophe (the one
    character the pattern widens), lowercased. An answer that holds none of the needles (after
    ``_folded``) cannot match, so the regex (about 4 µs on a typical answer, scanning every
    position) runs only on the few that do. A needle that holds another is dropped; a phrase
    without a usable needle (two ASCII letters or fewer) turns the prefilter off.
    """
    pattern = _phrase_pattern(phrases)
    if pattern is None:
        return None
    needles = []
    for phrase in phrases:
        runs = [run.strip() for piece in phrase.split("'") for run in _ASCII_RUN.findall(piece)]
        needle = max(runs, key=len, default="").lower()
        if len(needle) < 3:
            return pattern.search
        needles.append(needle)
    needles = tuple(n for n in set(needles) if not any(other != n and other in n for other in needles))
    search = pattern.search

    def prefiltered(answer: str):
        lowered = _folded(answer)
        for needle in needles:
            if needle in lowered:
                return search(answer)
        return None

    return prefiltered


def agent_punted(answer: str, phrases) -> dict | None:
    """The answer says it cannot help; ``phrases`` is the project's list (whole words, any case)."""
    search = phrase_search(tuple(phrases))
    match = search(answer) if search else None
    return {"phrase": match.group(0).lower()} if match else None


def _number(value) -> float | None:
    kind = type(value)
    if kind is float or kind is int:  # the JSON case, first
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def low_confidence(turn: TurnData, threshold: float) -> dict | None:
    """A reported ``confidence`` (signal first, then metadata) strictly below ``threshold``."""
    reported = _number(turn.signals.get("confidence")) if turn.signals else None
    if reported is None:
        reported = _number(turn.metadata.get("confidence")) if isinstance(turn.metadata, dict) else None
    if reported is not None and reported < threshold:
        return {"confidence": reported, "threshold": threshold}
    return None


_SCORE_KEYS = ("score", "similarity", "relevance")


def _document_score(document) -> float | None:
    if isinstance(document, dict):
        for key in _SCORE_KEYS:
            value = document.get(key)
            if value is not None and (score := _number(value)) is not None:
                return score
    return None


def knowledge_gap(turn: TurnData, min_score: float) -> dict | None:
    """Retrieval ran and returned nothing, or only documents scored below ``min_score``.

    A turn that never retrieved (no retrieval step, nothing in ``retrieved``) is not a gap.
    """
    retrieved = turn.retrieved
    if not retrieved:
        return {"reason": "empty"} if turn.retrieval_attempted else None
    best = None
    for document in retrieved:
        score = document.get("score") if type(document) is dict else None
        if type(score) is not float:  # the JSON case first; anything else the general way
            score = _document_score(document)
        if score is None:
            return None  # a document without a score: no verdict
        if best is None or score > best:
            best = score
    if best < min_score:
        return {"reason": "low_score", "max_score": best, "documents": len(retrieved)}
    return None


def tool_error(turn: TurnData) -> dict | None:
    """A failed step, or a tool call that reports an error."""
    failed = list(turn.step_errors)
    for call in turn.tool_calls:
        if not isinstance(call, dict):
            continue
        status = call.get("status")  # a missing or null status is not "error"
        if call.get("error") or (status is not None and str(status).lower() in ("error", "failed")):
            failed.append(str(call.get("name") or call.get("tool") or "tool"))
    return {"failed": failed[:20]} if failed else None


def sampled(turn_id, percentage: float) -> bool:
    """Deterministic by turn id: the same turn is in or out of the sample on every run."""
    if percentage <= 0:
        return False
    key = turn_id.bytes if isinstance(turn_id, uuid.UUID) else str(turn_id).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") % 1_000_000 < percentage * 10_000


_TERMINAL = re.compile(r"[.!)\]`*\"'’”]\s*$")


def answer_looks_complete(answer: str, punted: bool) -> bool:
    text = answer.strip()
    return bool(text) and not punted and len(text) >= 40 and not text.endswith("?") and bool(_TERMINAL.search(text))


def abandonment(turn: TurnData, *, is_last: bool, now: dt.datetime, window_seconds: int, punted: bool) -> dict | None:
    """The session's last turn, older than the window, with no user action after it.

    The score weighs how the answer looked: a complete answer is probably a satisfied user
    (0.3); a cut-off, empty or punted answer, or a question back to the user, is likely a
    failure (0.8–1.0). The caller keeps only scores at or above the project's ``min_score``.
    """
    if not is_last or turn.created_at is None or now - turn.created_at < dt.timedelta(seconds=window_seconds):
        return None
    if USER_ACTION_SIGNALS & turn.signals.keys():
        return None
    text = turn.answer.strip()
    if not text:
        score = 1.0
    elif punted:
        score = 0.9
    elif text.endswith("?"):
        score = 0.85
    elif answer_looks_complete(text, punted):
        score = 0.3
    else:
        score = 0.8
    return {"score": score}


# --- pairwise decisions (similarity) --------------------------------------------------------

_FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|plus|what\s+about|how\s+about|what\s+if|then|ok(?:ay)?|thanks|thank\s+you|thx|great|cool|"
    r"perfect|nice|got\s+it|so|but\s+what|one\s+more|another\s+question|follow[-\s]?up|next|now)\b",
    re.IGNORECASE,
)


def is_follow_up(text: str) -> bool:
    """Markers of a genuine follow-up or an acknowledgement rather than a re-ask."""
    return bool(_FOLLOW_UP.search(text))


def rephrase_candidates(session: list[TurnData], window_seconds: int) -> list[tuple[TurnData, TurnData]]:
    """(turn, next turn) pairs of one session (sorted by time) that could be a rephrase."""
    window = dt.timedelta(seconds=window_seconds)
    pairs = []
    for current, following in pairwise(session):
        if current.created_at is None or following.created_at is None:
            continue
        if following.created_at - current.created_at > window:
            continue
        if not following.question.strip() or not current.question.strip() or is_follow_up(following.question):
            continue
        pairs.append((current, following))
    return pairs


_CREATED_AT = attrgetter("created_at")
_NO_GAP = dt.timedelta(0)


def history_by_user(history) -> dict[str, list[TurnData]]:
    """Earlier turns grouped by end user, newest first (built once per batch)."""
    by_user: dict[str, list[TurnData]] = {}
    for h in history:
        if h.end_user_id and h.created_at is not None and h.question.strip():
            by_user.setdefault(h.end_user_id, []).append(h)
    for turns in by_user.values():
        turns.sort(key=_CREATED_AT, reverse=True)
    return by_user


def recurrence_candidates(session: list[TurnData], history, window_seconds: int, limit: int = 5):
    """(earlier turn in another session, this turn) pairs of the same end user within the window.

    ``history`` is a list of turns or the output of ``history_by_user``.
    """
    if not history or not session or not session[0].end_user_id:
        return []
    by_user = history if isinstance(history, dict) else history_by_user(history)
    window = dt.timedelta(seconds=window_seconds)
    pairs = []
    for turn in session:
        earlier_turns = by_user.get(turn.end_user_id)
        if not earlier_turns or turn.created_at is None or not turn.question.strip():
            continue
        chosen = 0
        for h in earlier_turns:  # newest first
            gap = turn.created_at - h.created_at
            if gap <= _NO_GAP or h.session_id == turn.session_id:
                continue
            if gap > window:
                break
            pairs.append((h, turn))
            chosen += 1
            if chosen == limit:
                break
    return pairs


# --- everything at once ---------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    detections: list[Detection]
    recheck_after: dict  # turn id → when a windowed decision (abandonment) must be looked at again


_RULES: dict[bytes, object] = {}  # encoded AST → compiled predicate over a turn (apps.detection.rules.compile_rule)


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
    """A function of a turn returning ``_lookup(path, rule_context(turn))``, in one call."""
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
) -> Result:
    """Every enabled detector and rule over ``sessions`` (each sorted by ``created_at``).

    The similarity pairs (rephrase and recurrence) go to the backend one session at a time, so
    the result does not depend on how sessions were batched.
    """
    on = config.enabled
    detections: list[Detection] = []
    add = detections.append
    recheck: dict = {}
    punt_on, escalation_on, tool_on = "agent_punted" in on, "escalation" in on, "tool_error" in on
    punt_search = phrase_search(tuple(config.p("agent_punted")["phrases"]))
    confidence_threshold = config.p("low_confidence")["threshold"] if "low_confidence" in on else None
    gap_min_score = config.p("knowledge_gap")["min_score"] if "knowledge_gap" in on else None
    percentage = config.p("random_sample")["percentage"] if "random_sample" in on else 0
    abandon = config.p("abandonment") if "abandonment" in on else None
    abandon_window = dt.timedelta(seconds=abandon["window_seconds"]) if abandon is not None else None
    checks = [(rule, _compiled_rule(rule.ast)) for rule in rules]
    sample_on, sample_cutoff, blake2b = percentage > 0, percentage * 10_000, hashlib.blake2b
    for session in sessions:
        last = session[-1] if session else None
        for turn in session:
            turn_id = turn.id
            match = punt_search(turn.answer) if punt_search is not None and turn.answer else None
            punted = {"phrase": match.group(0).lower()} if match else None
            if punted and punt_on:
                add(Detection(turn_id, "agent_punted", punted, "agent_punted"))
            if escalation_on and (
                # ``escalation`` only for a turn that reports the signal or asks (the usual turn does neither)
                "escalation" in turn.signals or may_escalate(turn.question)
            ) and (found := escalation(turn)):
                add(Detection(turn_id, "escalation", found, "escalation"))
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
            ).digest(), "big") % 1_000_000 < sample_cutoff:  # ``sampled``, inline
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
    # One similarity group per session, so a pair scores the same whether its session was
    # examined alone (after ingestion) or inside a sweep batch (IDF is fitted on the group);
    # the groups of every session go to the backend in one call.
    groups: list[list[tuple[str, TurnData, TurnData]]] = []
    for session in sessions:
        pairs: list[tuple[str, TurnData, TurnData]] = []
        if rephrase_window is not None:
            pairs += [("rephrase", a, b) for a, b in rephrase_candidates(session, rephrase_window)]
        if by_user:
            pairs += [("recurrence", a, b) for a, b in recurrence_candidates(session, by_user, recurrence_window)]
        if pairs:
            groups.append(pairs)
    texts = [[(a.question, b.question) for _, a, b in pairs] for pairs in groups]
    group_scores = getattr(similarity, "group_scores", None)
    scored = group_scores(texts) if group_scores is not None else [similarity.pair_scores(t) for t in texts]
    thresholds = {name: config.p(name)["threshold"] for name in ("rephrase", "recurrence") if name in on}
    recurring: dict = {}
    for pairs, scores in zip(groups, scored):
        for (name, a, b), score in zip(pairs, scores):
            if score < thresholds[name]:
                continue
            if name == "rephrase":
                # The earlier turn is the one that failed: its user had to ask again.
                detections.append(Detection(a.id, "rephrase", {"score": round(float(score), 3), "next_turn_id": str(b.id)}, "rephrase"))
            elif b.id not in recurring or score > recurring[b.id][0]:
                recurring[b.id] = (score, a)
    for turn_id, (score, earlier) in recurring.items():
        detections.append(Detection(
            turn_id, "recurrence", {"score": round(float(score), 3), "previous_turn_id": str(earlier.id)}, "recurrence"
        ))
    return Result(detections=detections, recheck_after=recheck)
