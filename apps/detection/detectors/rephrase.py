"""A user who asks the same thing again in the next turn: the pairs and what describes them.

Word overlap alone is the wrong feature for this decision: a follow-up reuses the previous
question's words ("how do I add a driver" → "how do I remove a driver"), the same question about
another entity reuses all but one ("… on the 500 package" → "and on the 900 one?"), and a real
rephrase often shares none ("refund" → "money back"). So each (turn, next turn) pair of a
session within the window is described by ``pair_features`` — several similarity views, entity
differences, repair and follow-up cues, whether the first answer served — and a learned model
(``apps.detection.detectors.rephrase_model``) turns them into a probability. ``pair_features`` is the one
feature extraction: ``manage.py train_detectors`` fits on it and the worker scores with it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from itertools import pairwise

import numpy as np
from rapidfuzz import fuzz, process

from apps.detection.detectors.base import TurnData
from apps.detection.detectors.text import STOP_WORDS
from apps.detection.detectors.tool_error import tool_error
from apps.detection.similarity import word_cosines

# The features, in the model's column order; ``semantic_cosine`` follows them when the semantic
# view is on (``apps.detection.semantic``). Chosen by grouped cross-validation on the development
# part (``apps.detection.training``): of 24 candidates (a character TF-IDF view, the partial
# fuzzy ratio, a near-duplicate test, a traded word, separate number and name differences, a
# thanks cue, the length ratio, the time gap, an unanswered request for a figure …) the ones that
# did not raise the cross-validated F1 were left out. The first ``CHEAP`` are read from the
# questions' word counts, the cue regexes, the punt decision and the answer's length, layout and
# questions; the rest need the texts analysed (``lexical_features``).
FEATURES = (
    "repair_cue", "follow_up_cue", "answer_failed", "answer_length", "answer_detail", "longer_by",
    "answer_asks",
    "word_cosine", "ratio", "token_set_ratio", "entity_differs", "answer_overlap", "uses_answer_words",
)
CHEAP = 7
SEMANTIC_FEATURE = "semantic_cosine"

_REPAIR = re.compile(
    r"\b(?:i\s+mean[t]?|i\s+meant|no,?\s+i\s+(?:asked|said|mean|want(?:ed)?)|that'?s\s+not\s+what\s+i(?:\s+(?:asked|meant|said|wanted))?|"
    r"not\s+what\s+i\s+(?:asked|meant|said)|you\s+didn'?t\s+(?:answer|understand|get)|"
    r"(?:didn'?t|did\s+not|doesn'?t|does\s+not)\s+answer|again\s*:|i\s+said|to\s+be\s+clear|"
    r"let\s+me\s+(?:rephrase|put\s+it)|in\s+other\s+words|my\s+question\s+(?:is|was)|"
    r"i'?m\s+asking|i\s+am\s+asking|i\s+asked|once\s+again|still\s+(?:don'?t|not)|read\s+my\s+question|"
    r"you'?re\s+not\s+(?:listening|answering)|that\s+doesn'?t\s+help|not\s+helpful|"
    r"what\s+i\s+(?:need|want)\s+to\s+know|simple\s+question|rephras|i\s+know\s+that|specifically|"
    r"exactly(?!\s+what\s+i)|actually|"
    r"i'?m\s+not\s+asking|i'?m\s+telling\s+you|you\s+(?:already|just)\s+said|"
    r"you\s+keep\s+(?:saying|dodging|repeating|telling)|"
    r"already\s+(?:did|done|tried|checked)|(?:done|tried|did)\s+that(?:\s+already)?|"
    r"still\s+(?:says|shows|get|getting|the\s+same|doesn'?t|does\s+not|can'?t|won'?t|isn'?t|nothing)|"
    r"give\s+me\s+(?:a|the)\s+(?:number|figure|price|date|answer)|the\s+actual|"
    # "ok but …", "yes but why …", "oui mais où": the answer was heard and did not serve
    r"^\W*(?:ok(?:ay)?|right|yes|yeah|yep|sure|fine|i\s+know|i\s+get\s+that|understood|ja|oui|s[ií])\b"
    r"[\s,.!]*(?:but|aber|mais|pero)\b|"
    r"^\W*(?:yes|yeah|ok|right)?[\s,]*i\s+know\b|"
    # a correction: "no, how much notice do I give", "not cancel — pause", "not collect, DELIVER"
    r"^\W*(?:no|nope|not)\b(?![\s,]+(?:thanks|thank|worries|problem|need|rush|that'?s\s+all|that'?s\s+it)))",
    re.IGNORECASE,
)
# A repair cue needs one of these words: the cue pattern runs only on questions holding one.
_REPAIR_WORDS = frozenset(
    "mean meant asked said not didn't didnt doesn't doesnt did does again clear rephrase rephrased rephrasing put words "
    "question asking asked still listening answering help helpful need want simple know specifically exactly actually but "
    "no nope telling keep already done tried give actual ja oui si sí".split()
)
_FOLLOW_UP = re.compile(
    r"^\W*(?:and|also|plus|what\s+about|how\s+about|what\s+if|then|another|one\s+more|"
    r"follow[-\s]?up|next|what\s+else|besides|as\s+well|same\s+for|how\s+do\s+i\s+then)\b"
    # … or an addition anywhere: "for my husband too", "a line for my son as well", "also, …"
    r"|\b(?:as\s+well|also)\b|\btoo\b(?=\W*(?:please|pls|thanks|\?|$|,|\.))",
    re.IGNORECASE,
)
# The answer asks the user something (a clarifying question: the next message answers it), not
# counting the stock closing "anything else I can help with?".
# A sentence ending in "?": matched only from a sentence's start (the lookbehind), so a long
# answer is scanned once, not once per position.
_ASKS = re.compile(r"(?:^|(?<=[.!?\n]))[^.!?\n]*\?")
_STOCK_QUESTION = re.compile(r"anything\s+else|help\s+(?:you\s+)?with|any\s+(?:other|more)\s+questions", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_NUMBER = re.compile(r"(?<![\w])[#£$€]?\w*\d[\w./:-]*")
_NAME = re.compile(r"(?<=[\w,;)] )[A-Z][\w'’-]+")
_DETAIL = re.compile(r"\d|>|→|»|^\s*[-*•]|\b[A-Z][a-z]+ (?:>|→)", re.MULTILINE)
_STOP = STOP_WORDS


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _content(words) -> set[str]:
    return set(words).difference(_STOP)


def first_cue(pattern: re.Pattern, text: str) -> str:
    found = pattern.search(text)
    return found.group(0).strip().lower() if found else ""


def rephrase_candidates(session: list[TurnData], window_seconds: int) -> list[tuple[TurnData, TurnData]]:
    """(turn, next turn) pairs of one session (sorted by time) within the window, both questions
    non-empty: every such pair is scored (cues are features, not filters)."""
    window = dt.timedelta(seconds=window_seconds)
    pairs = []
    for current, following in pairwise(session):
        if current.created_at is None or following.created_at is None:
            continue
        if following.created_at - current.created_at > window:
            continue
        if not following.question.strip() or not current.question.strip():
            continue
        pairs.append((current, following))
    return pairs


class _Text:
    """What the features read from one text, computed once per text (``_TEXTS``); the entities
    only for a question (``entities``: an answer's are never read, and answers are long)."""

    __slots__ = ("text", "words", "content", "_entities")

    def __init__(self, text: str):
        self.text = text
        self.words = _words(text)
        self.content = _content(self.words)
        self._entities = None

    def entities(self) -> tuple[set, set]:
        """(numbers and ids, capitalised names) of the text."""
        if self._entities is None:
            text = self.text
            self._entities = (
                {n.lower().strip("#£$€.,:-") for n in _NUMBER.findall(text)},
                {n.lower() for n in _NAME.findall(text) if n.lower() not in _STOP},
            )
        return self._entities


# text → its ``_Text``, per process: a session is re-examined whenever a turn lands and its
# earlier questions and answers come back each time. Bounded: cleared whole before a pass.
_TEXTS: dict[str, _Text] = {}
_TEXTS_MAX = 20_000


def _differs(a: set, b: set) -> float:
    """1 when both texts name such entities and none is shared (another order, another city)."""
    return 1.0 if a and b and not a & b else 0.0


def _parser():
    texts = _TEXTS
    if len(texts) >= _TEXTS_MAX:
        texts.clear()

    def parsed(text: str) -> _Text:
        found = texts.get(text)
        if found is None:
            found = texts[text] = _Text(text)
        return found

    return parsed


# question → (words, repair cue, follow-up cue); answer → (answer_length, answer_detail): per
# process, like ``_TEXTS`` (a question is the second text of one pair and the first of the next,
# and a session re-examined when a turn lands brings its texts back). Cleared with ``_TEXTS``.
_QUESTION_CUES: dict[str, tuple[int, str, str]] = {}
_ANSWER_SHAPES: dict[str, tuple[float, float, float]] = {}
_LOG_LONG, _LOG_8 = math.log(200.0), math.log(8.0)


def _question_cues(text: str) -> tuple[int, str, str]:
    found = _QUESTION_CUES.get(text)
    if found is None:
        lowered = text.lower()
        repair = first_cue(_REPAIR, text) if not _REPAIR_WORDS.isdisjoint(_WORD.findall(lowered)) else ""
        found = _QUESTION_CUES[text] = (len(text.split()) or 1, repair, first_cue(_FOLLOW_UP, text))
    return found


def _asks(text: str) -> float:
    if "?" not in text:
        return 0.0
    return 1.0 if any(not _STOCK_QUESTION.search(question) for question in _ASKS.findall(text)) else 0.0


def _answer_shape(text: str) -> tuple[float, float, float]:
    """(answer_length, answer_detail, answer_asks) of an answer."""
    found = _ANSWER_SHAPES.get(text)
    if found is None:
        found = _ANSWER_SHAPES[text] = (
            min(1.0, math.log1p(len(text.split())) / _LOG_LONG),
            min(1.0, len(_DETAIL.findall(text)) / 5.0) if text else 0.0,
            _asks(text),
        )
    return found


def clear_memos() -> None:
    for memo in (_TEXTS, _QUESTION_CUES, _ANSWER_SHAPES):
        memo.clear()


def cheap_features(flat: list[tuple[TurnData, TurnData]], *, punted: set) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The first ``CHEAP`` columns of every pair of ``flat`` (the rest left 0), and each pair's
    (repair cue, follow-up cue) for the explanation. ``punted``: ids of turns whose answer the
    punt detector flagged. Nothing here tokenises an answer: its length is its whitespace words."""
    if len(_QUESTION_CUES) >= _TEXTS_MAX or len(_ANSWER_SHAPES) >= _TEXTS_MAX:
        _QUESTION_CUES.clear()
        _ANSWER_SHAPES.clear()
    columns = []
    cues = []
    log, log_8 = math.log, _LOG_8
    for a, b in flat:
        length_a = _question_cues(a.question)[0]
        length_b, repair, follow = _question_cues(b.question)
        cues.append((repair, follow))
        failed = a.id in punted or ((a.step_errors or a.tool_calls) and tool_error(a))
        answer_length, answer_detail, answer_asks = _answer_shape(a.answer)
        longer_by = log(length_b / length_a) / log_8
        columns.append((
            1.0 if repair else 0.0, 1.0 if follow else 0.0, 1.0 if failed else 0.0, answer_length, answer_detail,
            -1.0 if longer_by < -1.0 else 1.0 if longer_by > 1.0 else longer_by, answer_asks,
        ))
    matrix = np.zeros((len(flat), len(FEATURES)), dtype=np.float64)
    if columns:
        matrix[:, :CHEAP] = columns
    return matrix, cues


def lexical_features(groups: list[list[tuple[TurnData, TurnData]]], matrix: np.ndarray, rows=None) -> None:
    """Fill the columns from ``CHEAP`` on of ``matrix`` (the pairs of ``groups``, flattened) for
    the pairs at positions ``rows`` (None: every pair): the word TF-IDF view (IDF fitted on a
    session's questions), rapidfuzz's ratio (the two questions' edit distance) and token-set ratio
    (one question's words inside the other's), a different entity, and how the first answer
    relates to both questions."""
    flat = [pair for group in groups for pair in group]
    wanted = range(len(flat)) if rows is None else rows
    if not len(wanted):
        return
    parsed = _parser()
    word = word_cosines([[(a.question, b.question) for a, b in group] for group in groups], keep=rows)
    columns = []
    for row in wanted:
        a, b = flat[row]
        qa, qb, answer = parsed(a.question), parsed(b.question), parsed(a.answer)
        (numbers_a, names_a), (numbers_b, names_b) = qa.entities(), qb.entities()
        content_a, content_b = qa.content, qb.content
        other_entity = (numbers_a and numbers_b and numbers_a.isdisjoint(numbers_b)) or (
            names_a and names_b and names_a.isdisjoint(names_b))
        columns.append((
            1.0 if other_entity else 0.0,
            len(content_a & answer.content) / len(content_a) if content_a else 0.0,
            len(content_b & (answer.content - content_a)) / len(content_b) if content_b else 0.0,
        ))
    rows = np.asarray(wanted, dtype=np.int64)
    matrix[rows, CHEAP] = word[rows]
    lefts = [flat[row][0].question.lower() for row in wanted]
    rights = [flat[row][1].question.lower() for row in wanted]
    for column, scorer in ((CHEAP + 1, fuzz.ratio), (CHEAP + 2, fuzz.token_set_ratio)):
        # One C++ call for a batch; direct calls for a session's few pairs (the batch call's set-up
        # costs more than scoring a handful). The same scorer either way.
        ratios = (process.cpdist(lefts, rights, scorer=scorer, dtype=np.float64, workers=1) if len(lefts) >= 32
                  else np.fromiter(map(scorer, lefts, rights), dtype=np.float64, count=len(lefts)))
        matrix[rows, column] = ratios / 100.0
    matrix[rows, CHEAP + 3:] = columns


def pair_features(
    groups: list[list[tuple[TurnData, TurnData]]], *, punted: set,
) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """The ``FEATURES`` matrix of every pair (flattened over ``groups``, one group per session),
    and each pair's (repair cue, follow-up cue): what training fits on. A worker computes the
    same columns in stages and skips those that cannot change its decision
    (``rephrase_model.score_pairs``)."""
    flat = [pair for group in groups for pair in group]
    matrix, cues = cheap_features(flat, punted=punted)
    if flat:
        lexical_features(groups, matrix)
    return matrix, cues
