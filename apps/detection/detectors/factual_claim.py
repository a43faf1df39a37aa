"""The answer states something worth auditing: a price, an amount, a date or deadline, a quote, a promise.

Not a failure (a reviewer checks it against the source; ``evaluation.FAILURE_KINDS`` leaves it
out of the lift), but the turns where a wrong answer costs most. Cue families over the answer:
``price`` (a currency with a number), ``amount`` (a percentage, a number with a unit or a count
noun), ``date`` (a day and month, a clock time, a duration or deadline) — a quote for the user's case is one
of these — and ``promise`` ("I've refunded", "we will
refund within 5 days", "nothing will be charged").

Look-alikes: order ids, booking references and versions (HD-5521, LH1800, 1.14.1, PS5) are
removed before the numbers are read; a number the user's own question holds is theirs, not the
agent's claim; vague wording ("it's usually affordable") holds no number and no promise.
"""

from __future__ import annotations

import re

from apps.detection.detectors.text import folded, words

_MONTHS = frozenset(
    "jan january feb february mar march apr april may jun june jul july aug august sep sept september oct october "
    "nov november dec december".split()
)
_TIME_UNITS = frozenset(
    "minute minutes min mins hour hours hr hrs day days week weeks month months year years night nights second seconds "
    "working business calendar".split()
)
_CURRENCY_WORDS = frozenset("eur euro euros usd dollar dollars gbp pound pounds chf kr sek nok dkk zł pln yen cent cents pence p".split())
_UNIT_WORDS = frozenset(
    "% percent per gb mb tb kb kg g km mi miles m cm mm fps kwh mbps l ml x gems points coins credits items chests bag bags "
    "pieces seats units litres liters instalments installments payments bedrooms rooms people passengers tickets copies "
    "attempts devices users players games matches lessons modules times letters".split()
)
_LIMITS = ("up to", "at least", "at most", "minimum", "maximum", "a maximum of", "a minimum of", "within")
_ID_NOUNS = frozenset(
    "order booking ref reference ticket case invoice account number no no. id code version build patch edition model "
    "season chapter level band flight room seat gate platform route line bus unit flat apartment plot lot form step "
    "windows ios android gtx rtx rx ps".split()
)
_NUMBER_TOKEN = re.compile(r"[€£$¥₹]?\d[\d,.:/–-]*(?:st|nd|rd|th|am|pm|gb|mb|kg|km|h|k|x|%)?")
_VERSION = re.compile(r"\d+\.\d+\.\d+")
_HYPHEN_ID = re.compile(r"\d{2,}-\d{2,}")
_LONG_DIGITS = re.compile(r"\d{6,}")
_EDGE = ".,;:!?()\"“”'"
_CURRENCY = "€£$¥₹"
_CURRENCY_SIGNS = frozenset(_CURRENCY)
# Claims without a digit: a promise, a deadline in words.
_WORD_CLAIMS = (
    ("date", re.compile(
        r"\bwithin\s+(?:one|two|three|four|five|six|seven|ten|twelve|fourteen|thirty)\s+(?:working\s+|business\s+)?(?:days?|weeks?|months?|hours?)\b"
        r"|\bmidnight\b"
        r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+(?:to|through|until|-|–)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
        r"|\b(?:by|until|before)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight)\b"
    )),
    ("amount", re.compile(r"\bper\s?cent\b|\b(?:two|three|four|five|six)\s+(?:months?|weeks?)\s*'?\s*(?:rent|notice)\b|\bdos\s+meses\b")),
    ("promise", re.compile(
        r"\b(?:i've|i\s+have|we've|we\s+have|i'll|i\s+will|we'll|we\s+will)\s+(?:now\s+|just\s+|also\s+|already\s+|gone\s+ahead\s+and\s+)?"
        r"(?:refunded|refund|cancelled|canceled|cancel|credited|credit|added|booked|issued|waived|reversed|arranged|scheduled|"
        r"upgraded|unlocked|reported\s+the|logged\s+your|sent\s+you|resent|email\s+you|send\s+you|replaced|reimbursed|extended|"
        r"restored|removed\s+the\s+charge|applied\s+a|put\s+you)\b"
        r"|\b(?:will|'ll)\s+be\s+(?:refunded|credited|emailed|sent|posted|applied|reimbursed|released|restored|waived|replaced|accepted)\b"
        r"|\bnothing\s+will\s+be\s+charged\b|\bis\s+(?:now\s+)?(?:cancelled|canceled|refunded)\b|\bguarantee[ds]?\b"
        r"|\bno\s+(?:[a-z]+\s+)?(?:fee|fees|charge|charges|penalty|penalties)\b|\bat\s+no\s+(?:extra\s+|additional\s+)?cost\b"
        r"|\bfree\s+of\s+charge\b|\bfull\s+refund\b|\brefunded\s+(?:in\s+full|it)\b"
    )),
)
# The cheap "cannot fire" test for the word claims: every alternative holds one of these words.
_TRIGGERS = frozenset(
    "refunded refund cancelled canceled cancel credited credit added booked issued waived reversed arranged scheduled "
    "upgraded unlocked reported logged sent resent email send replaced reimbursed extended restored removed applied put "
    "emailed posted released accepted charged guarantee guaranteed guarantees fee fees charge charges penalty penalties "
    "cost midnight monday tuesday wednesday thursday friday saturday sunday tomorrow tonight within percent cent meses".split()
)
_DIGIT = re.compile(r"\d")


def _number_claim(text: str, theirs: set[str]) -> tuple[str, str, str | None] | None:
    """The first number in ``text`` that is a claim: (family, words, what was ignored before it)."""
    ignored = None
    for match in _NUMBER_TOKEN.finditer(text):
        start, end = match.span()
        left = text.rfind(" ", 0, start) + 1
        right = text.find(" ", end)
        right = len(text) if right < 0 else right
        token = text[left:right].strip(_EDGE)
        number = match.group(0).rstrip(".,:/–-")
        before = text[max(0, left - 14):left].split()
        after = text[right:right + 24].split()
        previous, following = (before[-1].strip(_EDGE) if before else ""), (after[0].strip(_EDGE) if after else "")
        core = token.lstrip("€£$¥₹").rstrip("%")
        if (
            core != number.lstrip("€£$¥₹").rstrip("%") and not _NUMBER_TOKEN.fullmatch(core)
            or previous in _ID_NOUNS or _VERSION.fullmatch(core) or _HYPHEN_ID.fullmatch(core)
            or _LONG_DIGITS.search(core) or (following == "edition" and core[-2:] in ("st", "nd", "rd", "th"))
        ):
            ignored = "ids/versions ignored"
            continue
        digits = number.lstrip("€£$¥₹").rstrip("%")
        if digits in theirs:
            ignored = "the user's numbers ignored"
            continue
        words = f"{token} {following}".strip()
        if token[0] in _CURRENCY or following in _CURRENCY_WORDS or token[-1] in _CURRENCY or following[:1] in _CURRENCY_SIGNS:
            return "price", words, ignored
        if ":" in core or core.endswith(("am", "pm")) or following in _MONTHS or previous in _MONTHS or following in _TIME_UNITS:
            return "date", f"{previous} {words}".strip() if previous in _MONTHS else words, ignored
        if "/" in core and core != "24/7":
            return "date", words, ignored
        if core.endswith("%") or token.endswith("%") or following in _UNIT_WORDS or core[-2:] in ("gb", "mb", "kg", "km"):
            return "amount", words, ignored
        if text[max(0, start - 14):start].rstrip().endswith(_LIMITS):
            return "amount", words, ignored
    return None


def factual_claim(answer: str, question: str = "") -> dict | None:
    """The claim the answer makes (its family, the words, an explanation), or None."""
    if not answer:
        return None
    lowered = folded(answer).replace("’", "'")
    notes = []
    if _DIGIT.search(lowered) is not None:
        theirs = set(_NUMBER_TOKEN.findall(folded(question))) if question and _DIGIT.search(question) else set()
        theirs = {n.lstrip("€£$¥₹").rstrip("%.,:/–-") for n in theirs}
        found = _number_claim(lowered, theirs)
        if found is not None:
            family, claimed, ignored = found
            return {"family": family, "claim": claimed, "explain": "; ".join([f"{family} '{claimed}'", *([ignored] if ignored else [])])}
    if _TRIGGERS.isdisjoint(words(lowered)):
        return None
    for family, pattern in _WORD_CLAIMS:
        if (match := pattern.search(lowered)) is not None:
            claimed = match.group(0).strip()
            return {"family": family, "claim": claimed, "explain": f"{family} '{claimed}'"}
    return None
