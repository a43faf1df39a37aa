"""The user asks for a human, a call back or a manager, or the customer reported ``escalation``.

A decision over cue families rather than one regex. The question is lowercased, its quoted
spans and reported speech dropped ("the app says "contact a human agent""), and its words
normalised: a misspelt cue word one edit away from a known one ("agnet", "pearson", "spek") reads
as that word, so every pattern below tolerates typos at the price of a set lookup. Then:

- request patterns, by family: ``explicit`` (talk / speak / chat to a human, agent, person …;
  a real or live person; a bare "agent pls"), ``callback`` (call / ring / phone me, a call back,
  have someone ring me), ``manager`` (a manager, supervisor, someone senior), ``implicit`` ("is
  there anyone else I can speak with", "an actual support guy I can talk to");
- look-alikes that cancel a request: negation before the cue in the same clause ("no need for
  an agent", "don't want a call back"), a question about whether the product has human agents
  ("do your customers get to talk to a human if …, or is it all bot?").

Questions about the support hours and users who already spoke to someone match no request
pattern: the patterns need a request frame (an imperative, "can I", "I want", "is there"),
not only a human noun. The per-project ``phrases`` add exact request phrases on top.
"""

from __future__ import annotations

import re

from apps.detection.detectors.base import TurnData
from apps.detection.detectors.text import WORD, folded, fuzzy_lexicon, unquoted, words

_HUMAN_WORDS = (
    "human", "person", "agent", "representative", "rep", "manager", "supervisor", "someone", "somebody", "anyone",
    "anybody", "operator", "adviser", "advisor", "officer", "staff", "people", "consultant", "colleague", "support",
    "service",
)
_CALL_WORDS = ("call", "ring", "phone", "callback", "escalate", "speak", "talk", "chat")
# Real words one edit from a cue word: never read them as its misspelling.
_NOT_TYPOS = {
    "managed", "manages", "managers", "personal", "persona", "parson", "agents", "urgent", "agency", "humane",
    "someone's", "sports", "support", "supports", "rope", "reps", "ping", "rung", "rings", "calls", "cell", "all",
    "steak", "sneak", "spear", "speaks", "chats", "chap", "chad", "cat", "hat", "phones", "shone", "phoned",
    "anyones", "officers", "people's", "staffs", "talks", "tall", "walk", "stalk", "taken", "adviser", "advisor",
    "advise", "adviser's", "operators", "operate", "humans", "persons", "agenda", "agenthe", "services", "serviced",
}
_LEXICON = fuzzy_lexicon(_HUMAN_WORDS + _CALL_WORDS, min_length=5, exclude=_NOT_TYPOS)
# Four-letter cue words ("talk", "call", "chat") tolerate only swapped letters ("tlak"): one
# substitution would turn them into common words ("tall", "cell").
# substitution would turn them into common words ("tall", "cell"); a dropped letter ("tlk") too,
# unless that leaves a real word ("all", "hat").
_SHORT_NOT_TYPOS = {"all", "hat", "cat", "rig", "tak", "tal", "cal", "rin", "ing", "cha", "ran", "rng"}
for _word in (w for w in _HUMAN_WORDS + _CALL_WORDS if len(w) == 4):
    for _i in range(4):
        if _i < 3:
            _LEXICON.setdefault(_word[:_i] + _word[_i + 1] + _word[_i] + _word[_i + 2:], _word)
        if (_dropped := _word[:_i] + _word[_i + 1:]) not in _SHORT_NOT_TYPOS:
            _LEXICON.setdefault(_dropped, _word)
# Words that a request of some family needs, after normalisation: the exact "cannot fire" test.
_NEEDED = frozenset(_LEXICON)

_H = r"(?:human|person|agent|representative|rep|operator|adviser|advisor|officer|consultant|staff|someone|somebody|anyone|anybody|people|colleague)"
_BOSS = r"(?:manager|supervisor|someone\s+senior|somebody\s+senior|someone\s+in\s+charge|team\s+lead(?:er)?|boss)"
_DET = r"(?:(?:a|an|the|your|some|any|one\s+of\s+your|someone\s+from|somebody\s+from|a\s+member\s+of)\s+)?"
_ADJ = r"(?:(?:real|live|actual|proper|human|senior|branch|account|customer\s+service|support)\s+)*"

_FAMILIES = (
    ("manager", re.compile(
        rf"\b(?:talk|speak|chat|connect|transfer|put|escalate|pass|forward|take\s+this\s+up|complain)\s+(?:me\s+|it\s+|this\s+)?"
        rf"(?:to|with|through\s+to|over\s+to)\s+{_DET}{_ADJ}(?!(?:my|our|his|her|their)\s)(?:[\w']+\s+)?{_BOSS}\b"
        rf"|\b(?:want|need|demand|like|have|get|see|give\s+me|get\s+me|bring\s+me|is\s+there)\s+(?:to\s+(?:talk|speak)\s+(?:to|with)\s+)?{_DET}{_ADJ}{_BOSS}\b"
        rf"|^\W*{_DET}{_ADJ}{_BOSS}\s*(?:please|pls|plz|now|!|\.|$)"
    )),
    ("callback", re.compile(
        r"\b(?:call|ring|phone)\s+(?:me|us)\b|\bcall\s*back\b|\bcallback\b"
        r"|\b(?:give|get)\s+me\s+a\s+(?:call|ring|phone\s+call)\b"
        r"|\b(?:someone|somebody|anyone|you|agent|person|human|rep|representative|adviser|advisor)\s+(?:to\s+|could\s+|can\s+|please\s+)?(?:call|ring|phone)\b"
        r"|\b(?:rather|prefer|like|want|need|request|book|arrange|schedule|get|have)\s+(?:a|to\s+have\s+a)\s+(?:phone\s+)?call\b"
        r"|\b(?:speak|talk)\s+(?:to\s+(?:someone|somebody|a\s+person)\s+)?(?:on|over)\s+the\s+phone\b"
        rf"|\b(?:get|put)\s+(?:me\s+)?(?:through\s+to\s+)?{_DET}{_ADJ}(?:{_H}|support)\s+on\s+the\s+phone\b"
        r"|\b(?:nobody|no\s+one|noone)\s+(?:ever\s+)?(?:answers|picks\s+up|calls?\s+(?:me\s+)?back)\b"
    )),
    ("implicit", re.compile(
        rf"\bis\s+there\b[^.?!]{{0,40}}?\b(?:{_H}|else|other|support\s+\w+)\b[^.?!]{{0,40}}?\b(?:talk|speak|chat|take\s+this\s+up|deal\s+with|contact|reach)\b"
        rf"|\b(?:can|could|may)\s+i\s+(?:please\s+)?(?:talk|speak|chat)\s+(?:to|with)\s+(?:someone|somebody|anyone)\s+else\b"
        rf"|\bsomeone\s+(?:else|who\s+can\s+actually)\b"
    )),
    ("explicit", re.compile(
        rf"\b(?:talk|speak|chat|connect|transfer|put|pass|forward|hand)\s+(?:me\s+)?(?:to|with|through\s+to|over\s+to)\s+{_DET}{_ADJ}"
        rf"(?:{_H}|support|customer\s+service|someone\s+from\s+\w+)\b"
        rf"|\b(?:real|live|actual)\s+(?:human|person|agent|people|one|support)\b"
        rf"|\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a|an|the|some)\s+(?:real|actual|live|proper)\s+\w+"
        rf"|\blive\s+chat\b"
        rf"|\bescalate\s+(?:this|my|the|it|me)\b"
        rf"|\b(?:human|customer)\s+(?:support|service)\s*(?:please|pls|now|!)"
        rf"|\b(?:want|need|demand|like|get\s+me|give\s+me|have)\s+(?:a|an|your|to\s+(?:talk|speak)\s+to\s+(?:a|an|your|someone|somebody))\s*{_ADJ}"
        rf"(?:human|person|representative|agent|operator|someone|somebody)\b"
        rf"|^\W*(?:{_H}|representative|real\s+person|live\s+agent)\s*(?:please|pls|plz|now|asap|!|\.|$)"
    )),
)

# A negation before the cue, in the same clause.
_NEGATION = re.compile(
    r"\b(?:no\s+need|don't|dont|do\s+not|doesn't|does\s+not|not|never|no|without|stop|instead\s+of|rather\s+than|won't|wont)\b"
    r"(?:\s+[\w']+){0,5}\s*$"
)
# A question about whether the product offers human agents, asked before buying or for an article.
_ABOUT_FEATURE = re.compile(
    r"\b(?:do|does|will|would|can)\s+(?:your|the|you)\s+(?:[\w']+\s+){0,3}?(?:let|allow|offer|route|give|get|have|provide)\b"
    r"[^?]*(?:\bif\b|\bor\s+is\b|\bor\s+(?:just|only)\b|\bself[\s-]service\b|\ball\s+bot\b|\bthrough\s+the\s+app\b|\bor\s+everything\b)"
    r"|\b(?:let|lets|allow|allows)\s+(?:customers|users|people|callers|clients|residents|students|tenants|members|buyers|sellers|visitors)\b"
    r"|\b(?:customers|sellers|buyers|residents|users|clients|tenants|members|landlords|students|players)\s+(?:get|can|have)\b"
    r"|\b(?:before\s+(?:i|we)\s+(?:buy|sign|join|book|subscribe)|asking\s+before|comparing|evaluating|writing\s+an?\s+article|thinking\s+of\s+joining)\b"
)
# A question about when support is open: a human noun without a request.
_HOURS = re.compile(
    r"\b(?:when|what\s+time|which\s+hours|what\s+hours|how\s+late|until\s+when)\b[^.?!]*\b(?:open|opens|available|close|closes|closed|start|staffed)\b"
    r"|\b(?:opening|business|office|support|phone|service)\s+hours\b|\b(?:lines|desk|chat|support)\s+(?:are\s+|is\s+)?open\b"
)


def _normalised(question: str) -> tuple[str, list[str], bool] | None:
    """The question's words (typos of cue words corrected, quoted spans dropped) joined by spaces,
    the corrections made and whether a quoted part was dropped; None when it holds no cue word at all (the usual question)."""
    lowered = folded(question).replace("’", "'")
    text, quoted = unquoted(lowered)
    words = WORD.findall(text)
    if _NEEDED.isdisjoint(words):
        return None
    fixes = []
    for index, word in enumerate(words):
        canonical = _LEXICON.get(word, word)
        if canonical != word:
            fixes.append(f"{word}→{canonical}")
            words[index] = canonical
    return " ".join(words), fixes, quoted


def may_escalate(question: str) -> bool:
    """False only for a question no cue family can match (a necessary condition, exact): it
    holds no cue word, nor a one-edit misspelling of one."""
    return not _NEEDED.isdisjoint(words(folded(question)))


def asked_for_human(question: str, phrases=()) -> dict | None:
    """The request found in ``question`` (family, phrase, explanation), or None."""
    normalised = _normalised(question)
    for phrase in phrases:
        if phrase and phrase in folded(question):
            return {"reason": "asked", "family": "phrase", "phrase": phrase, "explain": f"cue '{phrase}' (project phrase)"}
    if normalised is None:
        return None
    text, fixes, quoted = normalised
    for family, pattern in _FAMILIES:
        for match in pattern.finditer(text):
            clause = re.split(r"[.;!?,]|\bbut\b", text[: match.start()])[-1]
            if _NEGATION.search(clause):
                continue
            if _ABOUT_FEATURE.search(text) or _HOURS.search(text):
                return None
            phrase = match.group(0).strip()[:100]
            notes = [f"cue '{phrase}'", "not quoted" if not quoted else "outside the quoted part", "not negated"]
            if fixes:
                notes.insert(1, "misspelt " + ", ".join(fixes[:3]))
            return {"reason": "asked", "family": family, "phrase": phrase, "explain": "; ".join(notes)}
    return None


def escalation(turn: TurnData, phrases=()) -> dict | None:
    """The user asks for a human / a call / a manager, or the customer reported ``escalation``."""
    if turn.signals.get("escalation") not in (None, False, 0, ""):
        return {"reason": "signal", "explain": "reported by the application"}
    return asked_for_human(turn.question, phrases)
