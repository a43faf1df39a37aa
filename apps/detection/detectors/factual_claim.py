"""The answer states something worth auditing: a price, an amount, a date or deadline, a quote, a promise.

Not a failure (a reviewer checks it against the source; ``evaluation.FAILURE_KINDS`` leaves it
out of the lift), but the turns where a wrong answer costs most. Cue families over the answer:
``price`` (a currency with a number), ``amount`` (a percentage, a number with a unit or a count
noun), ``date`` (a day and month, a clock time, a duration or deadline), ``quote`` (a figure
quoted for the user's case: "the fare difference is …"), ``promise`` ("I've refunded", "we will
refund within 5 days", "nothing will be charged").

Look-alikes: order ids, booking references and versions (HD-5521, LH1800, 1.14.1, PS5) are
removed before the numbers are read; a number the user's own question holds is theirs, not the
agent's claim; vague wording ("it's usually affordable") holds no number and no promise.
"""

from __future__ import annotations

import re

from apps.detection.detectors.text import folded

_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_UNIT_TIME = r"(?:working\s+|business\s+|calendar\s+)?(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|nights?|seconds?)"
# Ids and versions: a word mixing letters and digits, a number after an id noun, dotted versions,
# long digit runs and hyphenated references. Replaced by "#" before any claim is looked for.
_IDS = re.compile(
    r"\b(?=[a-z0-9_-]*[a-z])(?=[a-z0-9_-]*\d)[a-z0-9]+(?:[-_/][a-z0-9]+)*\b"
    r"|#\s?\d+|\b(?:order|booking|ref|reference|ticket|case|invoice|account|number|no\.?|id|code|version|build|patch|"
    r"edition|model|season|chapter|level|band|flight|room|seat|gate|platform|route|line|bus|unit|flat|apartment|plot|lot|form|step)\s+\d[\d.-]*\b"
    r"|\bv?\d+(?:\.\d+){2,}\b|\b\d{6,}\b|\b\d{2,}(?:-\d{2,}){1,}\b|\b\d+(?:st|nd|rd|th)\s+edition\b"
)
_NUMBER = re.compile(r"\d[\d,.]*")
_FAMILIES = (
    ("price", re.compile(
        r"[€£$¥₹]\s?\d|\d[\d,.]*\s?(?:€|£|\$|eur|euros?|usd|dollars?|gbp|pounds?|chf|kr|sek|nok|dkk|zł|pln|yen|cents?|pence|p)\b"
    )),
    ("date", re.compile(
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}[:.]\d{{2}}\b"
        rf"|\b\d{{1,2}}\s?(?:am|pm)\b|\b(?!24/7\b)\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b|\b\d+(?:\s?[–-]\s?\d+)?\s+{_UNIT_TIME}\b"
        rf"|\bwithin\s+(?:one|two|three|four|five|six|seven|ten|twelve|fourteen|thirty)\s+{_UNIT_TIME}\b|\bmidnight\b"
        rf"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\s+(?:to|through|until|-|–)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
        rf"|\b(?:by|until|before|on|from)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight)\b"
    )),
    ("amount", re.compile(
        r"\d\s?%|\bper\s?cent\b|\b\d[\d,.]*(?:\s?[–-]\s?\d[\d,.]*)?\s?(?:gb|mb|tb|kb|kg|g|km|mi|miles|m|cm|mm|fps|kwh|mbps|l|ml|x)\b"
        r"|\b\d[\d,.]*(?:\s?[–-]\s?\d[\d,.]*)?\s+(?:[a-z]+\s+)?(?:gems|points|coins|credits|items|chests|bags?|pieces|seats|units|"
        r"litres|liters|instalments|installments|payments|nights|bedrooms|rooms|people|passengers|tickets|copies|attempts|"
        r"devices|users|players|games|matches|lessons|modules|credits|hours|times|per)\b"
        r"|\b(?:up\s+to|at\s+least|at\s+most|minimum|maximum|a\s+maximum\s+of|a\s+minimum\s+of)\s+\d"
        r"|\b(?:two|three|four|five|six)\s+(?:months?|weeks?)\s*(?:'|’)?\s*(?:rent|notice)\b|\bdos\s+meses\b"
    )),
    ("promise", re.compile(
        r"\b(?:i've|i\s+have|we've|we\s+have|i'll|i\s+will|we'll|we\s+will)\s+(?:now\s+|just\s+|also\s+|already\s+|gone\s+ahead\s+and\s+)?"
        r"(?:refunded|refund|cancelled|canceled|cancel|credited|credit|added|booked|issued|waived|reversed|arranged|scheduled|"
        r"upgraded|unlocked|reported\s+the|logged\s+your|sent\s+you|resent|email\s+you|send\s+you|replaced|reimbursed|extended|"
        r"restored|removed\s+the\s+charge|applied\s+a|put\s+you)\b"
        r"|\b(?:will|'ll)\s+be\s+(?:refunded|credited|emailed|sent|posted|applied|reimbursed|released|restored|waived|replaced|accepted)\b"
        r"|\bnothing\s+will\s+be\s+charged\b|\bis\s+(?:now\s+)?(?:cancelled|canceled|refunded)\b|\bguarantee[ds]?\b"
        r"|\bno\s+(?:[a-z]+\s+)?(?:fee|fees|charge|charges|penalty|penalties)\b|\bat\s+no\s+(?:extra\s+|additional\s+)?cost\b|\bfree\s+of\s+charge\b|\bfull\s+refund\b|\brefunded\s+(?:in\s+full|it)\b"
    )),
)
# The cheap "cannot fire" test: every family needs a digit or one of these words.
_HINTS = ("refund", "cancel", "credit", "guarant", "will", "'ll", "'ve", " have ", "no ", "cost",
          "free of", "midnight", "per cent", "percent", "day", "to ", "by ", "until", "before", "on ", "from ", "meses",
          "month", "week", "night", "hour", "year")


def factual_claim(answer: str, question: str = "") -> dict | None:
    """The claim the answer makes (its family, the words, an explanation), or None."""
    if not answer:
        return None
    lowered = folded(answer).replace("’", "'")
    has_digit = _DIGIT.search(lowered) is not None
    if not has_digit and not any(hint in lowered for hint in _HINTS):
        return None
    notes = []
    if has_digit:
        text = _IDS.sub("#", lowered)
        if text != lowered:
            notes.append("ids/versions ignored")
        theirs = set(_NUMBER.findall(folded(question))) if question and _DIGIT.search(question) else ()
        if theirs:
            text = _NUMBER.sub(lambda m: "#" if m.group(0).rstrip(".,") in theirs or m.group(0) in theirs else m.group(0), text)
            notes.append("the user's numbers ignored")
    else:
        text = lowered
    for family, pattern in _FAMILIES:
        if (match := pattern.search(text)) is not None:
            words = match.group(0).strip()
            return {"family": family, "claim": words, "explain": "; ".join([f"{family} '{words}'", *notes])}
    return None


_DIGIT = re.compile(r"\d")
