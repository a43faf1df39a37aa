"""The user says in plain words that the agent is not helping: a decision over cue families.

Families, over the user's message: ``explicit`` ("useless", "you're not helping", "you keep
dodging"), ``repeat`` ("you already said that", "third time I'm asking", "again:"), ``sarcasm``
(an ironic opener — "oh great," "brilliant," — with a second marker: the agent's words in quotes,
"again", "thanks a lot", "what a surprise"), ``caps`` (shouting: several words in capitals, or,
in a reply to an answer, one capitalised emphasis word such as NOT or WHERE).

Look-alikes it leaves alone: frustration at the user's own situation ("my flight got cancelled,
this is a nightmare" names no agent failing), polite complaints (no cue), and capitalised
acronyms (HTML, VPN, IBAN, PS5): a lone capitalised word counts only when it is a common English
emphasis word, and only in a reply to an answer — a first message cannot be annoyed with answers
it has not had yet, unless it shouts.
"""

from __future__ import annotations

import re

import unicodedata

from apps.detection.detectors.text import Cues, folded, words


def _ascii(text: str) -> str:
    """``text`` without accents ("inútil" → "inutil")."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()

_EXPLICIT = re.compile(
    r"\b(?:not|isn't|aren't|wasn't|never|stop\s+not)\s+(?:being\s+|very\s+|at\s+all\s+)?(?:helping|helpful|listening|reading)\b"
    r"|\b(?:useless|pointless|unhelpful|hopeless|incompetent|ridiculous|rubbish|dodging)\b|\bwaste\s+of\s+(?:my\s+)?time\b"
    r"|\byou\s+(?:keep|kept)\s+(?:\w+ing)\b|\bwhy\s+do\s+you\s+keep\b|\bare\s+you\s+(?:even|a\s+bot|serious|kidding|joking|stupid|real)\b"
    r"|\b(?:stupid|dumb|useless|worthless)\s+(?:bot|chatbot|ai|assistant|machine)\b|\b(?:doesn't|didn't|does\s+not|did\s+not)\s+(?:help|answer)\b"
    r"|\bread\s+my\s+(?:message|question)\b|\byou\s+(?:don't|do\s+not)\s+understand\b"
    r"|\b(?:you're|you\s+are)\s+not\s+able\s+to\s+(?:answer|help|understand)\b|\bcan't\s+even\b|\bcannot\s+even\b"
    r"|\bthanks\s+for\s+nothing\b|\bnot\s+(?:an\s+)?answer(?:ing)?\s+(?:my|the)\s+question\b"
    # a negative verdict on the agent or its answers
    r"|\b(?:you|you're|you\s+are|ur|u\s+r|this\s+(?:bot|chat|chatbot|assistant|ai)|the\s+(?:bot|chatbot|assistant|ai)|"
    r"your\s+(?:answers?|replies|responses|help|bot|assistant|ai|chat)|these\s+(?:answers|replies)|(?:that|this)\s+(?:answer|reply|response))"
    r"\s+(?:is\s+|are\s+|was\s+|were\s+|'re\s+)?(?:so\s+|really\s+|completely\s+|totally\s+|absolutely\s+|actually\s+|literally\s+|just\s+|"
    r"such\s+a\s+|a\s+|an\s+|being\s+|of\s+)*(?:garbage|trash|pathetic|clueless|worthless|terrible|awful|no\s+help|no\s+use|a\s+joke|joke|"
    r"frustrating|infuriating|annoying|impossible|broken|dense|thick|going\s+in\s+circles)\b"
    r"|\b(?:you|u)\s+(?:don't|do\s+not|didn't|did\s+not|never|clearly\s+don't|obviously\s+don't|just\s+don't)\s+(?:get\s+it|listen|read|answer|help|care)\b"
    r"|\b(?:did|do|can)\s+(?:you|u)\s+even\s+(?:read|listen|understand)\b|\bdid\s+(?:you|u)\s+(?:read|listen\s+to)\s+(?:my|what)\b"
    r"|\bare\s+you\s+(?:even\s+)?(?:reading|listening)\b"
    r"|\b(?:just|simply)\s+answer\s+(?:the|my)\s+(?:question|q)\b|\banswer\s+(?:the|my)\s+(?:damn|bloody|fucking|actual|simple)\s+question\b"
    r"|\bstop\s+(?:avoiding|dodging|ignoring|deflecting|sending\s+me|giving\s+me|repeating)\b|\b(?:like\s+)?talking\s+to\s+a\s+(?:brick\s+)?wall\b"
    r"|\bwhat(?:'s|\s+is)\s+wrong\s+with\s+(?:you|this\s+bot|this\s+chat)\b|\b(?:makes|made)\s+no\s+sense\b|\bdoesn't\s+make\s+(?:any\s+)?sense\b"
    r"|\b(?:did|do)\s+(?:you|u)\s+(?:seriously|really|honestly)\s+not\b|\b(?:you|u)\s+(?:seriously|really|honestly)\s+(?:don't|can't|cannot)\b"
    r"|\b(?:instead\s+of|stop|keep|quit)\s+(?:just\s+)?(?:sending|giving|pointing|linking|throwing)\s+(?:me\s+)?(?:to\s+)?(?:more\s+|the\s+|your\s+)?(?:help\s+)?(?:articles|links|faqs?|the\s+faq|help\s+pages|scripts?)\b"
    r"|\breading\s+(?:me\s+)?(?:a|the|from\s+a)\s+script\b"
    r"|\bgo\s+(?:round|around)\s+in\s+circles\s+with\s+you\b|\bwhy\s+(?:can't|won't|don't)\s+you\s+(?:just|ever)\b"
    # es / de / fr / pt (accents dropped)
    r"|\b(?:inutil|no\s+sirves|no\s+me\s+ayudas|no\s+ayudas|nutzlos|sinnlos|hilft\s+(?:mir\s+)?(?:nicht|kein\s+bisschen)|bringt\s+nichts|"
    r"ne\s+sert\s+a\s+rien|tu\s+ne\s+comprends\s+rien|vous\s+ne\s+comprenez\s+rien|nao\s+(?:ajuda|serve\s+para\s+nada)|voce\s+nao\s+entende)\b"
)
# Only in a reply to an answer: "what do you mean not able??" questions what the agent just said.
_REPLY_EXPLICIT = re.compile(r"^\W*(?:what\s+do\s+you\s+mean|what\?+|huh\?+|seriously\?+)")
_REPEAT = re.compile(
    r"\b(?:i|i've|i\s+have)\s+(?:already|just)\s+(?:told|said|asked|explained|gave|answered)\b|\b(?:already|just)\s+told\s+you\b"
    r"|\byou\s+(?:already|just)\s+(?:said|told|asked|gave)\b|\b(?:exact\s+)?same\s+thing\s+(?:again|already|twice)\b"
    r"|\b(?:second|third|fourth|fifth|tenth|hundredth|millionth|umpteenth|nth|\d+(?:st|nd|rd|th))\s+time\s+(?:that\s+)?(?:i'm\s+|i\s+am\s+|i've\s+|i\s+have\s+|you've\s+|you\s+have\s+|you're\s+|you\s+are\s+|i\s+|you\s+)?"
    r"(?:asking|asked|telling|told|saying|said|explaining|explained|sent|given|suggested|repeated|typing|typed|writing|written)\b"
    r"|\bhow\s+many\s+(?:more\s+)?times\s+(?:do|have|must|should|will|are|did)\s+(?:i|you)\b|\bstop\s+(?:repeating|saying\s+the\s+same|asking\s+me)\b"
    r"|\b(?:you(?:'ve|\s+have)?|u)\s+(?:already|just)\s+(?:said|told|asked|sent|gave|given|suggested|mentioned)\b"
    r"|\bsame\s+(?:answer|reply|response|link|article|message|thing)\s+(?:again|over\s+and\s+over|every\s+time|as\s+before)\b"
    r"|\b(?:as|like)\s+i\s+(?:already\s+)?(?:said|told\s+you|explained|mentioned|wrote)\s+(?:already|before|twice|earlier|above)\b"
    r"|\b(?:asked|told\s+you|said)\s+(?:[\w']+\s+){0,6}?(?:twice|(?:two|three|four|five|several|many|\d+)\s+times)\b"
    r"|\basking\s+again\b|\bsame\s+(?:answer|thing|reply)\s+again\b"
)
# Only in a reply: "for the third time" about asks, not about the user's repeated bad luck.
_REPLY_REPEAT = re.compile(r"\b(?:for\s+the\s+)?(?:second|third|fourth|fifth|tenth|\d+(?:st|nd|rd|th))\s+time\b")
_IRONIC_OPENER = re.compile(
    r"^\W*(?:oh\s+|wow\s+|ah\s+|yeah\s+)*(?:great|brilliant|fantastic|nice|perfect|wonderful|lovely|awesome|amazing|super|cool|wow)\b\s*[,.!]"
)
_SARCASM_MARKER = re.compile(
    r"[\"“”]|\bagain\b|\banother\b|\bthanks\s+a\s+lot\b|\bwhat\s+a\s+surprise\b|\bnever\s+thought\b|\bvery\s+helpful\b"
    r"|\bso\s+helpful\b|\blove\s+it\b|\bas\s+usual\b|\bof\s+course\b|\bthanks\s+for\s+that\b|\bcheers\b"
    r"|\b(?:really|super|extremely|incredibly)\s+(?:helpful|useful)\b|\bmuch\s+appreciated\b|\bwho\s+(?:would\s+have|knew|could\s+have)\b"
    r"|\b(?:very|so|really|super|most)\s+(?:informative|useful|clear|insightful|enlightening)\b|(?<!\w)'(?=\w)|(?<=\w)'(?!\w)"
    r"|\bfor\s+the\s+\w+\s+(?:day|time|week)\s+(?:running|in\s+a\s+row)\b|\b\d+(?:st|nd|rd|th)\s+(?:day|time|week)\b"
    r"|\bbig\s+surprise\b|\bshocker\b|\bcan't\s+even\b|\bcannot\s+even\b|\bjust\s+what\s+i\s+needed\b|\bexactly\s+what\s+i\s+(?:asked|needed)\b"
)
# Sarcasm without an opener: mock praise of the agent or the system ("Genius system.", "great job
# of not answering", "thanks for the useful link … not").
_MOCK_PRAISE = re.compile(
    r"\b(?:genius|brilliant|stellar|amazing|fantastic|wonderful|great|excellent|top\s+notch|world\s+class|five\s+star)\s+"
    r"(?:system|design|bot|assistant|ai|chatbot|service|support|idea|logic)\s*[.!?]*\s*$"
    r"|\b(?:great|fantastic|brilliant|amazing|wonderful|excellent|good|fine|stellar)\s+job\s+(?:of|at|on)\s+(?:not|ignoring|avoiding|dodging|missing)\b"
    r"|\b(?:so|very|really)\s+(?:helpful|useful)\s*(?:\.\s*)?(?:not|/s)\b|\bwell\s+done\s*,?\s+(?:you|really|bot)\b|\bslow\s+clap\b"
    r"|\bthanks\s+for\s+(?:the|your)\s+(?:[\w']+\s+){0,2}(?:help|link|answer|article)\s*,?\s*(?:not|/s|i\s+guess)\b"
)
# Capitalised words that are emphasis, not acronyms (HTML, VPN, IBAN, LOL stay out of this list).
_EMPHASIS = frozenset(
    "NOT NO YES NEVER WHERE WHEN WHY HOW WHAT WHO WHICH MUCH MANY AGAIN ALREADY STILL KNOW ASKED TOLD SAID SAYING ASK "
    "MY YOUR YOU ME IS ARE WAS DID DO DOES DON'T DIDN'T HAVE HAS HAD NOW ALL ANY EVERY ONE TWO THREE FOUR FIVE TIMES TIME "
    "PLEASE HELP STOP WANT NEED JUST ONLY EVEN THIS THAT THE AND OR BUT IT THERE HERE WORK WORKING WRONG MONEY REFUND "
    "ORDER FOOD THING THINGS NOTHING ANSWER QUESTION READ LISTEN CANCEL GIVE BACK ACTUALLY REALLY "
    "OÙ QUAND COMMENT POURQUOI MAINTENANT WO WANN WIE WARUM JETZT NICHT DÓNDE DONDE CUÁNDO CUANDO CÓMO AHORA ONDE QUANDO "
    "COMO AGORA NÃO".split()
)
# Capitalised words that are names, not stress (a reply's lone capitalised word of four letters
# or more with a vowel counts as stress unless it is one of these).
_ACRONYMS = frozenset(
    "IBAN ESTA NASA ASAP AVIOS PAYE ISAS OFCOM OFGEM ACAS DVLA HMRC NHS BIOS UEFA FIFA NATO SEPA SWIFT IATA EDIT "
    "VISA AMEX JPEG HTTP HTTPS UEFI OAUTH SAML OKTA AZURE RAID YAML JSON ASCII UNICEF MOT LOL LMAO OMG ROFL WIFI "
    "COVID ADHD AIDS".split()
)
_VOWELS = re.compile("[AEIOUYÀ-ÖØ-Ý]")
# Words that set up a contrast or a repair, after which one capitalised word is stress.
_CONTRAST = frozenset("no not but asked said meant told asking mais aber pero mas nein non".split())
# Words after which capitals quote a screen or a message ("it says ACCOUNT NOT FOUND").
_QUOTING = frozenset("says said saying shows showing reads reading displays error message label button status".split())
# The ones that stress on their own ("it is NOT there"); "MY" or "THE" alone is not shouting.
_STRESS = _EMPHASIS - frozenset("MY YOUR ME IS ARE THIS THAT THE AND OR BUT IT THERE HERE ONE TWO THREE FOUR FIVE".split())


# Searched alternative by alternative, each only when its first word is in the message (``Cues``).
_EXPLICIT, _REPEAT, _MOCK_PRAISE = Cues(_EXPLICIT.pattern), Cues(_REPEAT.pattern), Cues(_MOCK_PRAISE.pattern)

# Exact "cannot match" test for ``_EXPLICIT`` and ``_REPEAT``: each alternative holds one of these
# words (the ironic opener and the reply cues are anchored at the start, cheap to try).
_KEYWORDS = frozenset(
    "helping helpful listening reading useless pointless unhelpful hopeless incompetent ridiculous rubbish dodging waste "
    "keep kept even bot serious kidding joking stupid real chatbot ai assistant machine help answer message question "
    "understand nothing answering told said asked explained gave answered time twice times again same even "
    "garbage trash pathetic clueless worthless terrible awful use joke frustrating infuriating annoying impossible broken "
    "dense thick circles get listen read care reading answer stop wall wrong sense seriously really honestly why "
    "already just mentioned wrote inutil sirves ayudas nutzlos sinnlos hilft bringt sert comprends comprenez ajuda serve "
    "entende "
    "instead keep quit reading script".split()
)
_TWO_CAPITALS = re.compile(r"[A-Z][A-Z]")


def _caps(question: str, *, reply: bool) -> str | None:
    """The shouted words, if the message shouts (or, in a reply, stresses one emphasis word)."""
    if _TWO_CAPITALS.search(question) is None and (question.isascii() or not _any_two_capitals(question)):
        return None
    run, best = [], []
    emphasis = []
    stressed = []  # in a reply, a capitalised ordinary word ("not collect, DELIVER"), not an acronym
    quoting = False  # right after "it says", capitals are the screen's words, not shouting
    contrast = False  # a lone stressed word needs a contrast before it ("not collect, DELIVER", "i asked how LONG")
    for token in question.split():
        word = token.strip(".,;:!?()\"“”'‘’")
        if word and word != "I" and word.isalpha() and word.isupper() and (len(word) > 1 or run):
            if quoting:
                continue
            run.append(word)
            if word in _EMPHASIS:
                emphasis.append(word)
            elif contrast and len(word) >= 4 and word not in _ACRONYMS and _VOWELS.search(word):
                stressed.append(word)
        elif word:
            lowered = word.lower()
            quoting = lowered in _QUOTING
            contrast = contrast or lowered in _CONTRAST
            if word != "I":
                if len(run) > len(best):
                    best = run
                run = []
    if len(run) > len(best):
        best = run
    if len(best) >= 3 or len(emphasis) >= 2 or (reply and (not _STRESS.isdisjoint(emphasis) or stressed)):
        return " ".join(best if len(best) >= 2 else emphasis or stressed)
    return None


def _any_two_capitals(text: str) -> bool:
    return any(a.isupper() and b.isupper() for a, b in zip(text, text[1:]))


def frustration(question: str, *, reply: bool) -> dict | None:
    """The user is annoyed with the agent; ``reply``: the message follows an answer in its session."""
    if not question:
        return None
    lowered = folded(question)
    if "’" in lowered:
        lowered = lowered.replace("’", "'")
    if not lowered.isascii():
        lowered = _ascii(lowered)
    context = "a reply to an answer" if reply else "first message"
    tokens = set(words(lowered))
    keyworded = not _KEYWORDS.isdisjoint(tokens)
    for family, pattern in (("explicit", _EXPLICIT), ("repeat", _REPEAT)):
        if keyworded and (match := pattern.search(lowered, tokens)):
            return {"family": family, "cue": match.group(0), "explain": f"cue '{match.group(0).strip()}'; {context}"}
    if reply and keyworded and (match := _REPLY_REPEAT.search(lowered)):
        return {"family": "repeat", "cue": match.group(0), "explain": f"cue '{match.group(0).strip()}'; {context}"}
    if reply and (match := _REPLY_EXPLICIT.match(lowered)):
        return {"family": "explicit", "cue": match.group(0), "explain": f"cue '{match.group(0).strip()}'; {context}"}
    if (match := _MOCK_PRAISE.search(lowered, tokens)):
        return {"family": "sarcasm", "cue": match.group(0), "explain": f"mock praise '{match.group(0).strip(' .!?')}'; {context}"}
    if (opener := _IRONIC_OPENER.match(lowered)) and (marker := _SARCASM_MARKER.search(lowered, opener.end())):
        return {"family": "sarcasm", "cue": opener.group(0).strip(),
                "explain": f"ironic '{opener.group(0).strip(' ,.!')}' with '{marker.group(0)}'; {context}"}
    if shouted := _caps(question, reply=reply):
        return {"family": "caps", "cue": shouted, "explain": f"capitals '{shouted}'; {context}"}
    return None
