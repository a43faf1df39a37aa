"""The LLM judge's protocol: its default prompts, the chat-completions request it sends and the
strict reading of the reply. No database here (apps.detection.services.judge runs it).

One request judges one (turn, signal kind): a judge is most reliable asked one question about
one conversation, a malformed or refused reply then costs one verdict rather than a batch, and
the cache key is naturally per turn. A run sends its requests concurrently (``CONCURRENCY``
at a time), each one taking a token from the project's bucket first.

The reply must be the JSON object ``{"verdict": true|false, "confidence": 0..1, "reason": "…"}``
as the message content (a fenced ```json block is accepted, nothing else): anything else is
``Malformed`` — logged and counted, never stored as a verdict.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

CONCURRENCY = 4
TIMEOUT_SECONDS = 20.0
ATTEMPTS = 3
MAX_TEXT = 4000  # characters of each message shown to the judge
MAX_REASON = 500

_VERDICT_FORMAT = (
    'Answer with one JSON object and nothing else: {"verdict": true or false, "confidence": a number '
    'from 0 to 1, "reason": "one short sentence"}.'
)
DEFAULT_PROMPTS = {
    "rephrase": (
        "You review a support conversation between a user and an AI agent. Decide whether the user's NEXT "
        "message asks the same thing as the CURRENT question again in other words because the agent's answer "
        "did not serve them. A follow-up that builds on a useful answer, or the same question about a different "
        "order, plan, product or place, is not a rephrase. With no next message, the verdict is false."
    ),
    "escalation": (
        "You review a support conversation between a user and an AI agent. Decide whether the user, in the "
        "CURRENT question, asks to reach a human: a person, agent, representative, manager or supervisor, a call "
        "or callback, live chat — in any words or spelling. Quoting someone, saying they already spoke to a human, "
        "or asking about support hours is not escalating."
    ),
    "agent_punted": (
        "You review a support conversation between a user and an AI agent. Decide whether the agent's CURRENT "
        "answer declines or deflects without helping (says it cannot help, sends the user elsewhere instead of "
        "answering). An answer that helps and also mentions support, or asks a clarifying question, is not a punt."
    ),
    "frustration": (
        "You review a support conversation between a user and an AI agent. Decide whether the user, in the "
        "CURRENT question or the NEXT message, expresses frustration with the agent itself (annoyance, sarcasm, "
        "'useless', 'you already said that', shouting). Frustration with their own situation (a late parcel, a "
        "broken device) that is not the agent's fault does not count."
    ),
    "factual_claim": (
        "You review a support conversation between a user and an AI agent. Decide whether the agent's CURRENT "
        "answer states a checkable fact worth auditing: a price or amount, a date or deadline, a quote, a policy "
        "or a promise to the user."
    ),
}
JUDGED_KINDS = tuple(DEFAULT_PROMPTS)


class Malformed(ValueError):
    """The reply is not the strict verdict object."""


@dataclass(frozen=True)
class Verdict:
    verdict: bool
    confidence: float
    reason: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Conversation:
    """What the judge sees of one turn: the previous exchange, this one, the next question."""

    turn_id: str
    question: str
    answer: str
    previous_question: str = ""
    previous_answer: str = ""
    next_question: str = ""


def prompt_for(kind: str, prompts: dict) -> str:
    return prompts.get(kind) or DEFAULT_PROMPTS.get(kind, "")


def prompt_hash(prompt: str) -> str:
    """The cache key's prompt part (the format instruction is part of what was asked)."""
    return hashlib.sha256(f"{prompt}\n{_VERDICT_FORMAT}".encode()).hexdigest()


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " …"


def request_body(*, model: str, prompt: str, conversation: Conversation) -> bytes:
    parts = []
    if conversation.previous_question or conversation.previous_answer:
        parts.append(f"PREVIOUS question:\n{_clip(conversation.previous_question)}\n\nPREVIOUS answer:\n{_clip(conversation.previous_answer)}")
    parts.append(f"CURRENT question:\n{_clip(conversation.question)}\n\nCURRENT answer:\n{_clip(conversation.answer)}")
    parts.append(f"NEXT message:\n{_clip(conversation.next_question) if conversation.next_question else '(none)'}")
    return json.dumps({
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": f"{prompt}\n\n{_VERDICT_FORMAT}"},
            {"role": "user", "content": "\n\n".join(parts)},
        ],
    }).encode()


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_reply(body: bytes) -> Verdict:
    """The verdict in a chat-completions response body, or ``Malformed`` saying what is wrong."""
    try:
        reply = json.loads(body)
        content = reply["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise Malformed("not a chat-completions response") from None
    if not isinstance(content, str):
        raise Malformed("the message has no text content")
    content = content.strip()
    fenced = _FENCE.match(content)
    try:
        data = json.loads(fenced.group(1) if fenced else content)
    except ValueError:
        raise Malformed("the content is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("verdict"), bool):
        raise Malformed('the content has no boolean "verdict"')
    confidence = data.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise Malformed('"confidence" is not a number from 0 to 1')
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise Malformed('"reason" is not text')
    usage = reply.get("usage") if isinstance(reply, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    return Verdict(
        verdict=data["verdict"], confidence=float(confidence), reason=_clean(reason)[:MAX_REASON],
        prompt_tokens=_count(usage.get("prompt_tokens")), completion_tokens=_count(usage.get("completion_tokens")),
    )


def _clean(text: str) -> str:
    """Text safe to store: no NUL, no lone surrogates (PostgreSQL refuses both)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else 0
