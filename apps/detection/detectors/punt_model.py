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
import re
from pathlib import Path

from apps.detection.detectors.text import folded, unquoted, words

MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "punt_model.json"

FEATURES = (
    # cheap: the cue pass and the word counts
    "rule_explicit", "rule_refusal", "rule_implicit", "explicit_cue", "refusal_cue", "deflect_cue", "vague_cue",
    "generic_ask", "answer_length", "answer_digit", "question_covered", "new_words", "question_length",
    # shape: one regex each
    "clarifying", "asks_why", "states_problem", "steps", "verdict", "generic_statement", "addresses_user",
    "sentences", "figure", "question_asks", "question_closes", "hands_over", "courtesy_only",
)
CHEAP = 13
# An answer of this many words or more, without any cue, is not scored: a punt without stock words
# is short (the longest on the development part has 26), and scoring every long answer would
# halve the detector pass's speed. Part of the decision: the figures of training include it.
UNCUED_WORDS = 30

_STOP = frozenset(
    "a an the i me my we our you your it its is are was were be been am do does did doing have has had "
    "to of in on at for from with by about as into and or but if so than then that this these those "
    "there here what which who whom whose when where why how can could would should will shall may might "
    "must not no yes please pls hi hello hey thanks thank just also too very really any some "
    "get got up out off over again there's it's i'm don't can't im dont cant u ur".split()
)
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
_DIGIT = re.compile(r"\d")
_LOG_LONG = 5.0  # log1p(words) / 5: 1.0 at about 150 words


def _stems(tokens) -> set[str]:
    return {token[:5] for token in tokens if len(token) > 2 and token not in _STOP}


def cheap_features(question: str, cues) -> tuple[list[float], set[str]]:
    """The first ``CHEAP`` features (from the cue pass and word counts), and the question's stems."""
    family = cues.rule["family"] if cues.rule else ""
    question_words = words(folded(question))
    asked = _stems(question_words)
    said = _stems(cues.tokens)
    covered = len(asked & said) / len(asked) if asked else 0.0
    return [
        float(family == "explicit"), float(family == "refusal"), float(family == "implicit"),
        float(cues.explicit), float(cues.refusal), float(cues.deflect), float(cues.vague), float(cues.generic),
        min(1.0, math.log1p(len(cues.text.split())) / _LOG_LONG), float(_DIGIT.search(cues.text) is not None),
        covered, min(len(said - asked), 20) / 20.0, min(1.0, math.log1p(len(question_words)) / _LOG_LONG),
    ], asked


def shape_features(question: str, cues) -> list[float]:
    """The remaining features: one regex each over the answer (or the question)."""
    from apps.detection.detectors.agent_punted import _APOLOGY, _CLARIFYING, _NUMBER, _VERDICT, _clauses

    text = cues.text
    lowered_question = folded(question)
    clarifying = "?" in text and _CLARIFYING.search(unquoted(text, reported=False)[0]) is not None
    return [
        float(clarifying), float(_WHY.search(lowered_question) is not None),
        float("?" not in question and _PROBLEM.search(lowered_question) is not None),
        float(_STEPS.search(text) is not None), float(_VERDICT.search(text) is not None),
        float(_GENERIC_STATEMENT.search(text) is not None), float(_ADDRESSES_USER.search(text) is not None),
        min(len(_SENTENCE_END.findall(text)), 6) / 6.0, float(_NUMBER.search(text) is not None),
        float(_ASKS.search(lowered_question) is not None), float(_CLOSES.match(lowered_question) is not None),
        float(_HANDS_OVER.search(text) is not None),
        float(all(_APOLOGY.match(clause) for clause in _clauses(text))),
    ]


def answer_features(question: str, cues) -> list[float]:
    """Every feature of ``FEATURES``, in order: what training fits on."""
    return cheap_features(question, cues)[0] + shape_features(question, cues)


class PuntModel:
    def __init__(self, data: dict) -> None:
        if tuple(data["features"]) != FEATURES:
            raise ValueError("the punt model file does not match punt_model.FEATURES: retrain it (manage.py train_detectors)")
        self.data = data
        self.weights = [float(w) for w in data["weights"]]
        self.offset = float(data["offset"])
        self.min_probability = float(data["min_probability"])
        self.cut = math.log(self.min_probability / (1 - self.min_probability)) - 1e-9
        self.best_rest = sum(max(w, 0.0) for w in self.weights[CHEAP:])

    def logit(self, values) -> float:
        return self.offset + sum(w * v for w, v in zip(self.weights, values))


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


def _explain(cues, values, probability: float) -> str:
    f = dict(zip(FEATURES, values))
    parts = [cues.rule["explain"]] if cues.rule else ["no stock cue"]
    parts.append(f"{len(cues.text.split())} words, {'a' if f['figure'] else 'no'} figure, "
                 f"{'steps' if f['steps'] else 'no steps'}")
    if f["question_length"]:
        parts.append(f"covers {f['question_covered']:.0%} of the question's words")
    if not cues.rule:
        model = loaded()
        pushed = [name for name, weight in zip(FEATURES, model.weights) if weight > 0 and f[name] and name in _NAMES]
        parts.extend(_NAMES[name] for name in pushed)
    parts.append(f"probability {probability:.2f}")
    return "; ".join(parts)


def decide(answer: str, question: str, cues, model: PuntModel | None = None) -> dict | None:
    """The signal value when the model puts the answer at or above its threshold, else None."""
    model = model or loaded()
    if cues.rule is None and not (cues.explicit or cues.refusal or cues.deflect or cues.vague or cues.generic) \
            and cues.text.count(" ") >= UNCUED_WORDS:
        return None  # a long answer without any cue: not scored (speed; none of the corpus's punts)
    cheap, _ = cheap_features(question, cues)
    partial = model.offset + sum(w * v for w, v in zip(model.weights, cheap))
    if partial + model.best_rest < model.cut:
        return None
    values = cheap + shape_features(question, cues)
    logit = model.logit(values)
    if logit < model.cut:
        return None
    probability = 1.0 / (1.0 + math.exp(-logit))
    rule = cues.rule or {"phrase": "", "family": "implicit"}
    return {"phrase": rule["phrase"], "family": rule["family"], "probability": round(probability, 3),
            "explain": _explain(cues, values, probability)}
