"""The answer declines or deflects without helping: a decision over cue families.

Cues, over the answer:

- ``explicit``: one of the project's phrases ("i don't know", "contact support" …; editable on
  the Detectors tab), found whole-word behind an exact prefilter (``phrase_search``);
- ``refusal``: "I can't / I'm not able to share, discuss, process, see …" without the stock words;
- ``implicit``: a deflection ("you may want to check our website", "that's outside what I can
  look at", "please try again later") or a short vague non-answer ("it depends on your
  situation", "fees vary") — short, without a number, or restating the question.

Look-alikes that cancel a cue:

- the cue is quoted or reported ("you wrote 'I don't know' on the form");
- a clarifying question ("I don't know which account you mean — savings or current?");
- the answer helps anyway: substantive content outside the declining clause ("I'm not sure
  about Scotland, but in England a death must be registered within 5 days"), or a complete
  answer that then mentions support ("… If the upload fails, contact support") — the
  completeness check counts the words of the sentences that neither decline nor deflect.
"""

from __future__ import annotations

import re
from functools import lru_cache

from apps.detection.detectors.text import folded, unquoted, words


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
    ``folded``) cannot match, so the regex (about 4 µs on a typical answer, scanning every
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
        lowered = folded(answer)
        for needle in needles:
            if needle in lowered:
                return search(answer)
        return None

    return prefiltered


_REFUSAL = re.compile(
    r"\b(?:i|we)(?:\s+|'m\s+|\s+am\s+|'re\s+|\s+are\s+)(?:can't|cannot|can\s+not|not\s+able\s+to|unable\s+to|won't\s+be\s+able\s+to|"
    r"not\s+allowed\s+to|not\s+permitted\s+to|don't|do\s+not)\s+(?:\w+\s+)?"
    r"(?:share|discuss|comment|process|see|access|view|make|book|provide|disclose|help|assist|answer|handle|look|check|give|issue|"
    r"change|cancel|refund|do|go\s+into|reveal|release|confirm)\b"
    r"|\b(?:i|we)\s+(?:don't|do\s+not|didn't|did\s+not)\s+(?:have|hold|keep|get)\s+(?:that|this|the|any|those|these|such)\s+"
    r"(?:information|info|details|data|figures|numbers)\b"
)
_DEFLECT = re.compile(
    r"\byou\s+(?:may|might|could)\s+(?:want|wish|need)\s+to\s+(?:check|look|contact|ask|visit|reach|try)\b"
    r"|\b(?:check|visit|see|consult)\s+(?:our|the)\s+(?:website|site|faq|faqs|help\s+(?:centre|center|page|pages)|support\s+page)\b"
    r"|\boutside\s+(?:what|the\s+scope|my\s+scope)|\bnot\s+something\s+i\s+can\b|\bbeyond\s+what\s+i\s+can\b"
    r"|\bi\s+(?:can|am\s+able\s+to)\s+only\b|\bi\s+can\s+only\s+(?:help|assist)|\bonly\s+(?:help|assist)\s+with\b"
    r"|\b(?:please\s+)?try\s+again(?:\s+later)?\s*[.!]?\s*$|\bfor\s+more\s+information\b|\brefer\s+to\s+(?:our|the)\b"
    r"|(?:^|[.!?—–]\s*)\W*please\s+(?:visit|call|contact|speak\s+to|ask|email|phone|get\s+in\s+touch\s+with|reach\s+out\s+to)\b"
    r"|\b(?:can't|cannot|can\s+not)\s+be\s+\w+\s+(?:here|in\s+this\s+chat|by\s+me|online|through\s+this\s+chat)\b"
    r"|\bask\s+(?:them|the\s+\w+)\s+directly\b|\b(?:it's|that's|it\s+is)\s+up\s+to\b|\bcan't\s+see\b|\bcannot\s+see\b"
)
_VAGUE = re.compile(
    r"\b(?:vary|varies|varied|depends|depend|depending|subject\s+to|(?:many|several|various|a\s+number\s+of|a\s+range\s+of|different)\s+(?:factors|reasons|things)|sometimes|may\s+suit|case[\s-]by[\s-]case|"
    r"reviewed\s+(?:regularly|periodically|twice|every|each|once)|competitive|reasonable|in\s+line\s+with|generous|"
    r"makes\s+a\s+real\s+difference|set\s+by\s+(?:each|the)|published\s+on|calculated\s+based|a\s+few\s+things|"
    r"once\s+(?:[\w']+\s+){0,5}(?:done|complete|completed|finished|processed|ready))\b"
)
# A question back to the user that asks for what the agent needs to answer.
_CLARIFYING = re.compile(
    r"\b(?:which|what)\b[^.!?]{0,80}\?|\b(?:do|did)\s+you\s+mean\b|\b(?:could|can|would)\s+you\s+(?:please\s+)?"
    r"(?:give|tell|share|send|confirm|check|let\s+me\s+know|say|clarify)\b[^.!?]{0,120}\?|\bare\s+you\s+(?:on|using|asking|in|travelling|flying)\b[^.!?]{0,80}\?"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s+(?=\bbut\b|\bhowever\b|\bthough\b)|:\s+|;\s+|\s+[—–-]\s+")
_APOLOGY = re.compile(
    r"^\W*(?:sorry|i'm\s+sorry|i\s+am\s+sorry|apologies|unfortunately|thanks|thank\s+you|hi|hello|great\s+question|good\s+question|"
    r"no\s+problem|of\s+course|sure)\W*$"
)
_QUANTITY_QUESTION = re.compile(
    r"\b(?:how\s+much|how\s+many|how\s+long|(?<![\w\s])\s*when|^when|what\s+time|what\s+date|which\s+date|what\s+percent|what\s+(?:is|'s|are)\s+the\s+"
    r"(?:price|cost|fee|fees|rent|rate|deadline|drop\s+rate|date)|whens|whats\s+the\s+(?:price|cost|fee|rent|rate|deadline|drop\s+rate)|"
    r"price|cost|percent|deadline)\b"
)
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|half|free|today|tomorrow|"
                     r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|july|"
                     r"august|september|october|november|december|week|weeks|month|months|year|years|day|days|hour|hours)\b")
_SUBSTANCE_WORDS = 10  # words outside the declining sentences that make the answer help anyway


def _clauses(text: str) -> list[str]:
    return [c for c in _SENTENCE.split(text) if c and c.strip()]


def _helps_anyway(clauses: list[str], declining) -> int:
    """Words in the clauses that neither decline nor deflect nor only apologise."""
    words = 0
    for clause in clauses:
        if declining(clause) or _APOLOGY.match(clause):
            continue
        words += len(clause.split())
    return words


# Exact "cannot match" words for the refusal, deflection and vague families: each alternative of
# those patterns holds one of them as a whole word, so an answer holding none skips the patterns.
_CUE_WORDS = frozenset(
    "t cannot unable not "
    "want wish need website site faq faqs help support outside something beyond only again information refer directly up "
    "vary varies varied depends depend depending subject factors case reviewed competitive reasonable line generous "
    "difference set published calculated things once please reasons sometimes suit".split()
)
# Words without which ``_QUANTITY_QUESTION`` cannot match.
_QUANTITY_WORDS = frozenset("much many long when whens time date percent price cost fee fees rent rate deadline".split())
_SHORT_ANSWER = 160  # characters: past this, an answer without a cue is not a vague non-answer


def agent_punted(answer: str, phrases, question: str = "") -> dict | None:
    """The answer declines or deflects without helping; ``phrases`` is the project's list."""
    search = phrase_search(tuple(phrases))
    text = folded(answer)
    if "’" in text:
        text = text.replace("’", "'")
    explicit = search(text) if search is not None else None
    cued = not _CUE_WORDS.isdisjoint(words(text))
    refusal = explicit is None and cued and _REFUSAL.search(text)
    deflect = explicit is None and cued and not refusal and _DEFLECT.search(text)
    short = len(text) <= _SHORT_ANSWER and _DIGIT.search(text) is None
    vague = short and cued and _VAGUE.search(text)
    unanswered = (  # a short answer without a number to a question that asks for one
        short and explicit is None and not refusal and not deflect and not vague
        and not _QUANTITY_WORDS.isdisjoint(words(lowered_question := folded(question)))
        and _QUANTITY_QUESTION.search(lowered_question) and not _NUMBER.search(text)
    )
    if explicit is None and not refusal and not deflect and not vague and not unanswered:
        return None  # the usual answer
    stripped, quoted = unquoted(text, reported=False)
    if _CLARIFYING.search(stripped):
        return None
    if stripped != text:  # the cue may have been inside the quotes: look again without them
        explicit = search(stripped) if search is not None else None
        refusal = explicit is None and _REFUSAL.search(stripped)
        deflect = explicit is None and not refusal and _DEFLECT.search(stripped)
        vague = short and _VAGUE.search(stripped)

    def declining(clause: str) -> bool:
        return bool((search is not None and search(clause)) or _REFUSAL.search(clause) or _DEFLECT.search(clause))

    clauses = _clauses(stripped)
    quoted_note = "outside the quoted part" if quoted else "not quoted"
    if explicit is not None or refusal or deflect:
        helpful_words = _helps_anyway(clauses, declining)
        if helpful_words >= _SUBSTANCE_WORDS:
            return None
        found = explicit or refusal or deflect
        family = "explicit" if explicit is not None else "refusal" if refusal else "implicit"
        phrase = found.group(0).strip()
        return {"phrase": phrase, "family": family,
                "explain": f"cue '{phrase}'; {quoted_note}; no clarifying question; {helpful_words} helpful words besides"}
    length = len(stripped.split())
    if vague and _helps_anyway(clauses, _VAGUE.search) < _SUBSTANCE_WORDS:
        return {"phrase": vague.group(0), "family": "implicit",
                "explain": f"vague '{vague.group(0)}'; {length} words, no number; no clarifying question"}
    if unanswered:
        return {"phrase": "", "family": "implicit",
                "explain": f"question asks for a number or date; the answer ({length} words) gives none"}
    return None


_DIGIT = re.compile(r"\d")
