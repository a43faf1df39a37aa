"""The answer patterns both the punt cues (``agent_punted``) and the punt model (``punt_model``)
read: a clarifying question, a courtesy-only clause, a figure or date, a definite yes/no, and the
split of an answer into clauses. Kept apart so that the model reads them without importing the
cue module that calls it."""

from __future__ import annotations

import re

# A question back to the user that asks for what the agent needs to answer.
_CLARIFYING = re.compile(
    r"\b(?:which|what)\b[^.!?]{0,80}\?|\b(?:do|did)\s+you\s+mean\b|\b(?:could|can|would)\s+you\s+(?:please\s+)?"
    r"(?:give|tell|share|send|confirm|check|let\s+me\s+know|say|clarify|provide|describe)\b[^.!?]{0,120}\?|\bare\s+you\s+(?:on|using|asking|in|travelling|flying)\b[^.!?]{0,80}\?"
    r"|\b(?:is|was|does|did)\s+(?:it|this|that|she|he|the\s+\w+)\b[^.!?]{0,80}\bor\b[^.!?]{0,60}\?"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s+(?=\bbut\b|\bhowever\b|\bthough\b)|:\s+|;\s+|\s+[—–-]\s+|,\s+(?=so\b)")
# Clauses that carry nothing: apology, thanks, empathy, sign-offs.
_APOLOGY = re.compile(
    r"^\W*(?:sorry|i'm\s+sorry|i\s+am\s+sorry|apologies|unfortunately|thanks|thank\s+you|hi|hello|great\s+question|good\s+question|"
    r"no\s+problem|of\s+course|sure|(?:i'm\s+|i\s+am\s+|so\s+)?sorry\s+to\s+hear\s+(?:that|this|about\s+that)|i\s+understand(?:\s+(?:how|your|that|why)[^.!?]*)?|"
    r"thanks\s+for\s+(?:reaching\s+out|your\s+(?:patience|message|question)|asking|contacting\s+us)|(?:is\s+there\s+)?anything\s+else(?:\s+i\s+can\s+help\s+with)?|"
    r"hope\s+(?:this|that)\s+helps|happy\s+to\s+help|let\s+me\s+know\s+if[^.!?]*|that's\s+(?:a\s+)?(?:great|good)\s+question|"
    r"lo\s+siento|leider|d[ée]sol[ée]|desculpe|perd[oó]n|entschuldigung)\W*$"
)
_NUMBER = re.compile(r"\d|[%€£$¥]|(?<!\bper\s)\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|"
                     r"half|free|today|tomorrow|tonight|yesterday|monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|"
                     r"march|april|may|june|july|august|september|october|november|december|week|weeks|month|months|year|years|day|days|"
                     r"hour|hours|minute|minutes|instant|instantly|immediately|overnight|nothing|unlimited|never|always|anytime|"
                     r"no\s+(?:charge|cost|extra|fee)|straight\s+away|right\s+away|same\s+day|next\s+day|per\s+cent|percent|"
                     r"as\s+long\s+as|lifetime|for\s+life|forever|permanent|permanently|indefinitely)\b")
# A definite yes or no: an answer that hedges first and then commits ("it depends … so yes, it's included").
_VERDICT = re.compile(r"(?:^|[.!?—–:]\s*|\bso\s+|\bthen\s+)\W*(?:yes|no|yep|nope|yeah)\b")


def _clauses(text: str) -> list[str]:
    return [c for c in _SENTENCE.split(text) if c and c.strip()]
