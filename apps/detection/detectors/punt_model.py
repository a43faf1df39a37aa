"""The punt model: a logistic regression over an answer's cues and its shape against the question.

The cue families of ``agent_punted`` (``punt_cues``) find the stock words, refusals and
deflections; many punts have none ("The hotel is in the city centre" to "how far is the stadium",
"Returns are easy with us!" to "how do I print a returns label"). What tells those apart is what
the answer lacks: it is short, states no figure or step, does not speak to the user, repeats the
question's topic without its ask. ``answer_features`` describes that, next to the cue decision
and each family's raw match; the model weighs them into the probability that the answer punted.

Trained on the development part of the hand-labelled corpus (the held-out part is never seen) by
``manage.py train_detectors`` (``apps.detection.training.fit_punt``), with the regularisation and
the threshold chosen by cross-validation grouped by session, and shipped as
``data/punt_model.json``: the feature names, the coefficients with the standardisation folded
in, the threshold and the figures it reached on the development part. Read once per process.

Speed: every feature lies in [0, 1]; the cheap ones (from the cue pass and word counts) are
computed first, and an answer whose logit cannot reach the threshold even at the most favourable
values of the rest is decided there, without running the shape regexes (``decide``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import operator
import re
from pathlib import Path

from apps.detection.detectors.punt_patterns import _APOLOGY, _CLARIFYING, _NUMBER, _VERDICT, _clauses
from apps.detection.detectors.text import STOP_WORDS, folded, unquoted, words

MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "punt_model.json"

FEATURES = (
    # the cue pass and the word counts
    "rule_explicit", "rule_refusal", "rule_implicit", "explicit_cue", "refusal_cue", "deflect_cue", "vague_cue",
    "generic_ask", "answer_length", "answer_digit", "question_covered", "new_words", "question_length",
    # the answer's shape: one regex each (behind an exact prefilter)
    "clarifying", "asks_why", "states_problem", "steps", "verdict", "generic_statement", "addresses_user",
    "sentences", "figure", "question_asks", "question_closes", "hands_over", "courtesy_only",
)
# An answer of this many words or more, without any cue, is not scored: a punt without stock words
# is short (the longest on the development part has 26), and scoring every long answer would
# halve the detector pass's speed. Part of the decision: the figures of training include it.
UNCUED_WORDS = 30

_STOP = STOP_WORDS
_WHY = re.compile(r"\bwhy\b")
# A report of something wrong rather than a question ("my p60 is missing", "it still says not found").
_PROBLEM = re.compile(r"\b(?:not|never|isn't|doesn't|didn't|won't|can't|cannot|missing|wrong|broken|still|no)\b")
# The answer tells the user what to do: an instruction at a clause's start, or a menu path.
_STEPS = re.compile(
    r"(?:^|[.!?]\s+|,\s+|\band\s+|\bthen\s+)(?:go|tap|click|select|open|choose|enter|press|sign|log|head|scroll|pick|type|use|"
    r"add|turn|switch|reply|text|send|fill|bring|take|pay|book)\b|>|→|\bsettings\b|\bmenu\b|\btab\b"
)
# A general statement about the topic ("Deposits are taken to cover …", "Our app works with …").
_GENERIC_STATEMENT = re.compile(r"^\W*(?:our\s+|the\s+|all\s+|most\s+|many\s+|some\s+)?(?:[\w-]+\s+){0,2}(?:are|is|can\s+be|were)\s")
_ADDRESSES_USER = re.compile(r"\b(?:you|your|you're|you'll|you've|yours)\b")
# The user asks something (rather than thanking, confirming or choosing an option).
_ASKS = re.compile(
    r"\?|^\W*(?:how|what|whats|what's|where|when|why|which|who|can|could|is|are|do|does|did|will|would|should|has|have|"
    r"tell|explain|wo|wie|was|warum|wann|comment|combien|o[uù]|quand|pourquoi|c[oó]mo|cu[aá]ndo|d[oó]nde|qu[eé]|por\s*qu[eé]|"
    r"quanto|onde|quando)\b|\b(?:how|what|where|when|why|which)\b"
)
# A closing message: thanks, ok, bye — the answer owes nothing but courtesy.
_CLOSES = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|great|perfect|cool|nice|brilliant|awesome|lovely|cheers|thanks?|thank\s+you|thx|ty|bye|got\s+it|"
    r"that'?s\s+(?:all|it|great|perfect)|all\s+good|sorted|danke|merci|gracias|obrigad[oa])\b[\s,.!]*)+"
    r"(?:(?:so\s+much|a\s+lot|again|very\s+much|for\s+\w+(?:\s+\w+)?|bye|that'?s\s+all)\b[\s,.!]*)*$"
)
# The answer hands the chat to a person (the user asked for one: not a punt).
_HANDS_OVER = re.compile(
    r"\b(?:transferr?ing|connecting|passing|putting)\s+you\b|\b(?:will|'ll)\s+(?:take\s+over|join|be\s+with\s+you)\b"
    r"|\bleite\s+sie\b|\bweiterleiten\b|\btransf[eè]re\b|\ben\s+relation\b|\btransfiero\b|\bpasando\b|\btransferindo\b"
)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_LOG_LONG = 5.0  # log1p(words) / 5: 1.0 at about 150 words
_SATURATED = 148  # the first count of words whose length feature is 1.0


def _length(count: int) -> float:
    return min(1.0, math.log1p(count) / _LOG_LONG)


_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
# What a stem leaves out: the stop words and every word of one or two letters (``words`` gives
# runs of a–z and 0–9 only), so that the stems are two set operations and a map at C speed.
_UNSTEMMED = _STOP | frozenset(_ALNUM) | frozenset(a + b for a in _ALNUM for b in _ALNUM)
_FIVE = operator.itemgetter(slice(5))


def _stems(tokens) -> set[str]:
    """The first five letters of each word of ``tokens`` (of ``words``) longer than two letters
    and not a stop word."""
    return set(map(_FIVE, set(tokens).difference(_UNSTEMMED)))


# Exact prefilters: each regex below can only match a text whose words (``words``, as a set) hold
# one of these, so the regex runs only then (``test_punt_model`` compares both on many texts).
_PROBLEM_WORDS = frozenset("not never isn doesn didn won can cannot missing wrong broken still no".split())
_STEP_WORDS = frozenset(
    "go tap click select open choose enter press sign log head scroll pick type use add turn switch reply text send fill "
    "bring take pay book settings menu tab".split()
)
_STATEMENT_WORDS = frozenset("are is be were".split())
_VERDICT_WORDS = frozenset("yes no yep nope yeah".split())
_YOU_WORDS = frozenset("you your yours".split())
# ``_NUMBER`` without a digit: a currency sign, or one of the words its alternatives need (for
# "no charge", "right away", "per cent", "as long as", "for life": the rarer word).
_CURRENCY = re.compile(r"[%€£$¥]")
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty hundred half free "
    "today tomorrow tonight yesterday monday tuesday wednesday thursday friday saturday sunday january february march "
    "april may june july august september october november december week weeks month months year years day days hour "
    "hours minute minutes instant instantly immediately overnight nothing unlimited never always anytime charge cost "
    "extra fee away cent percent long lifetime life forever permanent permanently indefinitely".split()
)
_HAND_OVER_WORDS = frozenset(
    "transferring transfering connecting passing putting will ll leite weiterleiten transfere transf relation transfiero "
    "pasando transferindo".split()  # "transfère": "transf" and "re"
)
# The opening of ``_APOLOGY`` (its alternatives, without the end): a first clause that is courtesy
# only starts with it (leading separators and non-word characters are its ``\W*``).
_APOLOGY_START = re.compile(_APOLOGY.pattern.removesuffix(r"\W*$"))
_WORD_CHARACTER = re.compile(r"\w")


class _Turn:
    """What the features read of one turn: the question's folded text and words (every answer
    needs them), and the stems of both sides, computed once and only when a feature asks."""

    __slots__ = ("question", "cues", "text", "lowered_question", "question_words", "_asked", "_said")

    def __init__(self, question: str, cues, lowered_question: str | None = None, question_words=None) -> None:
        self.question, self.cues, self.text = question, cues, cues.text
        self.lowered_question = folded(question) if lowered_question is None else lowered_question
        self.question_words = words(self.lowered_question) if question_words is None else question_words
        self._asked = self._said = None

    @property
    def asked(self) -> set[str]:
        if self._asked is None:
            self._asked = _stems(self.question_words)
        return self._asked

    @property
    def said(self) -> set[str]:
        if self._said is None:
            self._said = _stems(self.cues.tokens)
        return self._said


# The features read from the cue pass and the cheapest views, computed together (``_leading``).
LEADING = (
    "rule_explicit", "rule_refusal", "rule_implicit", "explicit_cue", "refusal_cue", "deflect_cue", "vague_cue",
    "generic_ask", "answer_length", "answer_digit", "sentences", "question_length", "asks_why", "states_problem",
    "question_asks", "generic_statement",
)


def _sentences(text: str) -> float:
    return min(len(_SENTENCE_END.findall(text)), 6) / 6.0 if "." in text or "!" in text or "?" in text else 0.0


def _states_problem(question: str, lowered: str, question_words) -> float:
    return float("?" not in question and not _PROBLEM_WORDS.isdisjoint(question_words) and _PROBLEM.search(lowered) is not None)


def _leading(turn: _Turn) -> list[float]:
    """The ``LEADING`` features, in that order."""
    cues, text, lowered, question_words = turn.cues, turn.text, turn.lowered_question, turn.question_words
    family = cues.rule["family"] if cues.rule else ""
    return [
        float(family == "explicit"), float(family == "refusal"), float(family == "implicit"),
        float(cues.explicit), float(cues.refusal), float(cues.deflect), float(cues.vague), float(cues.generic),
        _length(len(text.split())), float(cues.digit),
        _sentences(text),
        _length(len(question_words)),
        float("why" in lowered and _WHY.search(lowered) is not None),
        _states_problem(turn.question, lowered, question_words),
        float("?" in lowered or _ASKS.search(lowered) is not None),  # ``_ASKS`` matches a "?"
        float(not _STATEMENT_WORDS.isdisjoint(cues.tokens) and _GENERIC_STATEMENT.match(text) is not None),
    ]


def _question_covered(turn: _Turn) -> float:
    asked = turn.asked
    return len(asked & turn.said) / len(asked) if asked else 0.0


def _clarifying(turn: _Turn) -> float:
    return float("?" in turn.text and _CLARIFYING.search(unquoted(turn.text, reported=False)[0]) is not None)


def _steps(turn: _Turn) -> float:
    text = turn.text
    return float((">" in text or "→" in text or not _STEP_WORDS.isdisjoint(turn.cues.tokens)) and _STEPS.search(text) is not None)


def _figure(turn: _Turn) -> float:
    text = turn.text
    if turn.cues.digit:
        return 1.0  # ``_NUMBER``'s first alternative
    return float((_CURRENCY.search(text) is not None or not _NUMBER_WORDS.isdisjoint(turn.cues.tokens))
                 and _NUMBER.search(text) is not None)


def _hands_over(turn: _Turn) -> float:
    text = turn.text
    return float(not _HAND_OVER_WORDS.isdisjoint(turn.cues.tokens) and _HANDS_OVER.search(text) is not None)


def _courtesy_only(turn: _Turn) -> float:
    text = turn.text
    if _APOLOGY_START.match(text) is None and _WORD_CHARACTER.search(text) is not None:
        return 0.0  # the first clause does not open with courtesy (``_APOLOGY_START``)
    return float(all(_APOLOGY.match(clause) for clause in _clauses(text)))


# The other features, each a function of the turn's views, in the order ``decide`` computes them:
# the cheapest and weightiest first.
_REST = {
    "question_closes": lambda turn: float(_CLOSES.match(turn.lowered_question) is not None),
    "figure": _figure,
    "addresses_user": lambda turn: float(not _YOU_WORDS.isdisjoint(turn.cues.tokens) and _ADDRESSES_USER.search(turn.text) is not None),
    "question_covered": _question_covered,
    "new_words": lambda turn: min(len(turn.said - turn.asked), 20) / 20.0,
    "steps": _steps,
    "verdict": lambda turn: float(not _VERDICT_WORDS.isdisjoint(turn.cues.tokens) and _VERDICT.search(turn.text) is not None),
    "hands_over": _hands_over, "clarifying": _clarifying, "courtesy_only": _courtesy_only,
}
assert sorted(LEADING + tuple(_REST)) == sorted(FEATURES)
_POSITION = {name: index for index, name in enumerate(FEATURES)}


def answer_features(question: str, cues) -> list[float]:
    """Every feature of ``FEATURES``, in order: what training fits on."""
    turn = _Turn(question, cues)
    values = [0.0] * len(FEATURES)
    for name, value in zip(LEADING, _leading(turn)):
        values[_POSITION[name]] = value
    for name, feature in _REST.items():
        values[_POSITION[name]] = feature(turn)
    return values


class PuntModel:
    def __init__(self, data: dict) -> None:
        if tuple(data["features"]) != FEATURES:
            raise ValueError("the punt model file does not match punt_model.FEATURES: retrain it (manage.py train_detectors)")
        self.data = data
        self.weights = [float(w) for w in data["weights"]]
        self.offset = float(data["offset"])
        self.min_probability = float(data["min_probability"])
        self.cut = math.log(self.min_probability / (1 - self.min_probability)) - 1e-9
        # For ``decide``: the leading features' positions and weights, with the bound's offset (every
        # other feature at its most favourable value: its weight if positive, as every feature
        # lies in [0, 1]); then each other feature's position, function, weight and most.
        self.leading_positions = [_POSITION[name] for name in LEADING]
        self.leading_weights = [self.weights[index] for index in self.leading_positions]
        self.rest = [(_POSITION[name], feature, self.weights[_POSITION[name]], max(self.weights[_POSITION[name]], 0.0))
                     for name, feature in _REST.items()]
        self.leading_bound = self.offset + sum(most for *_, most in self.rest)
        # What a reviewer reads of a feature that pushed an answer without any cue to a punt.
        self.pushing = sorted((_POSITION[name], text) for name, text in _NAMES.items() if self.weights[_POSITION[name]] > 0)
        # The first bound of an answer without any cue (``decide``): the cue features are 0, a
        # few are exact from the word counts, the rest at their most favourable value.
        weight = dict(zip(FEATURES, self.weights))
        self.answer_length = [weight["answer_length"] * _length(words_) for words_ in range(_SATURATED + 1)]
        self.question_length = [weight["question_length"] * _length(words_) for words_ in range(_SATURATED + 1)]
        self.digit, self.sentences = weight["answer_digit"], weight["sentences"]
        self.problem, self.closes = weight["states_problem"], weight["question_closes"]
        self.most_why, self.most_statement = (max(weight[name], 0.0) for name in ("asks_why", "generic_statement"))
        self.quick_bound = self.offset + sum(max(w, 0.0) for name, w in weight.items() if name not in _QUICK)

    def logit(self, values) -> float:
        return self.offset + sum(map(operator.mul, self.weights, values))


@functools.cache
def _shipped() -> PuntModel:
    return PuntModel(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


_in_use: list[PuntModel] = []


def loaded() -> PuntModel:
    """The shipped model, read once per process (or the one ``using`` put in place)."""
    return _in_use[-1] if _in_use else _shipped()


@contextlib.contextmanager
def using(model: PuntModel):
    """Every punt decision inside the block is ``model``'s: ``manage.py train_detectors`` fits the
    rephrase model on the decisions of the punt model it has just fitted, before writing either."""
    _in_use.append(model)
    try:
        yield model
    finally:
        _in_use.pop()


_NAMES = {  # feature → how a reviewer reads it, when it pushed towards a punt
    "vague_cue": "vague wording", "deflect_cue": "deflects elsewhere", "generic_ask": "asks only for more",
    "explicit_cue": "stock phrase", "refusal_cue": "declines", "generic_statement": "a general statement",
    "asks_why": "the question asks why", "states_problem": "the user reports a problem",
    "question_length": "a long question",
}


def _explain(cues, values, probability: float, model: PuntModel) -> str:
    parts = [cues.rule["explain"]] if cues.rule else ["no stock cue"]
    parts.append(f"{len(cues.text.split())} words, {'a' if values[_POSITION['figure']] else 'no'} figure, "
                 f"{'steps' if values[_POSITION['steps']] else 'no steps'}")
    if values[_POSITION["question_length"]]:
        parts.append(f"covers {values[_POSITION['question_covered']]:.0%} of the question's words")
    if not cues.rule:
        parts.extend(name for index, name in model.pushing if values[index])
    parts.append(f"probability {probability:.2f}")
    return "; ".join(parts)


def decide(answer: str, question: str, cues, model: PuntModel | None = None) -> dict | None:
    """The signal value when the model puts the answer at or above its threshold, else None.

    The ``LEADING`` features come first, then the others one by one, while an upper bound of the
    logit is kept (the features computed so far, the rest at their most favourable value): once
    it falls under the threshold the answer is decided, without computing the rest. The bound keeps a
    margin far above the rounding of its sums, so the decision is the full model's (a test
    compares them); the probability of a flagged answer is the full logit's.
    """
    model = model or loaded()
    text = cues.text
    lowered, question_words = folded(question), None
    if cues.rule is None and not (cues.explicit or cues.refusal or cues.deflect or cues.vague or cues.generic):
        if text.count(" ") >= UNCUED_WORDS:
            return None  # a long answer without any cue: not scored (speed; none of the corpus's punts)
        # The usual answer: a first bound from the word counts, the prefilters and two cheap regexes.
        question_words = words(lowered)
        bound = (model.quick_bound + model.answer_length[min(len(text.split()), _SATURATED)]
                 + model.question_length[min(len(question_words), _SATURATED)])
        if cues.digit:
            bound += model.digit
        if "why" in lowered:
            bound += model.most_why
        if not _STATEMENT_WORDS.isdisjoint(cues.tokens):
            bound += model.most_statement
        if "?" not in question:
            bound += model.problem * _states_problem(question, lowered, question_words)
        bound += model.sentences * _sentences(text)
        stop = model.cut - _MARGIN
        if bound < stop or bound + model.closes * (_CLOSES.match(lowered) is not None) < stop:
            return None
    turn = _Turn(question, cues, lowered, question_words)
    leading = _leading(turn)
    bound, stop = model.leading_bound + sum(map(operator.mul, model.leading_weights, leading)), model.cut - _MARGIN
    if bound < stop:
        return None
    values = [0.0] * len(FEATURES)
    for index, value in zip(model.leading_positions, leading):
        values[index] = value
    if cues.rule is not None:  # a cue decision: nearly always flagged, so no bound to keep
        for index, feature, _, _ in model.rest:
            values[index] = feature(turn)
    else:
        for index, feature, weight, most in model.rest:
            value = values[index] = feature(turn)
            bound += weight * value - most
            if bound < stop:
                return None
    logit = model.logit(values)
    if logit < model.cut:
        return None
    probability = 1.0 / (1.0 + math.exp(-logit))
    rule = cues.rule or {"phrase": "", "family": "implicit"}
    return {"phrase": rule["phrase"], "family": rule["family"], "probability": round(probability, 3),
            "explain": _explain(cues, values, probability, model)}


# What the first bound reads: the cue features (0 there) and the features it computes or prefilters.
_QUICK = LEADING[:8] + ("answer_length", "answer_digit", "question_length", "sentences", "states_problem",
                        "question_closes", "asks_why", "generic_statement")
_MARGIN = 1e-6  # the bound's sums round by about 1e-15
