"""Each scorer on known inputs, and scorer validation at creation (bad ones: 400 invalid_scorer)."""

from __future__ import annotations

import pytest

from apps.core.errors import ValidationFailed
from apps.experiments import scorers


def test_exact_match_and_contains():
    assert scorers.exact_match(" 30 days\n", "30 days") is True
    assert scorers.exact_match("30 Days", "30 days") is False
    assert scorers.exact_match("30 Days", "30 days", ignore_case=True) is True
    assert scorers.contains("The window is 30 days.", "30 days") is True
    assert scorers.contains("The window is 30 DAYS.", "30 days") is False
    assert scorers.contains("The window is 30 DAYS.", "30 days", ignore_case=True) is True
    assert scorers.contains("anything", "") is False


def test_regex_json_numeric():
    assert scorers.regex_match("Order #1234 shipped", r"#\d{4}\b") is True
    assert scorers.regex_match("Order shipped", r"#\d{4}\b") is False
    assert scorers.json_valid('{"a": 1}') is True
    assert scorers.json_valid("{a: 1}") is False
    schema = {"type": "object", "required": ["refund"], "properties": {"refund": {"type": "boolean"}}}
    assert scorers.json_schema('{"refund": true}', schema) is True
    assert scorers.json_schema('{"refund": "yes"}', schema) is False
    assert scorers.json_schema("not json", schema) is False
    assert scorers.numeric("It costs 1,299.50 dollars", 1299.5) is True
    assert scorers.numeric("about 4.04", 4.0, tolerance=0.05) is True
    assert scorers.numeric("about 4.2", 4.0, tolerance=0.05) is False
    assert scorers.numeric("no number", 4.0) is False


def test_fuzzy_similarity_is_rapidfuzz_ratio_over_100():
    from rapidfuzz import fuzz

    assert scorers.similarity("30 days", "30 days", "fuzzy") == 1.0
    assert scorers.similarity("the window is 30 days", "30 days", "fuzzy") == round(fuzz.ratio("the window is 30 days", "30 days") / 100, 6)
    assert scorers.similarity("abc", "xyz", "fuzzy") == 0.0


def test_tfidf_similarity_is_the_detectors_blend_fitted_on_the_pair():
    from rapidfuzz import fuzz
    from sklearn.feature_extraction.text import TfidfVectorizer

    output, expected = "You can get a refund within 30 days of delivery.", "Refunds are possible within 30 days of delivery."
    blend = 0.25 * fuzz.token_set_ratio(output.lower(), expected.lower()) / 100
    for weight, vectorizer in ((0.4, TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)),
                               (0.35, TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True))):
        matrix = vectorizer.fit_transform([output, expected])
        blend += weight * float((matrix[0] @ matrix[1].T).toarray()[0, 0])

    assert scorers.similarity(output, expected) == pytest.approx(blend, abs=1e-6)
    assert scorers.similarity(expected, expected) == 1.0
    # word order costs the edit distance, not the TF-IDF blend
    assert scorers.similarity("30 days: the refund window", "the refund window: 30 days") > \
        scorers.similarity("30 days: the refund window", "the refund window: 30 days", "fuzzy")


def test_a_similarity_scorer_defaults_to_tfidf_and_passes_at_its_threshold():
    config = scorers.validate_scorers([{"name": "tfidf", "kind": "similarity", "threshold": 0.5},
                                       {"name": "fuzzy", "kind": "similarity", "method": "fuzzy"}])
    output, expected = "the refund window: 30 days", "30 days: the refund window"

    scores = scorers.score_case(output, {"expected_output": expected}, config)

    assert [c["method"] for c in config] == ["tfidf", "fuzzy"]
    assert scores == {"tfidf": scores["tfidf.ratio"] >= 0.5, "tfidf.ratio": scorers.similarity(output, expected),
                      "fuzzy": scorers.similarity(output, expected, "fuzzy")}
    assert scores["tfidf"] is True


def test_signal_checks_reuse_the_detectors():
    assert scorers.punts("I'm sorry, I can't help with that.") is True
    assert scorers.punts("Your refund was issued.") is False
    assert scorers.asks_human("Please talk to a human agent about this.") is True
    assert scorers.asks_human("Your refund was issued.") is False


def test_score_case_applies_every_scorer_and_keeps_posted_scores():
    config = scorers.validate_scorers([
        {"name": "exact", "kind": "exact_match"},
        {"name": "has", "kind": "contains", "value": "days"},
        {"name": "sim", "kind": "similarity", "threshold": 0.5},
        {"name": "no-punt", "kind": "punts"},
        {"name": "judge", "kind": "posted"},
    ])

    scores = scorers.score_case("30 days", {"expected_output": "30 days"}, config, posted={"judge": 0.9, "extra": True})

    assert scores == {"exact": True, "has": True, "sim": True, "sim.ratio": 1.0, "no-punt": True, "judge": 0.9, "extra": True}


@pytest.mark.parametrize(("config", "field"), [
    ([{"name": "r", "kind": "regex", "pattern": "("}], "scorers[0]"),
    ([{"name": "r", "kind": "regex", "pattern": "(a+)+$"}], "scorers[0]"),
    ([{"name": "r", "kind": "regex", "pattern": "a" * 301}], "scorers[0]"),
    ([{"name": "x", "kind": "nope"}], "scorers[0]"),
    ([{"name": "s", "kind": "json_schema", "schema": {"type": "nonsense"}}], "scorers[0]"),
    ([{"name": "n", "kind": "numeric", "tolerance": -1}], "scorers[0]"),
    ([{"name": "t", "kind": "similarity", "threshold": 2}], "scorers[0]"),
    ([{"name": "t", "kind": "similarity", "method": "embedding"}], "scorers[0]"),
    ([{"name": "a", "kind": "json_valid"}, {"name": "a", "kind": "exact_match"}], "scorers[1]"),
    ("exact", "scorers"),
])
def test_bad_scorers_are_invalid_scorer(config, field):
    with pytest.raises(ValidationFailed) as raised:
        scorers.validate_scorers(config)

    assert (raised.value.code, raised.value.field) == ("invalid_scorer", field)
