"""The answer declines or deflects without helping: a decision over cue families.

Cues, over the answer:

- ``explicit``: one of the project's phrases ("i don't know", "contact support" …; editable on
  the Detectors tab), found whole-word behind an exact prefilter (``phrase_search``);
- ``refusal``: "I can't / I'm not able to / I have no way to …", "I have no visibility of …",
  "I'm just a virtual assistant", without the stock words (and in es/de/fr/pt);
- ``implicit``: a deflection to another party or page ("you'd need to check with the airline",
  "your landlord can help with that", "refunds are handled by the ticket provider", "that's
  outside what I can help with", "please try again later"); in a short answer without a number,
  vague or marketing wording in place of an answer ("fees vary", "it depends", "we love
  welcoming guests of all kinds!"); a request for "more details" that names nothing the agent
  needs; no figure for a short "how much / how long / when" question.

Look-alikes that cancel a cue:

- the cue is quoted or reported ("you wrote 'I don't know' on the form");
- a clarifying question that names what it needs ("I don't know which account you mean —
  savings or current?");
- a deflection given as a contingency ("if it has not arrived by Friday, contact the courier");
- a hedge that then commits ("it depends on your cover — you have it, so yes");
- the answer helps anyway: substantive content outside the declining clause ("I'm not sure
  about Scotland, but in England a death must be registered within 5 days"), an action taken
  ("I've cancelled it"), a figure, or a complete answer that then mentions support — the
  completeness check counts the words of the sentences that neither decline nor deflect.

Each family is searched alternative by alternative (``Cues``): an alternative runs only when the
words it needs are in the answer.

The cue decision (``_rule``) is not the last word: it is one input of the punt model
(``punt_model``), with each family's raw match and the answer's shape against the question, so
that a deflection without any stock words ("there are good bus links across the city" to "how
far is the stadium") can still be told by what the answer lacks.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from apps.detection.detectors import punt_model
from apps.detection.detectors.punt_patterns import _APOLOGY, _CLARIFYING, _NUMBER, _SENTENCE, _VERDICT, _clauses  # noqa: F401 (read here and by the tests)
from apps.detection.detectors.text import Cues, folded, unquoted, words


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

    Given ``tokens`` (the set of ``words`` of the answer, already ``folded``), the test is one
    set operation instead: each phrase's longest word must be one of them — a match spans the
    phrase whole-word, so its words are whole runs of a–z and 0–9 in the answer too. A phrase
    without a word turns that test off.
    """
    pattern = _phrase_pattern(phrases)
    if pattern is None:
        return None
    needles = []
    for phrase in phrases:
        runs = [run.strip() for piece in phrase.split("'") for run in _ASCII_RUN.findall(piece)]
        needle = max(runs, key=len, default="").lower()
        if len(needle) < 3:
            needles = None
            break
        needles.append(needle)
    if needles is not None:
        needles = tuple(n for n in set(needles) if not any(other != n and other in n for other in needles))
    search = pattern.search
    keys = [max(words(folded(phrase)), key=len, default="") for phrase in phrases]
    keys = frozenset(keys) if all(keys) else None

    def prefiltered(answer: str, tokens=None):
        if tokens is not None and keys is not None:
            return None if keys.isdisjoint(tokens) else search(answer)
        if needles is None:
            return search(answer)
        lowered = folded(answer)
        for needle in needles:
            if needle in lowered:
                return search(answer)
        return None

    return prefiltered


# Where an answer sends the user instead of answering: another party, or a page without detail.
_PARTIES = (
    r"(?:airlines?|bank|banks|provider|providers|pharmacy|pharmacist|merchant|seller|sellers|restaurant|restaurants|school|"
    r"university|college|council|landlord|letting\s+agent|gp|doctor|insurer|carrier|courier|retailer|manufacturer|store|"
    r"branch|office|team|department|support|services?|helpline|embassy|consulate|employer|agency|authority|authorities|"
    r"supplier|vendor|host|hotel|venue|organi[sz]er|operator|company|firm|lender|broker|surgery|practice|clinic|hospital|"
    r"registry|registrar|admissions|finance|hr|police|dvla|hmrc|website|site|faq|faqs|help\s+(?:centre|center|pages?)|"
    r"professional|expert|advis[eo]r|specialist|solicitor|lawyer|accountant|directly|them|yours|issuer|partner|"
    r"platform|developer|publisher|studio|network|administrator|admin|it|technician|engineer|dealer|garage|installer|"
    r"utility|regulator|ombudsman|court|tribunal|agent|agents|staff|teacher|tutor|module\s+leader|lecturer|department|"
    r"reception|front\s+desk|counter|box\s+office|ticket\s+office|help\s*desk|desk|crew|driver|conductor|station|airport|"
    r"portal|local\s+\w+)\b"
)
_ELSEWHERE = rf"(?:(?:the|your|a|an|their|our|each|that|this|yours|them|they|someone|somebody)\s+)?(?:[\w'-]+\s+){{0,2}}?{_PARTIES}"
_ASK_ELSEWHERE = (r"(?:check|ask|contact|speak|talk|call|phone|ring|visit|reach\s+out|get\s+in\s+touch|raise\s+(?:this|it|that)|"
                  r"take\s+(?:this|it|that)\s+up|email|consult|refer|enquire|inquire|write|go\s+back|get\s+back)")
_REFUSAL = re.compile(
    r"\b(?:i|we)(?:\s+|'m\s+|\s+am\s+|'re\s+|\s+are\s+)(?:afraid\s+(?:i|we)\s+|sorry\s+(?:but\s+)?(?:i|we)\s+)?(?:can't|cannot|can\s+not|not\s+able\s+to|unable\s+to|"
    r"won't\s+be\s+able\s+to|will\s+not\s+be\s+able\s+to|not\s+allowed\s+to|not\s+permitted\s+to|not\s+authori[sz]ed\s+to|"
    r"not\s+in\s+a\s+position\s+to|have\s+no\s+way\s+(?:to|of))\s+(?:\w+\s+)?"
    r"(?:share|discuss|comment|process|see|access|view|make|book|provide|disclose|help|assist|answer|handle|look|check|give|issue|"
    r"change|cancel|refund|do|go\s+into|reveal|release|confirm|say|tell|advise|guarantee|arrange|reset|update|amend|modify|"
    r"approve|override|waive|offer|find|locate|track|recommend|speak|verify|retrieve|pull|read|open|edit|remove|delete|add|"
    r"transfer|move|send|type|quote|predict|promise|handle|deal|support|accept|grant|unlock|escalate|reverse|speed)\w*\b"
    # "we don't offer X" answers the question; "we don't discuss X" declines it
    r"|\b(?:i|we)\s+(?:don't|do\s+not)\s+(?:\w+\s+)?(?:share|discuss|comment|disclose|handle|deal\s+with|give\s+out|process)\b"
    r"|\b(?:i|we)\s+(?:don't|do\s+not|didn't|did\s+not)\s+have\s+(?:any\s+)?(?:access|visibility|sight|information|info|details|data|records?|"
    r"a\s+way|any\s+way|the\s+ability|the\s+means|permission|that|this|those|these|such|an\s+answer|answers?|an\s+idea|a\s+clue)\b"
    r"|\b(?:i|we)\s+(?:don't|do\s+not|didn't|did\s+not)\s+(?:hold|keep|get|store|see)\s+(?:that|this|the|any|those|these|such)\s+"
    r"(?:information|info|details|data|figures|numbers)\b"
    r"|\b(?:i|we)\s+have\s+no\s+(?:access|visibility|sight|information|info|details|data|record|records|way|means|insight|control)\b"
    r"|\b(?:i'm|i\s+am)\s+(?:just|only)\s+(?:a|an)\s+(?:\w+\s+)?(?:assistant|bot|chatbot|ai|program|language\s+model)\b|\bas\s+an\s+ai\b"
    r"|\b(?:that|this|the)\s+(?:\w+\s+)?(?:information|info|data|detail|details)\s+(?:isn't|is\s+not|aren't|are\s+not)\s+(?:available|visible|accessible|something)\b"
    r"|\b(?:that's|that\s+is|this\s+is|it's|it\s+is)\s+not\s+(?:something|information|info|a\s+thing)\s+(?:i|we)\s+(?:can|have|hold|handle|cover|offer|do|deal)"
    r"|\b(?:i'm|i\s+am)\s+not\s+(?:authori[sz]ed|allowed|permitted|trained|able)\b"
    r"|\b(?:i'm|i\s+am)\s+not\s+in\s+a\s+position\b"
    # es / de / fr / pt
    r"|\bno\s+(?:puedo|podemos|es\s+posible|tengo\s+(?:acceso|informaci[oó]n)|dispongo)\b"
    r"|\b(?:ich|wir)\s+(?:kann|können|konnen|darf|dürfen|durfen)\s+(?:\w+\s+){0,3}(?:leider\s+)?nicht\b|\b(?:das|dies|dazu)\s+(?:kann|darf)\s+ich\s+(?:\w+\s+){0,2}nicht\b"
    r"|\b(?:ich|wir)\s+(?:habe|haben)\s+(?:leider\s+)?keine\s+(?:informationen|zugriff|daten)\b|\bwei(?:ß|ss)\s+ich\s+(?:leider\s+)?(?:auch\s+)?nicht\b"
    r"|\b(?:je|nous)\s+ne\s+(?:peux|pouvons|suis\s+pas\s+en\s+mesure|sommes\s+pas\s+en\s+mesure|dispose|disposons|sais)\b"
    r"|\bn[ãa]o\s+(?:posso|podemos|consigo|conseguimos|tenho\s+(?:acesso|informa[çc][õo]es)|temos\s+(?:acesso|informa[çc][õo]es))\b"
)
_DEFLECT = re.compile(
    r"\byou\s+(?:may|might|could|would|will|'d|'ll|should|need\s+to|have\s+to|must)?\s*(?:want|wish|need|have)\s+to\s+(?:check|look|contact|ask|visit|reach|try|speak|talk|call|raise|consult|email|get\s+in\s+touch)\b"
    rf"|(?:\b(?:you'd|you'll|you\s+would|you\s+will|you\s+should|you\s+could|you\s+can|you\s+may|you\s+might|please|kindly|"
    rf"i'd\s+suggest|i\s+suggest|i'd\s+recommend|i\s+recommend|try\s+to|just)\s+|(?:^|[.!?;:]\s+|\bso\s+|\band\s+|\bthen\s+)\W*)"
    rf"(?:need\s+to\s+|have\s+to\s+|want\s+to\s+)?\b{_ASK_ELSEWHERE}\s+(?:to\s+|with\s+|at\s+|in\s+with\s+)?{_ELSEWHERE}"
    r"|\b(?:best|better|advisable|recommend(?:ed)?|suggest(?:ed)?|advise(?:d)?)\s+(?:(?:to|that\s+you|you|is\s+to|would\s+be\s+to|thing\s+is\s+to|option\s+is\s+to)\s+)*"
    r"(?:check|ask|contact|speak|talk|call|reach|get\s+in\s+touch|visit|consult|email|raise|checking|asking|contacting|speaking|"
    r"talking|calling|reaching\s+out|getting\s+in\s+touch|visiting|consulting|emailing|raising)\b"
    r"|\b(?:seek|get|take|obtain)\s+(?:independent\s+|professional\s+|specialist\s+|expert\s+|proper\s+)*(?:financial|legal|medical|tax|professional|independent|expert|specialist)\s+(?:advice|help|guidance)\b"
    rf"|\b(?:need|needs|have|has|must)\s+to\s+(?:go|be\s+(?:made|sent|submitted|raised|requested|done|arranged|handled|processed))\s+(?:through|via|with|by|to)\s+{_ELSEWHERE}"
    rf"|\b(?:they|(?:the|your|their|our|each|a|an)\s+(?:[\w'-]+\s+)?{_PARTIES})\s+(?:will|would|should|can|could|may|might)\s+(?:be\s+(?:able|happy|best\s+placed)\s+to\s+)?(?:help|assist|advise|answer|tell|confirm|sort|explain|deal|handle|look|give)\b"
    r"|\b(?:check|visit|see|consult)\s+(?:our|the)\s+(?:website|site|faq|faqs|help\s+(?:centre|center|page|pages)|support\s+page)\b"
    r"|\boutside\s+(?:what|the\s+scope|my\s+scope|my\s+remit|of\s+what)|\bnot\s+something\s+(?:i|we)\s+(?:can|am\s+able|handle|cover|deal|offer|do)\b"
    r"|\bbeyond\s+(?:what\s+i\s+can|the\s+scope|my\s+(?:scope|remit|knowledge))\b|\bnot\s+(?:within|part\s+of)\s+(?:my|what\s+i)\b"
    r"|\bi\s+(?:can|am\s+able\s+to)\s+only\b|\bi\s+can\s+only\s+(?:help|assist)|\bonly\s+(?:help|assist|answer|deal)\s+(?:with|questions)\b|\b(?:i'm|i\s+am)\s+only\s+able\s+to\b"
    r"|(?:^|[.!?]\s+)\W*(?:please\s+)?(?:just\s+)?\btry\s+(?:again|later)(?:\s+later)?(?:\s+(?:in\s+a\s+(?:few|bit|while)\w*|shortly|soon))?\s*[.!]?\s*$|\bfor\s+more\s+information\b|\brefer\s+to\s+(?:our|the|your)\b"
    r"|(?:^|[.!?—–]\s*)\W*please\s+(?:visit|call|contact|speak\s+to|ask|email|phone|get\s+in\s+touch\s+with|reach\s+out\s+to)\b"
    r"|\b(?:can't|cannot|can\s+not|isn't|is\s+not|aren't|are\s+not)\s+(?:be\s+)?\w+\s+(?:here|in\s+(?:this\s+)?chat|by\s+me|online|through\s+(?:this\s+)?chat|via\s+(?:this\s+)?chat|from\s+here|over\s+chat)\b"
    r"|\bask\s+(?:them|the\s+\w+)\s+directly\b|\b(?:it's|that's|it\s+is|that\s+is)\s+up\s+to\b|\bcan't\s+see\b|\bcannot\s+see\b"
    r"|\b(?:that|this|it)\s+(?:is|'s)\s+a\s+(?:matter|question)\s+for\b|\bat\s+(?:the\s+)?(?:[\w']+\s+)?discretion\b"
    r"|\b(?:find|get|see)\s+more\s+(?:information|info|details)\s+(?:on|at|in|from|via)\b"
    r"|\b(?:issued|handled|set|decided|made|managed|held|run|controlled|processed|owned|dealt\s+with)\s+by\s+[\w' -]{1,40}?,?\s+not\s+(?:by\s+|with\s+)?us\b"
    # es / de / fr / pt
    r"|\b(?:p[oó]ngase|ponte|p[oó]nganse)\s+en\s+contacto\b|\b(?:contacte|consulte)\s+con\b"
    r"|\bwenden\s+sie\s+sich\s+(?:bitte\s+)?an\b|\bkontaktieren\s+sie\b"
    r"|\b(?:veuillez|merci\s+de)\s+(?:contacter|vous\s+adresser|appeler)\b|\bcontactez\b|\badressez-vous\b"
    r"|\bentre\s+em\s+conta(?:c)?to\b|\bcontate\b|\bprocure\s+(?:o|a)\b"
)
# Only in a short answer without a number: vague wording that commits to nothing.
_VAGUE = re.compile(
    r"\b(?:vary|varies|varied|differ|differs|depends|depend|depending|subject\s+to|(?:many|several|various|a\s+number\s+of|a\s+range\s+of|different|lots\s+of|a\s+few)\s+(?:factors|reasons|things|options)|"
    r"sometimes|may\s+suit|case[\s-]by[\s-]case|from\s+time\s+to\s+time|hard\s+to\s+say|difficult\s+to\s+say|impossible\s+to\s+say|"
    r"reviewed\s+(?:regularly|periodically|twice|every|each|once)|competitive|reasonable|in\s+line\s+with|generous|"
    r"makes\s+a\s+real\s+difference|set\s+by\s+(?:each|the)|published\s+on|calculated\s+based|a\s+few\s+things|"
    r"(?:may|can|might|could)\s+(?:apply|change|differ|vary)(?=\s*(?:[.!]|$|,|\s+(?:at\s+any\s+time|from\s+time|over\s+time|without\s+notice|throughout|through|during|depending)))|"
    r"(?:change|changes)\s+(?:through|during|over|throughout)\s+the\s+year|"
    r"as\s+soon\s+as\s+(?:possible|(?:it's|it\s+is|they're|they\s+are|we\s+can|they\s+can|it\s+can\s+be|ready))|"
    r"(?:handled|managed|dealt\s+with|decided|made|set|determined|controlled|run|owned|looked\s+after|assessed|approved|issued)\s+by\s+(?:the|your|our|each|a|an|their)|"
    # marketing in place of an answer: praise, reassurance, generalities
    r"we\s+(?:love|are\s+proud|'re\s+proud|pride\s+ourselves)|designed\s+(?:to\s+be|for|with)|one\s+of\s+the\s+(?:most|best|major|safest|leading)|"
    r"lots\s+of\s+(?:popular|great|different)|(?:a\s+)?(?:wide\s+)?(?:range|variety|selection)\s+of|all\s+kinds\s+of|guests\s+of\s+all\s+kinds|"
    r"(?:easy|simple|quick)\s+with\s+us|quick\s+and\s+(?:simple|easy)|simple\s+and\s+(?:quick|easy)|to\s+suit\s+(?:different|every|all|your)|"
    r"(?:every|each)\s+(?:situation|case|customer|person)\s+is\s+different|can\s+be\s+(?:complex|complicated|tricky)|"
    r"(?:in|for)\s+(?:some|certain)\s+(?:situations|cases|circumstances)|available\s+in\s+some|according\s+to\s+(?:the|our)\s+(?:policy|terms)|"
    r"one\s+of\s+the\s+most\s+important|(?:is|are)\s+(?:really\s+|very\s+)?important\s+(?:for|to)|keeps?\s+your\s+\w+\s+(?:running|safe|protected|healthy)|"
    r"(?:shown|displayed|listed|explained|detailed|outlined)\s+(?:at|on|in)\s+(?:the\s+)?(?:checkout|app|website|site|page|portal|faq)(?=\s*[.!]?\s*$)|"
    r"(?:will|'ll|should)\s+(?:let\s+you\s+know|be\s+in\s+touch|get\s+back\s+to\s+you|update\s+you|keep\s+you\s+posted|inform\s+you)|"
    r"only\s+(?:available|shown|visible|accessible|possible)\s+(?:through|in|on|via|at|from)|"
    r"change\s+all\s+the\s+time|(?:change|changes|vary|varies)\s+(?:daily|often|regularly|frequently|constantly)|always\s+changing|"
    r"once\s+(?:[\w']+\s+){0,5}(?:done|complete|completed|finished|processed|ready))\b"
)
# Searched alternative by alternative, each only when its first word is in the answer (``Cues``).
_REFUSAL, _DEFLECT, _VAGUE = Cues(_REFUSAL.pattern), Cues(_DEFLECT.pattern), Cues(_VAGUE.pattern)
# A request for "more details" that names nothing the agent needs: a punt dressed as a question.
_GENERIC_ASK = re.compile(
    r"\b(?:(?:share|give|provide|tell\s+me|tell\s+us|send|say)\s+(?:me\s+|us\s+)?(?:a\s+(?:bit|little)\s+|some\s+|any\s+)?more\b"
    r"|more\s+(?:details?|information|info|context)\b|elaborate\b|explain\s+(?:a\s+(?:bit|little)\s+)?(?:more|further)\b"
    r"|(?:describe|explain)\s+(?:the|your)\s+(?:issue|problem)\b|what\s+(?:seems\s+to\s+be|is)\s+the\s+(?:issue|problem)\b|clarify\s*\?)"
)
# Every match of ``_GENERIC_ASK`` holds one of these whole words (an exact prefilter).
_GENERIC_ASK_WORDS = frozenset("more elaborate explain describe issue problem clarify".split())
_SPECIFIC_ASK = re.compile(
    r"\b(?:which|whether|or|number|reference|ref|id|error|message|screenshot|version|device|browser|platform|date|address|"
    r"postcode|email|account|order|booking|name|step|code|model|phone|app|when|where)\b"
)
_QUANTITY_QUESTION = re.compile(
    r"\b(?:how\s+much|how\s+many|how\s+long|(?<![\w\s])\s*when|^when|what\s+time|what\s+date|which\s+date|what\s+percent|what\s+(?:is|'s|are)\s+the\s+"
    r"(?:price|cost|fee|fees|rent|rate|deadline|drop\s+rate|date|charge|limit|interest)|whens|whats\s+the\s+(?:price|cost|fee|rent|rate|deadline|drop\s+rate)|"
    r"price|cost|percent|deadline)\b"
)
# What makes a vague-sounding clause concrete anyway ("urgent needs are seen the same day").
_CONCRETE = re.compile(r"\d|\b(?:same\s+day|next\s+day|today|tomorrow|immediately|instantly|straight\s+away|right\s+away|free\s+of\s+charge)\b")
_SUBSTANCE_WORDS = 10  # words outside the declining sentences that make the answer help anyway


def _helps_anyway(clauses: list[str], declining) -> int:
    """Words in the clauses that neither decline nor deflect nor only apologise; a clause that
    reports an action taken or states a figure helps in full ("Done — I've cancelled it.")."""
    words = 0
    for clause in clauses:
        if declining(clause) or _APOLOGY.match(clause):
            continue
        if _DONE.search(clause) or _DIGIT.search(clause):
            return _SUBSTANCE_WORDS
        words += len(clause.split())
    return words


# The agent did something: the answer helps whatever else it says.
_DONE = re.compile(
    r"\b(?:done|i've|i\s+have|we've|we\s+have)\s+(?:now\s+|just\s+|already\s+)?(?:booked|cancelled|canceled|sent|updated|changed|"
    r"refunded|added|removed|arranged|scheduled|processed|issued|reset|unlocked|moved|fixed|applied|credited|raised|logged|"
    r"requested|emailed|renewed|extended|reinstated|reactivated|upgraded|downgraded|transferred|released|approved)\b"
    r"|^\W*done\b"
)
# A deflection given as a contingency ("if it hasn't arrived by Friday, contact the courier") is
# advice on top of an answer, not a refusal to give one.
_CONDITIONAL = re.compile(r"\b(?:if|in\s+case|should\s+you|unless|otherwise|whenever|once)\b[^.!?;]*$")


def _unconditional(cues, text: str, tokens) -> re.Match | None:
    """The first match of ``cues`` in ``text`` that is not inside a contingency clause."""
    for match in cues.finditer(text, tokens):
        if not _CONDITIONAL.search(text, 0, match.start()):
            return match
    return None


# Exact "cannot match" words for the refusal, deflection, vague and generic-ask families: each
# alternative of those patterns holds one of them as a whole word, so an answer holding none
# skips the patterns (``words`` splits at every non-ASCII letter, hence "n" for "não" and "k"
# for "können").
_CUE_WORDS = frozenset(
    "t cannot unable not no have don't do didn't did "
    "want wish need website site faq faqs help support outside something beyond only again information refer directly up "
    "vary varies varied differ differs depends depend depending subject factors case reviewed competitive competitively "
    "reasonable line generous difference set published calculated things once please reasons sometimes suit options time "
    "hard difficult impossible may can change changes soon handled managed dealt decided made determined controlled run "
    "owned looked assessed approved shown displayed listed explained detailed outlined just ai authorised authorized "
    "allowed permitted trained able position best better advisable recommend recommended suggest suggested advise "
    "advised check ask contact speak talk call phone ring visit reach get email consult enquire inquire write go raise "
    "take they will would should could matter question discretion more elaborate describe explain clarify issue problem "
    "seek obtain checking asking contacting speaking talking calling reaching getting visiting consulting emailing raising "
    "needs has must all daily often regularly frequently constantly always available shown visible accessible possible "
    "let touch posted inform update might "
    "info details detail data access visibility "
    "puedo podemos es tengo dispongo ich wir kann nnen darf rfen das dies dazu habe haben je nous ne n posso podemos "
    "consigo conseguimos tenho temos pongase ponte nganse ngase contacte consulte wenden kontaktieren veuillez merci "
    "contactez adressez entre contate procure".split()
)
# Words without which ``_QUANTITY_QUESTION`` cannot match.
_QUANTITY_WORDS = frozenset("much many long when whens time date percent price cost fee fees rent rate deadline charge limit interest".split())
_ASKING = ("how", "when", "what", "which", "whens", "whats")
_QUANTITY_QUESTION_WORDS = 30
_SHORT_ANSWER = 200  # characters: past this, an answer without a cue is not a vague non-answer
_UNANSWERED_ANSWER = 160  # characters: a longer answer without a number still says something
_GENERIC_ANSWER = 120  # characters: a "tell me more" answer longer than this says something else too


def agent_punted(answer: str, phrases, question: str = "") -> dict | None:
    """The answer declines or deflects without helping; ``phrases`` is the project's list.

    The decision is the punt model's (``punt_model``): a logistic regression over the cue
    families below (``punt_cues``) and the answer's shape against the question; the signal's
    value carries its probability and the cues in its explanation.
    """
    return punt_model.decide(answer, question, punt_cues(answer, phrases, question))


class PuntCues(NamedTuple):
    """What the cue families found in an answer: the rule's verdict (``rule``: the signal value
    the cue decision alone gives, or None) and each family's raw match, before the look-alikes
    that cancel it; ``text`` is the folded answer, ``tokens`` its words and ``digit`` whether it
    holds a digit."""

    rule: dict | None
    explicit: bool
    refusal: bool
    deflect: bool
    vague: bool
    generic: bool
    text: str
    tokens: set
    digit: bool


def punt_cues(answer: str, phrases, question: str = "") -> PuntCues:
    """The cue families over ``answer`` and the cue decision (``_rule``)."""
    search = phrase_search(tuple(phrases))
    text = folded(answer)
    if "’" in text:
        text = text.replace("’", "'")
    tokens = set(words(text))
    explicit = search(text, tokens) if search is not None else None
    cued = not _CUE_WORDS.isdisjoint(tokens)
    refusal = explicit is None and cued and _REFUSAL.search(text, tokens)
    deflect = explicit is None and cued and not refusal and _DEFLECT.search(text, tokens) and _unconditional(_DEFLECT, text, tokens)
    numberless = _DIGIT.search(text) is None
    short = len(text) <= _SHORT_ANSWER and numberless
    vague = short and cued and _VAGUE.search(text, tokens)
    generic = len(text) <= _GENERIC_ANSWER and not _GENERIC_ASK_WORDS.isdisjoint(tokens) and _GENERIC_ASK.search(text)
    unanswered = (  # an answer without a number to a question that asks for one
        len(text) <= _UNANSWERED_ANSWER and numberless and explicit is None and not refusal and not deflect and not vague
        and not _QUANTITY_WORDS.isdisjoint(question_words := words(lowered_question := folded(question)))
        and (asked := _QUANTITY_QUESTION.search(lowered_question)) and not _NUMBER.search(text)
        # a bare "price" or "deadline" asks for one only in a question, not in a remark
        and (asked.group(0).startswith(_ASKING) or "?" in question or len(question_words) <= 6)
        and len(question_words) <= _QUANTITY_QUESTION_WORDS  # a long message asks more than for one figure
    )
    found = (explicit is not None, bool(refusal), bool(deflect), bool(vague), bool(generic))
    if explicit is None and not refusal and not deflect and not vague and not unanswered and not generic:
        return PuntCues(None, *found, text, tokens, not numberless)  # the usual answer
    rule = _rule(text, search, explicit, refusal, deflect, vague, generic, unanswered, short)
    return PuntCues(rule, *found, text, tokens, not numberless)


def _rule(text, search, explicit, refusal, deflect, vague, generic, unanswered, short) -> dict | None:
    """The cue decision once a family matched: the look-alikes that cancel a cue, in order."""
    stripped, quoted = unquoted(text, reported=False)
    clauses = _clauses(stripped)
    if generic and all(_APOLOGY.match(c) or (_GENERIC_ASK.search(c) and not _SPECIFIC_ASK.search(c)) for c in clauses):
        return {"phrase": generic.group(0), "family": "implicit",
                "explain": f"asks only for 'more' ('{generic.group(0)}'), naming nothing it needs; no answer"}
    if _CLARIFYING.search(stripped):
        return None
    if stripped != text:  # the cue may have been inside the quotes: look again without them
        explicit = search(stripped) if search is not None else None
        refusal = explicit is None and _REFUSAL.search(stripped)
        deflect = explicit is None and not refusal and _unconditional(_DEFLECT, stripped, None)
        vague = short and _VAGUE.search(stripped)

    def declining(clause: str) -> bool:
        return bool((search is not None and search(clause)) or _REFUSAL.search(clause) or _unconditional(_DEFLECT, clause, None)
                    or (short and _VAGUE.search(clause) and not _CONCRETE.search(clause)))

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
    if vague and _helps_anyway(clauses, declining) < _SUBSTANCE_WORDS and not _VERDICT.search(stripped):
        return {"phrase": vague.group(0), "family": "implicit",
                "explain": f"vague '{vague.group(0)}'; {length} words, no number; no clarifying question"}
    if unanswered:
        return {"phrase": "", "family": "implicit",
                "explain": f"question asks for a number or date; the answer ({length} words) gives none"}
    return None


_DIGIT = re.compile(r"\d")
