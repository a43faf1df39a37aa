"""The customer-rule language: valid rules, errors with positions, and nothing ever evaluated as code."""

import pytest

from apps.detection.rules.evaluator import compile_rule, matches
from apps.detection.rules.parser import RuleSyntaxError, parse

CONTEXT = {
    "model": "gpt-x", "prompt_version": "v12", "variant": "B", "user_id": "u1", "session_id": "s1",
    "question": "Where is my Refund?", "answer": "I don't know.",
    "metadata": {"plan": "enterprise", "seats": 40, "region": {"code": "eu"}, "tags": ["vip", "beta"]},
    "signals": {"thumbs_down": True, "rating": 2},
}


def test_the_issue_example_parses_to_a_json_ast():
    assert parse('metadata.plan == "enterprise" and signals.thumbs_down') == {
        "op": "and",
        "args": [
            {"op": "==", "left": {"field": ["metadata", "plan"]}, "right": {"value": "enterprise"}},
            {"field": ["signals", "thumbs_down"]},
        ],
    }


@pytest.mark.parametrize(("text", "expected"), [
    ('metadata.plan == "enterprise" and signals.thumbs_down', True),
    ("metadata.plan == 'free' or signals.rating <= 2", True),
    ("not signals.thumbs_down", False),
    ("not (model == \"gpt-x\" and variant == \"A\")", True),
    ("metadata.seats > 39.5 and metadata.seats < 41", True),
    ("metadata.seats >= 41", False),
    ('model in ["gpt-x", "gpt-y"]', True),
    ('prompt_version in ["v1"]', False),
    ('question contains "refund"', True),  # case-insensitive substring
    ('metadata.tags contains "vip"', True),
    ('metadata.region.code != "us"', True),
    ("metadata.missing == null", True),
    ("metadata.missing > 3", False),  # incomparable → no match, no error
    ('metadata.plan > 3', False),
    ("signals.escalation", False),
    ("signals.rating == 2.0", True),
    ("signals.thumbs_down == 1", False),  # a boolean is not a number
    ("true and not false", True),
    ("a_or_b" if False else 'user_id == "u1" and session_id == "s1"', True),
    ('answer contains "don\'t"', True),
    ('AND_is_not_a_field' if False else 'metadata.plan == "enterprise" AND signals.rating == 2', True),
])
def test_valid_rules_evaluate(text, expected):
    assert matches(parse(text), CONTEXT) is expected


def test_precedence_and_binds_tighter_than_or():
    assert parse("model == 'a' or model == 'b' and variant == 'c'")["op"] == "or"
    assert matches(parse("true or false and false"), {}) is True


@pytest.mark.parametrize(("text", "message", "position"), [
    ("", "the rule is empty", 0),
    ("model ==", "the rule ends too early", 8),
    ("(model == 'x'", "expected ')'", 13),
    ("model = 'x'", "unexpected character '='", 6),
    ("'unterminated", "unterminated string", 0),
    ("model == 'x' extra", "unexpected 'extra'", 13),
    ("plan == 'x'", "unknown field 'plan'", 0),
    ("metadata == 1", "'metadata' needs a key", 0),
    ("signals.a.b", "signals take one key", 0),
    ("model.name == 1", "'model' has no sub-fields", 5),
    ("model in [model]", "a list holds only literals", 10),
    ("and model", "expected a value or a field, found 'and'", 0),
    ("model == 'a' and", "the rule ends too early", 16),
    ("model == 'a\\q'", "unknown escape", 11),
])
def test_invalid_rules_report_a_readable_message_and_position(text, message, position):
    with pytest.raises(RuleSyntaxError) as error:
        parse(text)

    assert message in error.value.message
    assert error.value.position == position
    assert f"(at position {position})" in str(error.value)


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')",
    "metadata.__class__.__subclasses__()",
    "open('/etc/passwd')",
    "eval('1')",
    "lambda: 1",
    "model.__class__",
    "[x for x in model]",
    "model; import os",
    "1 + 1",
    "model == `id`",
])
def test_code_is_rejected_never_run(text):
    with pytest.raises(RuleSyntaxError):
        parse(text)


def test_dunder_keys_are_only_dictionary_lookups():
    # A key named like an attribute is looked up in the metadata dict, never as an attribute.
    assert matches(parse("metadata.__class__ == null"), CONTEXT) is True


def test_limits():
    with pytest.raises(RuleSyntaxError, match="at most 2000 characters"):
        parse("model == 'a' or " * 200 + "true")
    with pytest.raises(RuleSyntaxError, match="nests deeper"):
        parse("(" * 60 + "true" + ")" * 60)
    with pytest.raises(RuleSyntaxError, match="nests deeper"):
        parse("not " * 60 + "true")


OTHER_TYPES = {"metadata": {"plan": 3, "seats": True, "region": "eu", "tags": "vip"}, "signals": {"rating": "2", "thumbs_down": 1}}


@pytest.mark.parametrize(("text", "on_context", "on_empty", "on_other_types"), [
    ('metadata.plan == "enterprise" and signals.thumbs_down', True, False, False),
    ("metadata.plan == 'free' or signals.rating <= 2", True, False, False),
    ("not signals.thumbs_down", False, True, False),
    ("not (model == \"gpt-x\" and variant == \"A\")", True, True, True),
    ("metadata.seats > 39.5 and metadata.seats < 41", True, False, False),
    ('model in ["gpt-x", "gpt-y"]', True, False, False),
    ('question contains "refund"', True, False, False),
    ('metadata.tags contains "vip"', True, False, True),  # a substring of a string as well
    ('metadata.region.code != "us"', True, True, True),
    ("metadata.missing == null", True, True, True),
    ("metadata.missing > 3", False, False, False),
    ("metadata.plan > 3", False, False, False),
    ("signals.rating == 2.0", True, False, False),  # the string "2" is not the number 2
    ("signals.thumbs_down == 1", False, False, True),  # true is not 1, the number 1 is
    ('metadata.plan != "enterprise"', False, True, True),
    ("metadata.seats == 40", True, False, False),
    ("metadata.seats != 40.0", False, True, True),
    ('"vip" in metadata.tags', True, False, True),
    ("true or false and false", True, True, True),
])
def test_the_evaluator_on_every_kind_of_context(text, on_context, on_empty, on_other_types):
    # Given one rule, compiled once
    holds = compile_rule(parse(text))

    # Then it answers exactly True or False on a full context, an empty one and one with other types
    for context, expected in ((CONTEXT, on_context), ({}, on_empty), (OTHER_TYPES, on_other_types)):
        assert holds(context) is expected
        assert matches(parse(text), context) is expected


@pytest.mark.parametrize(("text", "on_full_turn", "on_other_types", "on_list_metadata"), [
    ('metadata.plan == "enterprise" and signals.thumbs_down', True, False, False),
    ("metadata.plan == 'free' or signals.rating <= 2", True, True, False),
    ("not signals.thumbs_down", False, True, True),
    ('prompt_version == "v12" and metadata.confidence < 0.2', True, False, False),
    ('question contains "refund"', True, False, False),
    ('user_id == "u1"', True, False, False),
    ('session_id != "s"', False, True, True),
    ("metadata.region.code == \"eu\"", True, False, False),
    ('answer contains "sorry"', True, False, False),
])
def test_a_rule_compiled_for_turns_reads_the_turns_fields_as_its_context_does(text, on_full_turn, on_other_types, on_list_metadata):
    import uuid

    from apps.detection.detectors.base import TurnData
    from apps.detection.detectors.runner import _compiled_rule, rule_context

    ast = parse(text)
    turns = [
        TurnData(id=uuid.uuid4(), session_id="s", end_user_id="u1", question="a refund please", answer="sorry", prompt_version="v12",
                 metadata={"plan": "enterprise", "confidence": 0.1, "region": {"code": "eu"}}, signals={"thumbs_down": True, "rating": 1}),
        TurnData(id=uuid.uuid4(), metadata={"plan": "free", "region": "eu"}, signals={"rating": "2"}),
        TurnData(id=uuid.uuid4(), metadata=[], signals={}),  # a metadata that is not an object: as {}
    ]

    for turn, expected in zip(turns, (on_full_turn, on_other_types, on_list_metadata), strict=True):
        assert _compiled_rule(ast)(turn) is expected
        assert matches(ast, rule_context(turn)) is expected
