"""Each detector's decision function on labelled examples, look-alikes that must not fire included."""

import datetime as dt
import uuid

import pytest

from apps.core.errors import ValidationFailed
from apps.detection.detectors.agent_punted import _phrase_pattern, agent_punted, phrase_search
from apps.detection.detectors.base import CompiledRule, Detection, TurnData
from apps.detection.detectors.escalation import asked_for_human, escalation, may_escalate
from apps.detection.detectors.knowledge_gap import knowledge_gap
from apps.detection.detectors.low_confidence import low_confidence
from apps.detection.detectors import verdicts
from apps.detection.detectors.runner import run_detectors
from apps.detection.detectors.sampling import sampled
from apps.detection.detectors.text import folded
from apps.detection.detectors.text import words as words_of
from apps.detection.detectors.tool_error import tool_error
from apps.detection.config import (
    DEFAULT_PUNT_PHRASES,
    DetectorConfig,
    effective_config,
    validate_params,
)

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def turn(question="", answer="", *, minutes_ago=0, session="s1", user="u1", **extra) -> TurnData:
    return TurnData(
        id=extra.pop("id", uuid.uuid4()), session_id=session, end_user_id=user,
        created_at=NOW - dt.timedelta(minutes=minutes_ago), question=question, answer=answer, **extra
    )


def kinds(result) -> list[tuple]:
    return sorted((det.kind, det.turn_id) for det in result.detections)


def run(sessions, config=None, **kwargs):
    return run_detectors(sessions, config or only(), now=NOW, **kwargs)


def only(*names) -> DetectorConfig:
    return DetectorConfig(enabled=frozenset(names))


# The first answer matters to the rephrase model: a vague one that the user asks past, or a
# specific one that they build on.
VAGUE = "It depends on your account."
RESET = "Click 'Forgot password' on the sign-in page and we'll email you a reset link within a minute."


@pytest.mark.parametrize(("first", "answer", "second", "fires"), [
    ("How do I reset my password?", VAGUE, "how can I change my password", True),
    ("How do I export my data to CSV?", VAGUE, "how to export data as csv file", True),
    ("Where is my order #1234?", VAGUE, "where is my order 1234, it has not arrived", True),
    ("How do I reset my password?", RESET, "And what if I never get the reset email?", False),  # follow-up
    ("How do I reset my password?", RESET, "What about changing my email address?", False),  # follow-up
    ("How do I reset my password?", RESET, "Thanks, that worked!", False),  # acknowledgement
    ("How do I reset my password?", RESET, "What are your opening hours?", False),  # new topic
    ("Which plans include SSO?", "SSO (SAML and OIDC) is in the Business and Enterprise plans.", "Can I pay by invoice?", False),
])
def test_rephrase_labelled_pairs(first, answer, second, fires):
    a, b = turn(first, answer, minutes_ago=3), turn(second, "Another answer.", minutes_ago=1)

    result = run([[a, b]], only("rephrase"))

    assert kinds(result) == ([("rephrase", a.id)] if fires else [])


def test_rephrase_outside_the_window_does_not_fire():
    a, b = turn("How do I reset my password?", minutes_ago=30), turn("how can I change my password", minutes_ago=1)

    assert run([[a, b]], only("rephrase")).detections == []


@pytest.mark.parametrize(("question", "fires"), [
    ("Let me talk to a human please", True),
    ("Can I speak with your manager?", True),
    ("connect me to support", True),
    ("I want a real person", True),
    ("Please escalate this", True),
    ("How do I add a manager to my team?", False),
    ("Is customer support included in the Pro plan?", False),
    ("Our bot talks to the human resources API", False),
])
def test_escalation_labelled_questions(question, fires):
    t = turn(question)

    assert (escalation(t) is not None) is fires


@pytest.mark.parametrize("question", [
    "TALK TO A HUMAN", "Speak with your SUPERVİSOR", "connect me to ſupport", "I NEED A REPRESENTATİVE",
    "escalate thıs", "put me through to someone from billing", "get me a manager!", "Customer Service now",
    "transfer me to an operator", "chat with a live agent",
])
def test_the_escalation_prefilter_passes_every_question_a_family_matches(question):
    # Given questions a cue family matches, in any case, with the letters re.IGNORECASE equates
    assert asked_for_human(question)

    # Then the cheap prefilter never rules one out
    assert may_escalate(question)


def test_escalation_from_a_reported_signal():
    assert escalation(turn("Fine.", signals={"escalation": True})) == {"reason": "signal", "explain": "reported by the application"}
    assert escalation(turn("Fine.", signals={"escalation": False})) is None


@pytest.mark.parametrize(("answer", "fires"), [
    ("I'm sorry, I don't know the answer to that.", True),
    ("I don’t know.", True),  # curly apostrophe
    ("Please contact support for a refund.", True),
    ("I am unable to access your account.", True),
    ("Don't worry, I can help with that: open Settings.", False),
    ("I know you can't wait, so here are the steps.", False),
    ("Our support contacts page lists the hours.", False),
])
def test_agent_punted_labelled_answers(answer, fires):
    assert (agent_punted(answer, DEFAULT_PUNT_PHRASES) is not None) is fires


@pytest.mark.parametrize("phrases", [
    tuple(DEFAULT_PUNT_PHRASES),
    ("je ne sais pas", "weiß nicht", "ΔΕΝ ΞΈΡΩ", "no sé", "ask a human"),
    ("it's", "ok", "x"),  # a phrase too short for a needle: no prefilter
])
def test_the_punt_prefilter_finds_exactly_what_the_pattern_finds(phrases):
    # Given answers built from the phrases and other words, in mixed case, with the letters
    # re.IGNORECASE also equates (ı, İ, ſ, the Kelvin sign) and both apostrophes
    import random

    rng = random.Random(9)
    words = [*phrases, "sorry", "please", "the", "order", "SUPPORT", "don’t", "KNOW", "İ", "ı", "ſure", "\u212a", "help"]
    pattern = _phrase_pattern(phrases)
    search = phrase_search(phrases)
    hits = 0
    swaps = {"i": "ıİI", "s": "ſS", "k": "\u212aK", "'": "’"}
    for _ in range(3000):
        answer = " ".join(rng.choice(words) for _ in range(rng.randint(1, 6)))
        answer = "".join(rng.choice(swaps.get(c, c.upper())) if rng.random() < 0.3 else c for c in answer)

        # Then the prefiltered search finds the same phrase as the pattern, or nothing as it does,
        # and so does its test on the words of the folded answer
        expected, found = pattern.search(answer), search(answer)
        assert (found and found.group(0)) == (expected and expected.group(0)), answer
        text = folded(answer).replace("’", "'")
        expected, found = pattern.search(text), search(text, set(words_of(text)))
        assert (found and found.group(0)) == (expected and expected.group(0)), text
        hits += expected is not None
    assert hits > 100


def test_agent_punted_uses_the_project_phrase_list():
    assert agent_punted("Ask your account manager.", ["ask your account manager"])["phrase"] == "ask your account manager"
    assert agent_punted("I don't know.", ["ask your account manager"]) is None


@pytest.mark.parametrize(("signals", "metadata", "expected"), [
    ({"confidence": 0.2}, {}, {"confidence": 0.2, "threshold": 0.5}),
    ({}, {"confidence": 0.49}, {"confidence": 0.49, "threshold": 0.5}),
    ({"confidence": 0.9}, {"confidence": 0.1}, None),  # the signal wins over metadata
    ({"confidence": 0.5}, {}, None),  # not strictly below
    ({"confidence": True}, {}, None),  # not a number
    ({}, {"confidence": "low"}, None),
    ({}, {}, None),
])
def test_low_confidence(signals, metadata, expected):
    assert low_confidence(turn(signals=signals, metadata=metadata), 0.5) == expected


@pytest.mark.parametrize(("retrieved", "attempted", "expected"), [
    ([], True, {"reason": "empty"}),
    ([{"id": "a", "score": 0.1}, {"id": "b", "score": 0.2}], False, {"reason": "low_score", "max_score": 0.2, "documents": 2}),
    ([{"id": "a", "score": 0.1}, {"id": "b", "score": 0.8}], True, None),
    ([], False, None),  # no retrieval at all is not a gap
    (["doc without score"], True, None),
])
def test_knowledge_gap(retrieved, attempted, expected):
    assert knowledge_gap(turn(retrieved=retrieved, retrieval_attempted=attempted), 0.3) == expected


def test_tool_error():
    assert tool_error(turn(step_errors=["search"])) == {"failed": ["search"]}
    assert tool_error(turn(tool_calls=[{"name": "refund", "error": "timeout"}])) == {"failed": ["refund"]}
    assert tool_error(turn(tool_calls=[{"name": "refund", "status": "failed"}])) == {"failed": ["refund"]}
    assert tool_error(turn(tool_calls=[{"name": "refund", "status": "ok", "error": None}])) is None


def test_random_sample_is_deterministic_and_near_the_percentage():
    ids = [uuid.UUID(int=n) for n in range(20_000)]

    chosen = [i for i in ids if sampled(i, 5.0)]

    assert chosen == [i for i in ids if sampled(i, 5.0)]
    assert 800 < len(chosen) < 1200
    assert not any(sampled(i, 0) for i in ids[:100])
    assert all(sampled(i, 100) for i in ids[:100])


@pytest.mark.parametrize(("answer", "signals", "minutes_ago", "fires"), [
    ("", {}, 60, True),  # empty answer
    ("I don't know.", {}, 60, True),  # punted
    ("Which account do you mean?", {}, 60, True),  # a question back, never answered
    ("To reset it, open Settings, choose Security and click Reset password.", {}, 60, False),  # complete
    ("", {}, 10, False),  # still inside the window
    ("", {"thumbs_up": True}, 60, False),  # the user acted
])
def test_abandonment(answer, signals, minutes_ago, fires):
    last = turn("How do I reset my password?", answer, minutes_ago=minutes_ago, signals=signals)

    result = run([[last]], only("abandonment", "agent_punted"))

    assert [k for k, _ in kinds(result) if k == "abandonment"] == (["abandonment"] if fires else [])


def test_abandonment_only_for_the_last_turn_and_rechecked_while_the_window_is_open():
    first = turn("How do I reset my password?", "", minutes_ago=90)
    last = turn("Thanks", "", minutes_ago=5)

    result = run([[first, last]], only("abandonment"))

    assert kinds(result) == []
    assert result.recheck_after == {last.id: last.created_at + dt.timedelta(minutes=30)}


def test_recurrence_same_user_same_issue_within_two_hours():
    earlier = turn("My invoice PDF download fails", minutes_ago=60, session="old")
    other_topic = turn("How do I add a teammate?", minutes_ago=50, session="old2")
    too_old = turn("My invoice PDF download fails", minutes_ago=200, session="older")
    again = turn("the invoice pdf download still fails", session="new")
    new_topic = turn("What are your opening hours?", session="new2")

    result = run([[again], [new_topic]], only("recurrence"), history=[earlier, other_topic, too_old])

    assert kinds(result) == [("recurrence", again.id)]
    assert result.detections[0].value["previous_turn_id"] == str(earlier.id)


def test_recurrence_ignores_other_users():
    earlier = turn("My invoice PDF download fails", minutes_ago=60, session="old", user="someone-else")
    again = turn("the invoice pdf download still fails", session="new")

    assert run([[again]], only("recurrence"), history=[earlier]).detections == []


def test_rules_emit_their_kind_with_the_rule_id_as_dedupe_key():
    from apps.detection.rules.parser import parse

    rule = CompiledRule(id=7, signal_kind="enterprise_unhappy", ast=parse('metadata.plan == "enterprise" and signals.thumbs_down'))
    hit = turn(metadata={"plan": "enterprise"}, signals={"thumbs_down": True})
    miss = turn(metadata={"plan": "free"}, signals={"thumbs_down": True})

    result = run([[hit], [miss]], only(), rules=[rule])

    assert result.detections == [Detection(hit.id, "enterprise_unhappy", {"rule_id": "7"}, "rule:7")]


def test_a_session_passed_again_gets_the_same_detections_from_the_verdict_memo():
    session = [
        turn("I want to talk to a human", "I'm sorry, I don't know.", minutes_ago=9),
        turn("THIS IS USELESS, ANSWER ME", "Your refund of $40 will be credited by Friday.", minutes_ago=8),
    ]
    config = only("agent_punted", "escalation", "frustration", "factual_claim")
    verdicts.clear_memos()
    first = run([session], config)

    for detection in first.detections:
        detection.value["changed"] = True  # a caller's change to one pass's values
    again = run([session], config)

    assert sorted(d.kind for d in again.detections) == ["agent_punted", "escalation", "factual_claim", "frustration"]
    assert all("changed" not in d.value for d in again.detections)
    verdicts.clear_memos()
    assert [(d.kind, d.value) for d in run([session], config).detections] == [(d.kind, d.value) for d in again.detections]


def test_the_verdict_memos_are_bounded_across_every_project(monkeypatch):
    """A worker serves many projects (each phrase list has its memo): their entries together
    stay under one bound, so no project's texts are kept without limit."""
    monkeypatch.setattr(verdicts, "VERDICTS_MAX", 10)
    verdicts.clear_memos()
    for project in range(8):
        memo = verdicts.verdicts("agent_punted", (f"phrase of project {project}",))
        memo.update({(f"answer {i}", "question"): None for i in range(3)})
    assert sum(map(len, verdicts._VERDICTS.values())) <= 10 + 3  # the bound, and at most one pass beyond it
    verdicts.clear_memos()


def test_disabled_detectors_do_not_run():
    t = turn("talk to a human", "I don't know.", signals={"confidence": 0.1})

    assert kinds(run([[t]], only("agent_punted"))) == [("agent_punted", t.id)]


def test_params_validation_and_effective_config():
    class Row:
        def __init__(self, detector, enabled, params):
            self.detector, self.enabled, self.params = detector, enabled, params

    config = effective_config([Row("rephrase", False, {}), Row("low_confidence", True, {"threshold": 0.7})])

    assert "rephrase" not in config.enabled and "low_confidence" in config.enabled
    assert config.p("low_confidence") == {"threshold": 0.7}
    assert config.p("recurrence")["window_seconds"] == 7200
    assert validate_params("agent_punted", {"phrases": "No idea\n\n no IDEA \nAsk a human"}) == {"phrases": ["no idea", "ask a human"]}
    with pytest.raises(ValidationFailed, match="between 0 and 1"):
        validate_params("low_confidence", {"threshold": 3})
    with pytest.raises(ValidationFailed, match="no parameter 'bogus'"):
        validate_params("rephrase", {"bogus": 1})
    with pytest.raises(ValidationFailed, match="must be a number"):
        validate_params("rephrase", {"window_seconds": "soon"})


@pytest.mark.parametrize("text", [
    "How do I reset my password?", "how can I change my password", "Where is my order #1234?", "",
    "  Thanks,\tthat   worked!\n", "I", "ok", "Ünïcödé façade — naïve café", "e-mail me @ 5pm: x_y z9",
])
def test_similarity_features_are_scikit_learns_analyzers(text):
    from sklearn.feature_extraction.text import CountVectorizer

    from apps.detection.similarity import char_features, word_features

    words = CountVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b").build_analyzer()
    chars = CountVectorizer(analyzer="char_wb", ngram_range=(3, 5)).build_analyzer()

    assert (word_features(text), char_features(text)) == (words(text), chars(text))


def test_similarity_scores_are_scikit_learns_tfidf_cosines():
    import numpy as np
    from rapidfuzz import fuzz
    from sklearn.feature_extraction.text import TfidfVectorizer

    from apps.detection.similarity import TfidfFuzzySimilarity

    pairs = [("How do I reset my password?", "how can I change my password"),
             ("Where is my order #1234?", "where is my order 1234, it has not arrived"),
             ("Which plans include SSO?", "what plan do I need for SSO")]
    texts = list(dict.fromkeys(t for pair in pairs for t in pair))
    expected = []
    cosines = {}
    for weight, vectorizer in ((0.4, TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)),
                               (0.35, TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True))):
        matrix = vectorizer.fit_transform(texts)
        cosines[weight] = (matrix @ matrix.T).toarray()
    for a, b in pairs:
        i, j = texts.index(a), texts.index(b)
        fuzzy = fuzz.token_set_ratio(a, b, processor=str.lower) / 100
        expected.append(0.25 * fuzzy + 0.4 * cosines[0.4][i, j] + 0.35 * cosines[0.35][i, j])

    assert np.allclose(TfidfFuzzySimilarity().pair_scores(pairs), expected)
