"""The user asks for a human, a call back or a manager, or the customer reported ``escalation``.

A decision over cue families rather than one regex. The question is lowercased, accents are
dropped (``llámame`` reads as ``llamame``), its quoted spans and reported speech are removed
("the app says "contact a human agent"", "she said someone would call me back"), and its words
normalised: chat shorthand reads as the words it stands for ("pls", "ppl", "u", "gimme",
"wanna", "some1") and a misspelt cue word one edit away from a known one ("agnet", "pearson",
"spek", "supervsor") reads as that word, so every pattern below tolerates typos at the price of a
set lookup. A request needs a request frame around a human target, never a human noun alone:

- ``explicit``: a communication or routing verb towards a human ("talk / speak / chat to",
  "put me through to", "transfer me to", "get hold of", "reach") — human, person, agent,
  representative, adviser, operator, someone, "the sales team", "customer service"; a real,
  live or actual person; a wish for one ("I want a human", "can I have an agent"); a bare
  "agent pls" / "representative" / "human!!";
- ``callback``: call, ring or phone me; a call back; "give me a ring"; "I'd rather a phone call";
  "can we do this over the phone"; "nobody answers the phone";
- ``manager``: the same frames towards a manager, supervisor, boss, someone senior or in charge;
- ``implicit``: "is there anyone else I can speak with", "who can I talk to about this",
  "can someone look at my case", "I need real help, not a bot", "have a human review this";
- the same families in Spanish, German, French and Portuguese ("hablar con una persona",
  "mit einem Mitarbeiter sprechen", "parler à un conseiller", "falar com um atendente",
  "llámenme", "Rückruf", "rappelez-moi", "me liguem").

Look-alikes that cancel a request:

- negation or a requirement question before the cue in the same clause ("no need for an agent",
  "don't want a call back", "do I have to speak to someone to cancel?", "without calling");
- a question about whether the product offers human agents ("do your customers get to talk to
  a human if …, or is it all bot?");
- a question about when support is open or staffed ("are your agents available on weekends");
- a request in the past — a user who already spoke to someone — matches no frame: the frames
  are present-tense requests ("spoke to", "was on the phone with" are not "speak to").

The per-project ``phrases`` add exact request phrases on top.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from apps.detection.detectors.base import TurnData
from apps.detection.detectors.text import _COMMON, WORD, Cues, folded, fuzzy_lexicon, unquoted, words

# Cue words whose one-edit misspellings are read as the word (at least five letters; shorter
# ones get the narrower treatment below).
_TYPO_WORDS = (
    "human", "person", "agent", "representative", "manager", "supervisor", "someone", "somebody", "anyone", "anybody",
    "operator", "adviser", "advisor", "officer", "staff", "people", "consultant", "colleague", "employee", "specialist",
    "support", "service", "customer", "callback", "escalate", "speak", "transfer", "connect", "actual",
    "phone", "someone", "senior", "department",
)
_SHORT_TYPO_WORDS = ("call", "ring", "talk", "chat", "real", "live", "boss")
# Real words one edit from a cue word: never read them as its misspelling.
_NOT_TYPOS = {
    "managed", "manages", "managers", "personal", "persona", "parson", "agents", "urgent", "agency", "humane",
    "someone's", "sports", "supports", "rope", "reps", "ping", "rung", "rings", "calls", "cell", "all", "steak",
    "sneak", "spear", "speaks", "chats", "chap", "chad", "cat", "hat", "phones", "shone", "phoned", "anyones",
    "officers", "people's", "staffs", "talks", "tall", "walk", "stalk", "taken", "advise", "adviser's", "operators",
    "operate", "humans", "persons", "agenda", "services", "serviced", "customers", "customer's", "employees",
    "employer", "employed", "specialists", "transfers", "connects", "connected", "pleased", "pleas", "lease", "please's",
    "actuals", "actually", "phoney", "phony", "seniors", "senor", "staffed", "stuff", "stiff", "stafff", "colleagues",
    "consultants", "supervisors", "representatives", "callbacks", "escalated", "departments", "transfer's", "service's",
    "serve", "served", "server", "serves", "severe", "supper", "suppose", "supports", "officer's", "office", "offices",
    "humor", "human's", "humid", "person's", "prison", "poison", "pension", "parsons", "agent's", "adviser", "advisor",
    "advisors", "advisers", "anyway", "anyways", "somehow", "sometime", "somewhat", "special", "speck", "spell",
    "people", "purple", "reader", "connector", "connection", "staple", "stage", "stale", "state", "stall", "store",
}
_LEXICON = fuzzy_lexicon(_TYPO_WORDS, min_length=5, exclude=_NOT_TYPOS)
# Four-letter cue words ("talk", "call", "chat") tolerate only swapped letters ("tlak"): one
# substitution would turn them into common words ("tall", "cell"); a dropped letter ("tlk") too,
# unless that leaves a real word ("all", "hat").
_SHORT_NOT_TYPOS = {"all", "hat", "cat", "rig", "tak", "tal", "cal", "rin", "ing", "cha", "ran", "rng", "rea", "eal",
                    "ral", "liv", "lie", "ive", "bos", "oss", "bss", "lve", "ral", "rel", "cht"}
for _word in _SHORT_TYPO_WORDS:
    for _i in range(4):
        if _i < 3:
            _LEXICON.setdefault(_word[:_i] + _word[_i + 1] + _word[_i] + _word[_i + 2:], _word)
        if (_dropped := _word[:_i] + _word[_i + 1:]) not in _SHORT_NOT_TYPOS:
            _LEXICON.setdefault(_dropped, _word)
for _word in _SHORT_TYPO_WORDS:
    for _i in range(4):
        _LEXICON.setdefault(_word[:_i + 1] + _word[_i:], _word)  # a doubled letter: "tallk", "chatt"
for _word in _SHORT_TYPO_WORDS + ("rep", "reps"):
    _LEXICON[_word] = _word
# Long cue words also tolerate two edits ("reprasentitive"), checked only for an unknown long word.
_LONG_WORDS = ("representative", "supervisor", "consultant", "specialist", "department", "colleague", "customer",
               "operator", "somebody", "callback", "escalate", "transfer", "solicitor")
_LONG_NOT_TYPOS = frozenset(
    "representation representations representing represented supervision supervised supervising escalated escalating "
    "escalation transferred transferring transfers operators operation operations colleagues specialists specialised "
    "specialized speciality specialty consultants consulting consultation callbacks customers customised customized "
    "departments departure somewhere somewhat sometimes someday solicitors soliciting solicited".split()
)


def _within_two_edits(word: str, target: str) -> bool:
    """Optimal-string-alignment distance of at most 2 (a DP that stops once every cell is past 2)."""
    if abs(len(word) - len(target)) > 2:
        return False
    previous2, previous = None, list(range(len(target) + 1))
    for i, a in enumerate(word, 1):
        current = [i] + [0] * len(target)
        for j, b in enumerate(target, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            if previous2 is not None and j > 1 and a == target[j - 2] and word[i - 2] == b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > 2:
            return False
        previous2, previous = previous, current
    return previous[-1] <= 2


@lru_cache(maxsize=4096)
def _long_typo(word: str) -> str | None:
    """The long cue word that ``word`` misspells by up to two edits, if any (the first two
    letters right: a cheap test that spares the distance for almost every word)."""
    if len(word) < 8 or word in _LONG_NOT_TYPOS or not word.isalpha():
        return None
    for target in _LONG_WORDS:
        if target[:2] == word[:2] and _within_two_edits(word, target):
            return target
    return None
# Chat shorthand and run-together words, read as what they stand for.
_SHORTHAND = {
    "pls": "please", "plz": "please", "plss": "please", "plox": "please", "pleae": "please", "pleas": "please",
    "ppl": "people", "peeps": "people", "u": "you", "ya": "you", "ur": "your", "r": "are", "sb": "someone",
    "smb": "someone", "some1": "someone", "any1": "anyone", "sum1": "someone", "no1": "nobody", "noone": "nobody",
    "gimme": "give me", "lemme": "let me", "wanna": "want to", "gotta": "have to", "gonna": "going to",
    "wud": "would", "cud": "could", "cn": "can", "cant": "can't", "dont": "don't", "doesnt": "doesn't",
    "wont": "won't", "im": "i'm", "ive": "i've", "mgr": "manager",
    "hooman": "human", "humam": "human", "hman": "human", "persn": "person", "rep's": "rep", "callme": "call me",
    "talkto": "talk to", "speakto": "speak to", "phonecall": "phone call", "ringback": "ring back",
    "livechat": "live chat", "realperson": "real person", "customerservice": "customer service",
    "w": "with", "thru": "through", "tel": "phone",
}

# --- the target of a request -----------------------------------------------------------------

_P = r"(?:(?:please|just|now|really|urgently|actually|possibly|kindly|finally|quickly|immediately|somehow)\s+)*"
_DET = (r"(?:(?:a|an|the|your|some|any|one\s+of\s+your|one\s+of\s+the|someone\s+from|somebody\s+from|anyone\s+from|"
        r"(?:a\s+)?member\s+of(?:\s+(?:your|the))?|another|other|an\s+other)\s+)?")
_ADJ = (r"(?:(?:real|live|actual|proper|human|senior|qualified|trained|knowledgeable|competent|flesh\s+and\s+blood|"
        r"breathing|living|customer\s+service|customer\s+care|customer\s+support|support|service|account|branch|store|"
        r"shop|sales|billing|technical|tech|claims|fraud|complaints|dedicated|local|specialist|english\s+speaking|"
        r"other|different|more|new|next|available|responsible)\s+)*")
# People the business employs ("my account manager" and "my adviser" are theirs too).
_HUMAN = (r"(?:humans?|persons?|(?:real|actual|live|human)\s+people|agents?|representatives?|reps?|operators?|advis[eo]rs?|officers?|consultants?|"
          r"staff|someone|somebody|anyone|anybody|colleagues?|employees?|specialists?|experts?|team\s+member|"
          r"member\s+of\s+staff|individual|being|guy|lady|nurse|pharmacist|banker|broker|clerk|receptionist|"
          r"technician|engineer|caseworker|case\s+(?:worker|officer|manager)|solicitor|lawyer|attorney|vet|veterinarian|"
          r"doctor|gp|dentist|accountant|mechanic|tutor|counsell?or|therapist|optician|midwife|surveyor|valuer|underwriter)")
_TEAM = (r"(?:support|customer\s+(?:service|services|care|support|relations)|help\s*desk|service\s+desk|"
         r"(?:sales|billing|support|claims|fraud|complaints|retention|retentions|tech|technical|accounts?|care|service|"
         r"customer|reservations|bookings)\s+(?:team|department|dept|desk|people|staff|line|centre|center)|"
         r"(?:the|your)\s+team|(?:sales|billing|claims|retentions?|complaints|fraud|reservations)\b(?!\s+(?:tax|figures|report|reports|page|data))|(?:someone|somebody|anyone)\s+(?:in|at|on|from)\s+(?:the\s+|your\s+)?\w+)")
_BOSS = (r"(?:manager|supervisor|superior|boss|someone\s+(?:more\s+)?senior|somebody\s+(?:more\s+)?senior|"
         r"someone\s+higher\s+up|somebody\s+higher\s+up|(?:someone|somebody|the\s+person)\s+in\s+charge|"
         r"team\s+lead(?:er)?|head\s+of\s+\w+|higher\s+up|higher\s+authority|management|director|"
         r"duty\s+manager|floor\s+manager)")
# What a target noun names when it is a thing ("a manager account", "support ticket").
_NOT_A_PERSON = (r"(?!\s+(?:account|accounts|role|roles|permission|permissions|access|app|tool|tools|feature|features|"
                 r"plan|plans|dashboard|level|mode|settings|view|login|portal|resources|rights|license|licence|seat|"
                 r"seats|reference|id|code|number|details|email|pool|error|api|sdk|software|page|article|articles|"
                 r"ticket|tickets|documentation|docs|bot|chatbot|form|forum|site|website|options?|button)\b)")
_MINE = r"(?:my\s+(?:account\s+manager|relationship\s+manager|advis[eo]r|case\s*worker|case\s+officer|consultant|rep|representative|broker|banker)\b)"
_COMM = r"(?:talk|speak|chat|discuss\s+(?:this|it|that|my\s+\w+)|converse|communicate|deal)"
_ROUTE = r"(?:connect|transfer|put|pass|forward|hand|redirect|route|refer|escalate|bump|patch|send|switch)"
_REACH = r"(?:reach|contact|get\s+hold\s+of|(?:get|put\s+me|be\s+put|put)\s+in\s+touch\s+with|get\s+through\s+to|get\s+to)"
_WISH = (r"(?:want|need|demand|request|requesting|require|like|prefer|rather|get\s+me|give\s+me|find\s+me|bring\s+me|"
         r"(?:can|could|may)\s+(?:i|we)\s+(?:please\s+)?(?:have|get)|let\s+me\s+have|ask\s+for|asking\s+for|insist\s+on)")
# After "I need someone": a request for a person to talk to, not for a courier or a repair.
_SOMEONE_OK = (r"(?=\s+(?:to\s+(?:talk|speak|chat|help|call|ring|explain|sort|look\s+into|review|go\s+through|contact)|who|that|real|"
               r"from|in|on\s+the\s+(?:phone|line)|now|please|asap|urgently|senior|else|\W|$)|$)")
_CORE = r"(?:humans?|person|representative|agent|operator|rep|advis[eo]r|real\s+one|member\s+of\s+staff|staff\s+member)"
_DESK = r"(?:customer\s+(?:service|care|support)|live\s+(?:agent|person|support|chat)|real\s+person|someone\s+real|tech\s+support)"
_END = r"(?:\s+(?:please|now|asap|already|thanks|thank\s+you|thx|urgently|immediately|right\s+now|!|\?|\.))*\s*(?:[!?.]\s*)*$"

_FAMILIES = (
    ("manager", re.compile(
        rf"\b(?:{_COMM}|{_ROUTE}\s+(?:me\s+|it\s+|this\s+|us\s+)?(?:up\s+|on\s+|over\s+|through\s+)?|complain|take\s+(?:this|it)\s+up|raise\s+(?:this|it))\s+"
        rf"{_P}(?:to|with|through\s+to|over\s+to|on\s+to)\s+{_DET}{_ADJ}(?!(?:my|our|his|her|their)\s)(?:[\w']+\s+)?{_BOSS}\b{_NOT_A_PERSON}"
        rf"|\b{_WISH}\s+(?:to\s+(?:talk|speak|chat)\s+(?:to|with)\s+)?{_DET}{_ADJ}(?:[\w']+\s+)?{_BOSS}\b{_NOT_A_PERSON}"
        rf"|\b(?:is\s+there|are\s+there|where\s+is|where's)\s+{_DET}{_ADJ}(?:[\w']+\s+)?{_BOSS}\b"
        rf"(?=\s*(?:\?|$|!|\.|,|i\s+can|i\s+could|we\s+can|to\s+(?:talk|speak|complain|escalate)|available|please|who\s+can|that\s+can|or\s+(?:someone|somebody|anyone)))"
        rf"|\b(?:{_REACH}|see|meet|find)\s+{_DET}{_ADJ}{_BOSS}\b{_NOT_A_PERSON}"
        rf"|\bescalate\s+(?:this|it|me|my\s+\w+)?\s*(?:up\s+|higher|further|to\s+(?:a|the|your)\s+(?:manager|supervisor|boss))"
        rf"|^\W*(?:{_P}){_DET}{_ADJ}\b{_BOSS}\s*(?:please|now|!|\.|$)"
        # es / de / fr / pt
        rf"|\b(?:hablar|habla|hablo|pasar|pasame|pasarme|ponme|ponerme|comunicarme|quiero|quisiera)\s+(?:con\s+|a\s+)?(?:el|la|un|una|su)?\s*(?:supervisor|supervisora|gerente|encargado|encargada|responsable|jefe|jefa)\b"
        rf"|\b(?:vorgesetzten|vorgesetzte|vorgesetzter|chef|chefin|teamleiter|teamleiterin|filialleiter|filialleiterin)\s+(?:\w+\s+){{0,2}}(?:sprechen|reden|verbinden)"
        rf"|\b(?:parler|discuter|passer|transferer|voir)\s+(?:a|avec|au)\s+(?:un|une|le|la|votre)?\s*(?:responsable|superviseur|manager|chef|directeur|directrice|gerant|gerante)\b"
        rf"|\b(?:falar|conversar|fala|falo)\s+(?:com\s+)?(?:o|a|um|uma|seu|sua)?\s*(?:gerente|supervisor|supervisora|responsavel|chefe)\b"
    )),
    ("callback", re.compile(
        r"\b(?:call|ring|phone|bell|buzz|dial|telephone)\s+(?:me|us)\b(?:\s+(?:back|please|asap|now|today|tomorrow|tonight|on|at|this|"
        r"when|after|before|instead|about|regarding|re|urgently|later|first|directly|right|straight|if|as|in|from|quickly|soon|"
        r"to|so|and|or|because|cause|pls)\b|\s*[?.!,;)]|\s*$)"
        r"|\b(?:call|ring|phone)(?:\s*-\s*|\s+)back\b|\b(?:callback|ringback|phoneback)\b|\bcallback\b|\breturn\s+my\s+calls?\b"
        r"|\b(?:give|get|send)\s+me\s+a\s+(?:quick\s+)?(?:call|ring|bell|buzz|phone\s+call|callback|call\s+back)\b"
        rf"|\b(?:someone|somebody|anyone|{_HUMAN}|your\s+team|one\s+of\s+you)\s+(?:to|could|can|please|should|would|"
        r"possibly|just)\s+(?:please\s+)?(?:call|ring|phone)\b(?!\s+(?:it|this|that|them|him|her)\b)"
        r"|\b(?:rather|prefer|like|want|need|request|requesting|book|arrange|schedule|(?:can|could|may)\s+(?:i|we)\s+(?:please\s+)?(?:have|get)|organise|organize|set\s+up|"
        r"ask\s+for|asking\s+for)\s+(?:a|an|to\s+have\s+a|to\s+get\s+a|to\s+book\s+a|to\s+schedule\s+a|to\s+arrange\s+a|"
        r"to\s+request\s+a)\s+(?:quick\s+|phone\s+|telephone\s+|call\s+|)(?:call|callback|call\s+back|ring)\b"
        r"(?!\s+(?:plan|plans|bundle|package|rate|rates|charge|charges|cost|costs|log|logs|history|recording|quality|minutes|"
        r"allowance|barring|forwarding|waiting|centre|center|credit|volume|button|feature|abroad|to\s+\w+\s+(?:from|abroad)))"
        r"|\b(?:possible|able|way)\s+to\s+(?:get|have|book|arrange|request|receive)\s+a\s+(?:phone\s+)?(?:call|callback|call\s+back|ring)\b"
        r"|\b(?:speak|talk|chat|discuss\s+(?:this|it))\s+(?:to\s+(?:someone|somebody|a\s+person|a\s+human|an\s+agent)\s+)?(?:on|over|by|via)\s+(?:the\s+)?(?:phone|telephone)\b"
        r"|\b(?:do|sort|discuss|explain|handle)\s+(?:this|it|that)\s+(?:on|over|by|via)\s+(?:the\s+)?(?:phone|telephone)\b"
        rf"|\b(?:get|put)\s+(?:me\s+)?(?:through\s+to\s+)?{_DET}{_ADJ}(?:{_HUMAN}|support)\s+on\s+the\s+(?:phone|line)\b"
        r"|\b(?:nobody|no\s+one|no-one)\s+(?:ever\s+|even\s+)?(?:answers|picks\s+up|calls?\s+(?:me\s+)?back|returns\s+(?:my\s+)?calls?|gets\s+back)\b"
        # es / de / fr / pt
        r"|\b(?:llamame|llameme|llamenme|llamarme|devolverme\s+la\s+llamada|que\s+me\s+llamen|me\s+(?:pueden|puede|podrian|podria|podeis)\s+llamar)\b"
        r"|\b(?:ruckruf|zuruckrufen|zuruckruf)\b|\b(?:rufen\s+sie\s+mich|ruf\s+mich|ruft\s+mich|mich\s+(?:bitte\s+)?(?:zuruck\s*)?(?:anrufen|zuruckrufen))\b"
        r"|\b(?:rappelez|rappelle|rappeler|appelez|appelle)(?:\s*-\s*|\s+)moi\b|\b(?:me\s+|m'\s*)(?:rappeler|appeler|rappelle|rappeliez)\b|\betre\s+rappele"
        r"|\b(?:me\s+(?:liga|ligue|liguem|ligar|retorna|retornem|retorne)|ligar\s+para\s+mim|ligue\s+para\s+mim|retornar\s+a\s+ligacao|ligacao\s+de\s+volta)\b"
    )),
    ("implicit", re.compile(
        rf"\b(?:is|are)\s+there\b[^.?!]{{0,40}}?\b(?:{_HUMAN}|else|other|support\s+\w+|real|live)\b[^.?!]{{0,40}}?\b(?:talk|speak|chat|take\s+this\s+up|deal\s+with|contact|reach|help|assist|sort|fix|look|escalate|handle|call|"
        rf"knows?|explain|understands?|make\s+an\s+exception|approve|decide|override)\b"
        rf"|\b(?:can|could|may)\s+i\s+(?:please\s+)?(?:talk|speak|chat)\s+(?:to|with)\s+(?:someone|somebody|anyone|anybody)\s+else\b"
        rf"|\b(?:{_COMM}|{_ROUTE}\s+me|get\s+me|give\s+me|find\s+me|let\s+me\s+(?:talk|speak)\s+to)\s+(?:to\s+|with\s+)?(?:someone|somebody|anyone|anybody)\s+(?:else|who\s+(?:can|could|will|knows|understands)|that\s+(?:can|could|knows)|competent|real|qualified|knowledgeable)\b"
        rf"|\b(?:need|needs|want|get\s+me|find\s+me)\s+(?:someone|somebody|a\s+(?:real\s+|actual\s+)?(?:person|human))\s+(?:who|that)\s+(?:can|could|will|knows|understands|is\s+able\s+to)\s+"
        rf"(?:actually|really|properly|look|help|sort|check|deal|understand|fix|explain|review|make\s+an\s+exception|authori[sz]e|approve|override|decide|access|see)\b"
        rf"|\bis\s+there\s+(?:really\s+)?(?:nobody|no\s+one|noone|no-one)\s+(?:who|that|else|there|i\s+can)\b"
        rf"|\bis\s+(?:anyone|anybody|someone|somebody)\s+(?:real\s+)?(?:there|around|available|online|here)\b"
        rf"|\bwho\s+(?:else\s+)?(?:can|could|should|do|shall)\s+i\s+(?:talk|speak|chat)\s+(?:to|with)\b"
        rf"|\b(?:any|are\s+there\s+any|is\s+there\s+an?)\s+(?:real\s+)?(?:humans?|people|persons?|agents?)\s+(?:around|there|available|online|here|about)\b"
        rf"|\b(?:anyone|anybody|someone|somebody)\s+(?:real\s+)?(?:there|around|available|online|here)\s*\?"
        rf"|\b(?:can|could|would|will)\s+(?:someone|somebody|a\s+human|a\s+person|a\s+real\s+person|an\s+agent|a\s+member\s+of\s+staff|one\s+of\s+your\s+\w+)"
        rf"(?:\s+(?:from|in|at|on)\s+(?:your|the)?\s*\w+(?:\s+(?:team|department|desk))?)?\s+(?:please\s+)?"
        rf"(?:help|look|review|check|sort|handle|get\s+back|contact|reach\s+out|email|message|get\s+in\s+touch|take\s+over|assist|deal|take\s+a\s+look|call)\b"
        rf"|\bhave\s+(?:a|an)?\s*(?:real\s+|actual\s+)?(?:human|person|someone|somebody|agent|member\s+of\s+staff)\s+(?:look|review|check|contact|get\s+back|call|email|handle|take|deal)\b"
        rf"|\b(?:get|put)\s+(?:a|an)?\s*(?:real\s+)?(?:human|person|someone|somebody)\s+(?:involved|on\s+(?:this|it|the\s+case|the\s+line))\b"
        rf"|\b(?:want|need|like|get|give\s+me|is\s+there|i\s+need)\s+(?:some\s+)?(?:real|human|proper|actual)\s+(?:help|assistance|support|contact|interaction|being)\b"
        rf"|\b(?:don't|do\s+not|dont)\s+(?:want|wanna|need)\s+(?:to\s+(?:talk|speak|chat)\s+(?:to|with)\s+)?(?:a|the|this|your|some|another|an)?\s*(?:stupid\s+|useless\s+)?(?:bot|robot|machine|chatbot|ai|computer|automated\s+\w+)\b"
        rf"|\b(?:someone|somebody|a\s+person|a\s+human|human|people)\s*,?\s+not\s+(?:a|the|this|another|an)\s+(?:bot|robot|machine|chatbot|ai|computer)\b"
        rf"|\b(?:stop|enough|done|sick|tired)\s+(?:with|talking\s+to|of\s+talking\s+to|of)\s+(?:the|this|a|you|your)?\s*(?:bot|robot|machine|chatbot|ai)\b"
    )),
    ("explicit", re.compile(
        rf"\b{_COMM}\s+{_P}(?:to|with|w)\s+{_DET}{_ADJ}(?!(?:my|our|his|her|their)\s)(?:{_HUMAN}|{_TEAM}|someone\s+from\s+\w+)\b{_NOT_A_PERSON}"
        rf"|\b{_COMM}\s+{_P}(?:to|with)\s+{_MINE}"
        rf"|\b{_ROUTE}\s+(?:me|us|this|it|my\s+(?:call|chat|case))\s+(?:{_P}(?:through|over|on|across|back))?\s*(?:to|with|onto)\s+{_DET}{_ADJ}(?!(?:my|our|his|her|their)\s)(?:{_HUMAN}|{_TEAM})\b{_NOT_A_PERSON}"
        rf"|\b(?:transfer|connect|escalate|put)\s+me(?:\s+through)?{_END}"
        rf"|\b{_REACH}\s+{_DET}(?:real\s+|live\s+|actual\s+)?(?:human|person|agent|representative|rep|operator|advis[eo]r)\b{_NOT_A_PERSON}"
        # "get hold of someone" asks for a person here, "contact someone at the embassy" is elsewhere
        rf"|\b{_REACH}\s+(?:someone|somebody)(?=\s*(?:\?|$|\.|!|,|please|real|(?:from|at|in)\s+(?:your|the\s+(?:team|company|support|bank|office))|who\s+can|to\s+(?:help|talk|sort)))"
        rf"|\b(?:real|live|actual|proper)\s+(?:human|person|agent|people|one|support|rep|representative|operator|being|guy|humans)\b"
        r"(?!\s+(?:would|will|could|might|wouldn't|has|had|is|was|were|did|does|knows|understands|answered|helped|replied|responded|"
        r"called|rang|told|said|sorted|fixed|dealt|picked|read|reviewed|checked|looked|approved)\b)"
        rf"|\bhuman\s+being\b|\bflesh\s+and\s+blood\b|\blive\s+chat\b(?!\s+(?:button|icon|link|widget|option|feature|hours|times|window|tab|page|box)\b)"
        rf"|\bescalate\s+(?:this|my|the|it|me)\b"
        rf"|\b(?:human|customer)\s+(?:support|service|care)\s*(?:please|now|!)"
        rf"|\b{_WISH}\s+(?:(?:a|an|your|one|some)\s+|to\s+(?:talk|speak|chat)\s+(?:to|with)\s+(?:(?:a|an|your|some|the)\s+)?|to\s+have\s+(?:a|an)\s+)?{_ADJ}"
        rf"(?:(?:humans?|person|representative|agent|operator|advis[eo]r)\b(?!\s+(?:resources|rights|error|trafficking))|(?:someone|somebody)\b{_SOMEONE_OK})"
        rf"{_NOT_A_PERSON}"
        rf"|(?:^|[.,;!?:]\s)\W*(?:{_P})(?:{_DET}{_ADJ}(?:{_CORE}|{_DESK})|operator|representative){_END}"
        rf"|(?:^|[.,;!?:]\s)\W*(?:{_CORE}|{_DESK}|operator)\s+(?:please|now|asap)\b"
        # es / de / fr / pt
        rf"|\b(?:hablar|habla|hablo|hable|comunicarme|comunicar|contactar|pasame|pasarme|ponme|ponerme|transfiereme|transferirme|quiero|quisiera|necesito)\s+"
        rf"(?:con\s+|a\s+|en\s+contacto\s+con\s+)?(?:un|una|el|la|algun|alguna|su)?\s*(?:persona|humano|agente|asesor|asesora|operador|operadora|representante|empleado|empleada|alguien|ser\s+humano)\b"
        rf"|\b(?:persona|humano)\s+(?:real|de\s+verdad)\b"
        rf"|\b(?:mit|einen|einem|einer)\s+(?:\w+\s+){{0,2}}(?:menschen|mensch|mitarbeiter|mitarbeiterin|mitarbeitenden|berater|beraterin|sachbearbeiter|sachbearbeiterin|kundenberater|kundenberaterin|kundendienst|kundenservice|jemandem|person)\s+(?:\w+\s+){{0,3}}(?:sprechen|reden|verbinden|verbunden|chatten|telefonieren)\b"
        rf"|\b(?:sprechen|reden|verbinden|chatten)\s+(?:sie\s+mich\s+)?(?:\w+\s+){{0,2}}mit\s+(?:einem|einer|jemandem|ihrem|ihrer)?\s*(?:\w+\s+)?(?:menschen|mensch|mitarbeiter|mitarbeiterin|berater|beraterin|person|jemandem|kundenservice)\b"
        rf"|\b(?:echten|echter|echte|richtigen|richtiger)\s+(?:menschen|mensch|person|mitarbeiter)\b"
        rf"|\b(?:parler|discuter|etre\s+mis\s+en\s+relation|mettre\s+en\s+relation|passez-moi|passer|transferer|joindre|contacter)\s+(?:-\s*moi\s+)?(?:a|avec|au)?\s*"
        rf"(?:un|une|le|la|quelqu'un|votre)?\s*(?:vrai|vraie|veritable)?\s*(?:humain|personne|conseiller|conseillere|agent|operateur|operatrice|interlocuteur|interlocutrice|quelqu'un|etre\s+humain)\b"
        rf"|\b(?:vrai|vraie|veritable)\s+(?:humain|personne|conseiller)\b|\bpersonne\s+reelle\b"
        rf"|\b(?:falar|conversar|fala|falo|quero|preciso|transferir|transfere|passa|passar)\s+(?:com\s+|para\s+)?(?:um|uma|o|a|algum|alguma|seu|sua)?\s*(?:atendente|humano|pessoa|agente|alguem|representante|operador|operadora|consultor|consultora|ser\s+humano)\b"
        rf"|\b(?:pessoa|atendente|humano)\s+(?:real|de\s+verdade|humano)\b"
    )),
)

# Each family searched alternative by alternative, an alternative only when its first word is there.
_FAMILIES = tuple((family, Cues(pattern.pattern)) for family, pattern in _FAMILIES)

# A negation or a requirement question before the cue, in the same clause.
_NEGATION = re.compile(
    r"\b(?:no\s+need|don't|do\s+not|doesn't|does\s+not|not|never|no|without|stop|instead\s+of|rather\s+than|won't|"
    r"would\s+not|wouldn't|avoid|rather\s+not|nobody\s+wants|hate|hate\s+to|neither|nor|"
    r"(?:do|will|would|did|does)\s+(?:i|we|it|one)\s+(?:have\s+to|need|got\s+to|require)|have\s+i\s+got\s+to|(?:is|are)\s+it\s+necessary|(?:i|you)\s+(?:shouldn't|should\s+not)|"
    r"so\s+(?:i|that\s+i)\s+(?:don't|do\s+not|won't)|no\s+more|cancel|cancelled|canceled|withdraw|"
    # not a request but a question about who is on the other end ("is this a real person or a bot")
    r"(?:is|was)\s+(?:this|it|that)\s+(?:really\s+|actually\s+)?(?:a|an)|(?:is|was|are|were)\s+(?:the|your|my|he|she|they)\s+(?:[\w']+\s+){0,2}(?:a|an)|are\s+you\s+(?:a|an|really|actually|even)|am\s+i\s+(?:talking|chatting|speaking)|(?:read|monitored|checked|seen|reviewed|written)\s+by|"
    r"nicht|kein|keine|keinen|ohne|pas|sans|jamais|nao|sem|nunca|sin|tampoco)\b"
    r"(?:\s+[\w']+){0,5}\s*$"
)
# A past contact: a user who already spoke to someone ("I talked to a real person last week").
_PAST = re.compile(r"\b(?:talked|spoke|spoken|chatted|called|rang|phoned|transferred|connected|met|saw|reached|got\s+through|"
                   r"promised|offered|requested|booked|arranged|scheduled|was\s+told|were\s+told|"
                   r"was\s+on\s+the\s+phone|were\s+on\s+the\s+phone|had|got|been\s+(?:put|passed|sent))\b(?:\s+[\w']+){0,6}\s*$")
# A question whether a human is required ("do I need to speak to an adviser before …?").
_REQUIRED = re.compile(r"\b(?:(?:do|does|will|would|did|shall)\s+(?:i|we|you|one|it)\s+(?:have\s+to|need|got\s+to|require)|is\s+it\s+(?:necessary|required|mandatory))\b")
# Setting a feature up, not asking for it ("how do I add live chat to my site").
_PRODUCT = re.compile(r"\b(?:add|adding|install|embed|set\s+up|setup|enable|disable|configure|integrate|customi[sz]e|turn\s+on|"
                      r"turn\s+off|build|create|remove|hide|show)\b(?:\s+[\w']+){0,4}\s*$")
# The user's own plan, not a request to the business ("I'll speak to someone at the branch then").
_OWN_PLAN = re.compile(r"\b(?:i'll|i\s+will|i\s+might|maybe\s+i|should\s+i|i\s+should|i'd\s+better|i\s+guess\s+i'll|i\s+(?:can|could)\s+always)"
                       r"(?:\s+(?!need|want|have|like)[\w']+){0,2}\s*$")
_PLAN_VERBS = frozenset("talk speak chat discuss deal converse communicate reach contact get see meet find".split())
# A question about whether the product offers human agents, asked before buying or for an article.
_ABOUT_FEATURE = re.compile(
    r"\b(?:do|does|will|would|can)\s+(?:your|the|you)\s+(?:[\w']+\s+){0,3}?(?:let|allow|offer|route|give|get|have|provide|support|include)\b"
    r"[^?]*(?:\bif\b|\bor\s+is\b|\bor\s+(?:just|only)\b|\bself[\s-]service\b|\ball\s+bot\b|\bthrough\s+the\s+app\b|\bor\s+everything\b"
    r"|\bbutton\b|\bfeature\b|\boption\b|\bplan\b|\btier\b|\bwidget\b|\bhandoff\b|\bhand-off\b)"
    r"|\b(?:let|lets|allow|allows)\s+(?:customers|users|people|callers|clients|residents|students|tenants|members|buyers|sellers|visitors|patients|guests|players)\b"
    r"|\b(?:customers|sellers|buyers|residents|users|clients|tenants|members|landlords|students|players|patients|guests|callers|visitors)\s+(?:get|can|have|are\s+able)\b"
    r"|\b(?:before\s+(?:i|we)\s+(?:buy|sign|join|book|subscribe|upgrade)|asking\s+before|comparing|evaluating|writing\s+an?\s+article|"
    r"thinking\s+of\s+(?:joining|switching|signing)|considering\s+(?:joining|switching|your))\b"
    r"|\b(?:is\s+there\s+a|what's\s+the|what\s+is\s+the|how\s+much\s+is\s+the|do\s+you)\s+(?:\w+\s+)?(?:fee|charge|cost)\s+(?:to|for)\b"
    r"|\b(?:can|could|will|would|do|does)\s+(?:our|my|your|the)\s+(?:customers|users|clients|members|guests|patients|tenants|buyers|sellers|visitors|students|players|staff|employees)\b"
    r"|\b(?:integrate|integrating|integration|api|sdk|plugin|white\s+label)\b"
    r"|\b(?:detect|tag|flag|recogni[sz]e|classify|route)\s+(?:phrases|messages|requests|tickets|customers)\b"
    r"|\b(?:does|do|will|would|can)\s+(?:the|your|this|that)\s+(?:[\w']+\s+){0,5}?(?:option|button|feature|link|widget|menu|form|setting)\b"
)
# A question about when support is open or staffed: a human noun with a time, not a request.
_HOURS = re.compile(
    r"\b(?:when|what\s+time|which\s+hours|what\s+hours|how\s+late|how\s+early|until\s+when|till\s+when|what\s+days)\b[^.?!]*"
    r"\b(?:open|opens|available|close|closes|closed|start|starts|staffed|online|working|work|answer|answered|reachable|back)\b"
    r"|\b(?:opening|business|office|support|phone|service|working|call\s+centre|call\s+center|contact|chat)\s+(?:hours|times)\b"
    r"|\b(?:lines|desk|chat|support|branch|branches|office|store|shop)\s+(?:are\s+|is\s+)?(?:open|opened|staffed)\b"
    r"|\b(?:available|open|staffed|online|around|working|reachable)\s+(?:on\s+|at\s+|over\s+|during\s+|in\s+the\s+|after\s+|before\s+)?(?:the\s+)?"
    r"(?:weekends?|saturdays?|sundays?|holidays?|bank\s+holidays?|christmas|easter|evenings?|nights?|mornings?|24\s*/\s*7|24\s+hours|"
    r"late|early|public\s+holidays?|new\s+year|\d+\s*(?:am|pm))\b"
    r"|\bhrs\b|\bopening\s+times?\b|\b(?:what|which)\s+hours\b|\b(?:latest|earliest)\s+(?:time|i\s+can)\b"
    r"|\b(?:what|which)\s+(?:time|times|days)\b[^.?!]*\b(?:can|could|do|should)\s+i\b"
    r"|\b(?:on|at|over|during)\s+(?:the\s+|a\s+)?(?:weekends?|saturdays?|sundays?|bank\s+holidays?|public\s+holidays?|holidays?|christmas(?:\s+day)?|easter|new\s+year's?(?:\s+day)?)\b"
)


def _ascii(text: str) -> str:
    """``text`` without accents ("llámame" → "llamame", "Rückruf" → "ruckruf")."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _normalised(question: str) -> tuple[str, list[str], bool] | None:
    """The question's words (shorthand expanded, typos of cue words corrected, quoted spans
    dropped) joined by spaces, the corrections made and whether a quoted part was dropped; None
    when it holds no cue word at all (the usual question)."""
    lowered = folded(question).replace("’", "'")
    text, quoted = unquoted(lowered)
    if not text.isascii():
        text = _ascii(text)
    tokens = WORD.findall(text)
    if _NEEDED.isdisjoint(tokens):
        return None
    fixes = []
    for index, word in enumerate(tokens):
        if word in _CUE_WORDS:
            continue
        if word in _SHORTHAND:
            tokens[index] = _SHORTHAND[word]
            continue
        canonical = _LEXICON.get(word) or _long_typo(word) or word
        if canonical != word:
            fixes.append(f"{word}→{canonical}")
            tokens[index] = canonical
    return " ".join(tokens), fixes, quoted


# Words that a request of some family needs, after normalisation: the exact "cannot fire" test
# (every alternative of every pattern holds one of them as a whole word).
_CUE_WORDS = frozenset(
    "human humans person persons people agent agents representative representatives rep reps operator operators adviser "
    "advisor advisers advisors officer officers consultant consultants staff someone somebody anyone anybody colleague "
    "colleagues employee employees specialist specialists expert experts member individual being guy lady nurse "
    "pharmacist banker broker clerk receptionist technician engineer caseworker case support customer service services "
    "help helpdesk desk team department dept manager supervisor superior boss senior charge lead leader head higher "
    "authority management director call ring phone bell buzz dial telephone callback calls line escalate transfer "
    "connect put pass forward hand redirect route refer bump patch send switch real live actual proper flesh chat bot "
    "robot machine chatbot ai computer automated nobody one else who speak talk reach contact "
    "hablar habla hablo hable pasar pasame pasarme ponme ponerme comunicarme comunicar contactar transfiereme "
    "transferirme quiero quisiera necesito persona humano agente asesor asesora operador operadora representante "
    "empleado empleada alguien supervisora gerente encargado encargada responsable jefe jefa llamame llameme llamenme "
    "llamarme llamar llamada llamen menschen mensch mitarbeiter mitarbeiterin mitarbeitenden berater beraterin "
    "sachbearbeiter sachbearbeiterin kundenberater kundenberaterin kundendienst kundenservice jemandem echten echter "
    "echte richtigen richtiger vorgesetzten vorgesetzte vorgesetzter chef chefin teamleiter teamleiterin filialleiter "
    "filialleiterin sprechen reden verbinden ruckruf zuruckrufen zuruckruf rufen ruf ruft anrufen parler discuter "
    "passez passer transferer joindre contacter humain personne conseiller conseillere operateur operatrice "
    "interlocuteur interlocutrice quelqu'un vrai vraie veritable reelle superviseur directeur directrice gerant "
    "gerante rappelez rappelle rappeler appelez appelle appeler rappeliez rappele falar conversar fala falo quero "
    "preciso transfere passa atendente pessoa alguem consultor consultora chefe liga ligue liguem ligar retorna "
    "retornem retorne ligacao".split()
)
_NEEDED = (frozenset(_LEXICON) | frozenset(_SHORTHAND) | _CUE_WORDS
           | frozenset().union(*(cues.triggers for _, cues in _FAMILIES)) - _COMMON)


def may_escalate(question: str) -> bool:
    """False only for a question no cue family can match (a necessary condition, exact): it
    holds no cue word, nor a one-edit misspelling or a shorthand of one."""
    lowered = folded(question)
    if not lowered.isascii():
        lowered = _ascii(lowered)
    tokens = words(lowered)
    return not _NEEDED.isdisjoint(tokens) or any(len(word) >= 8 and _long_typo(word) for word in tokens)


_CLAUSE_BREAK = re.compile(r"[.;!?,]|\bbut\b|\band\s+(?:then\s+)?(?:i|please|can|could)\b")


def asked_for_human(question: str, phrases=()) -> dict | None:
    """The request found in ``question`` (family, phrase, explanation), or None."""
    for phrase in phrases:
        if phrase and phrase in folded(question):
            return {"reason": "asked", "family": "phrase", "phrase": phrase, "explain": f"cue '{phrase}' (project phrase)"}
    normalised = _normalised(question)
    if normalised is None:
        return None
    text, fixes, quoted = normalised
    about_feature = hours = None
    tokens = set(words(text))
    for family, cues in _FAMILIES:
        if cues.search(text, tokens) is None:
            continue  # the usual case: one search, the matches below only for a family that has one
        for match in cues.finditer(text, tokens):
            clause = _CLAUSE_BREAK.split(text[: match.start()])[-1]
            if _NEGATION.search(clause) or (match.group(0).split(" ", 1)[0] in _PLAN_VERBS and _OWN_PLAN.search(clause)):
                continue
            if family != "callback" and _PRODUCT.search(clause):
                continue
            if _REQUIRED.search(clause + match.group(0)[:24]):
                continue
            if _PAST.search(clause) and not match.group(0).startswith(("nobody", "no one", "no-one")):
                continue
            if about_feature is None:
                about_feature, hours = bool(_ABOUT_FEATURE.search(text)), bool(_HOURS.search(text))
            if about_feature or hours:
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
