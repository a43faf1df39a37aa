"""Scorers: pure functions ``(output, case, config) -> bool | float``, one per kind.

A scorer configuration is ``{"name", "kind", …options}``; ``validate_scorers`` checks a list at
experiment creation (a regex that does not compile, an unknown kind, a bad schema: 400
``invalid_scorer``) and ``score_case`` applies them all to one case. ``case`` is a mapping with
``input``, ``expected_output`` (and anything else a case has).

Kinds and what they give:
- ``exact_match``: ``output.strip() == expected_output.strip()`` (``ignore_case`` option) → bool.
- ``contains``: ``value`` (or the expected output) is in the output (``ignore_case``) → bool.
- ``regex``: ``pattern`` matches somewhere in the output (its first 20,000 characters) → bool.
  At most 300 characters, compiled at creation by ``apps.core.patterns.compile_pattern``, which
  refuses a pattern that backtracks catastrophically on its probes (``(a+)+$``); each search
  also runs with a timeout.
- ``json_valid``: the output parses as JSON → bool. ``json_schema``: it parses and matches
  ``schema`` (jsonschema, Draft 2020-12; the schema is checked at creation) → bool.
- ``numeric``: the first number in the output is within ``tolerance`` (default 0) of
  ``expected`` (default: the expected output as a number) → bool.
- ``similarity``: how close the output is to the expected output, a number in [0, 1], by
  ``method``: ``"tfidf"`` (the default) — the project's own text similarity, the one the
  rephrase and recurrence detectors use (``apps.detection.similarity.DEFAULT_SIMILARITY``: word
  and character TF-IDF cosines blended with rapidfuzz's token-set ratio, IDF fitted on the pair
  alone, so a case scores the same whatever else is scored with it) — or ``"fuzzy"`` — rapidfuzz
  ``fuzz.ratio`` / 100 (edit distance: strict about word order and wording). With ``threshold``
  it passes at ≥ threshold (the pass/fail is stored under the name, the number under
  ``<name>.ratio``); without, the number is stored under the name.
- ``punts`` / ``asks_human``: the detectors' own decisions (agent_punted with the project's
  phrases, or the defaults; the escalation pattern) on the output → bool.
  Passed = (detected == ``expect``); ``expect`` defaults to False: passing means it does not punt / ask.
- ``posted``: the score the customer's code or endpoint sent under this name, as given.
"""

from __future__ import annotations

import json
import re

import jsonschema
import regex
from rapidfuzz import fuzz

from apps.core.errors import ValidationFailed
from apps.core.patterns import PatternError, compile_pattern
from apps.detection.config import DEFAULT_PUNT_PHRASES
from apps.detection.detectors.agent_punted import agent_punted
from apps.detection.detectors.base import TurnData
from apps.detection.detectors.escalation import escalation
from apps.detection.similarity import DEFAULT_SIMILARITY

SIMILARITY_METHODS = ("tfidf", "fuzzy")
KINDS = ("exact_match", "contains", "regex", "json_valid", "json_schema", "numeric", "similarity", "punts", "asks_human", "posted")
MAX_SCORERS = 20
MAX_PATTERN = 300
MAX_SEARCHED = 20_000
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")

def _bad(message: str, index: int) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_scorer", field=f"scorers[{index}]")


def _compile(pattern, index: int, ignore_case: bool):
    if not isinstance(pattern, str) or not pattern:
        raise _bad("A regex scorer needs a non-empty `pattern`.", index)
    try:
        return compile_pattern(pattern, max_length=MAX_PATTERN, flags=regex.IGNORECASE if ignore_case else 0)
    except PatternError as error:
        raise _bad(str(error), index) from None


def validate_scorers(raw) -> list[dict]:
    """The cleaned scorer list, or 400 ``invalid_scorer`` naming the first bad entry."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationFailed("`scorers` is a list of {\"name\", \"kind\", …}.", code="invalid_scorer", field="scorers")
    if len(raw) > MAX_SCORERS:
        raise ValidationFailed(f"At most {MAX_SCORERS} scorers.", code="invalid_scorer", field="scorers")
    cleaned, names = [], set()
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _bad("Each scorer is an object {\"name\", \"kind\", …}.", index)
        kind, name = item.get("kind"), item.get("name", item.get("kind"))
        if kind not in KINDS:
            raise _bad(f"Unknown scorer kind; one of: {', '.join(KINDS)}.", index)
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise _bad("A scorer `name` is 1-64 letters, digits, '.', '_' or '-'.", index)
        if name in names:
            raise _bad(f"Two scorers are named {name!r}.", index)
        names.add(name)
        entry = {"name": name, "kind": kind}
        ignore_case = item.get("ignore_case", False)
        if not isinstance(ignore_case, bool):
            raise _bad("`ignore_case` is true or false.", index)
        if kind in ("exact_match", "contains", "regex"):
            entry["ignore_case"] = ignore_case
        if kind == "contains":
            value = item.get("value")
            if value is not None and (not isinstance(value, str) or not value or len(value) > 1000):
                raise _bad("`value` is a string of 1-1000 characters.", index)
            entry["value"] = value
        elif kind == "regex":
            _compile(item.get("pattern"), index, ignore_case)
            entry["pattern"] = item["pattern"]
        elif kind == "json_schema":
            schema = item.get("schema")
            if not isinstance(schema, dict):
                raise _bad("A json_schema scorer needs a `schema` object.", index)
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                raise _bad(f"The schema is not valid: {exc.message}.", index) from None
            if len(json.dumps(schema)) > 20_000:
                raise _bad("The schema is larger than 20,000 characters.", index)
            entry["schema"] = schema
        elif kind == "numeric":
            entry["tolerance"] = _number(item.get("tolerance", 0), index, "tolerance", minimum=0)
            if item.get("expected") is not None:
                entry["expected"] = _number(item["expected"], index, "expected")
        elif kind == "similarity":
            method = item.get("method", "tfidf")
            if method not in SIMILARITY_METHODS:
                raise _bad("`method` is \"tfidf\" (the project's TF-IDF similarity, the default) or \"fuzzy\" (rapidfuzz ratio).", index)
            entry["method"] = method
            if item.get("threshold") is not None:
                threshold = _number(item["threshold"], index, "threshold", minimum=0)
                if threshold > 1:
                    raise _bad("`threshold` is between 0 and 1.", index)
                entry["threshold"] = threshold
        elif kind in ("punts", "asks_human"):
            expect = item.get("expect", False)
            if not isinstance(expect, bool):
                raise _bad("`expect` is true or false.", index)
            entry["expect"] = expect
        cleaned.append(entry)
    return cleaned


def _number(value, index: int, field: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
        raise _bad(f"`{field}` is a finite number.", index)
    if minimum is not None and value < minimum:
        raise _bad(f"`{field}` is at least {minimum:g}.", index)
    return float(value)


# --- the scorers ---------------------------------------------------------------------------------


def exact_match(output: str, expected: str, *, ignore_case: bool = False) -> bool:
    a, b = output.strip(), expected.strip()
    return a.casefold() == b.casefold() if ignore_case else a == b


def contains(output: str, value: str, *, ignore_case: bool = False) -> bool:
    if not value:
        return False
    return value.casefold() in output.casefold() if ignore_case else value in output


def regex_match(output: str, pattern: str, *, ignore_case: bool = False) -> bool:
    """Whether ``pattern`` matches in ``output``; a search that outlives its timeout (a pattern
    the probes at creation did not catch) counts as no match."""
    compiled = _compile(pattern, 0, ignore_case)
    try:
        return compiled.search(output[:MAX_SEARCHED], timeout=0.5) is not None
    except TimeoutError:
        return False


def json_valid(output: str) -> bool:
    try:
        json.loads(output)
    except (ValueError, RecursionError):
        return False
    return True


def json_schema(output: str, schema: dict) -> bool:
    try:
        value = json.loads(output)
    except (ValueError, RecursionError):
        return False
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def numeric(output: str, expected: float | None, *, tolerance: float = 0.0) -> bool:
    if expected is None:
        return False
    found = _NUMBER.search(output.replace(",", ""))
    if not found:
        return False
    try:
        return abs(float(found.group(0)) - expected) <= tolerance + 1e-12
    except (ValueError, OverflowError):
        return False


def similarity(output: str, expected: str, method: str = "tfidf") -> float:
    """In [0, 1] (module doc): the detectors' TF-IDF blend, or rapidfuzz ``fuzz.ratio`` (normalized
    Indel similarity) / 100 for ``method="fuzzy"``."""
    if method == "fuzzy":
        return round(fuzz.ratio(output, expected) / 100.0, 6)
    return round(float(DEFAULT_SIMILARITY.pair_scores([(output, expected)])[0]), 6)


def punts(output: str, phrases=None) -> bool:
    return agent_punted(output, phrases if phrases is not None else DEFAULT_PUNT_PHRASES) is not None


def asks_human(output: str) -> bool:
    return escalation(TurnData(id=None, question=output)) is not None  # type: ignore[arg-type]


def _expected_number(case) -> float | None:
    match = _NUMBER.search(str(case.get("expected_output", "")).replace(",", ""))
    return float(match.group(0)) if match else None


def score_case(output: str, case: dict, scorers: list[dict], *, posted: dict | None = None,
               punt_phrases=None) -> dict[str, bool | float]:
    """Every scorer on one case's output; ``posted`` is what the customer sent (kept as given)."""
    expected = str(case.get("expected_output", "") or "")
    posted = posted or {}
    scores: dict[str, bool | float] = {}
    for s in scorers:
        name, kind = s["name"], s["kind"]
        if kind == "exact_match":
            scores[name] = exact_match(output, expected, ignore_case=s.get("ignore_case", False))
        elif kind == "contains":
            scores[name] = contains(output, s.get("value") or expected, ignore_case=s.get("ignore_case", False))
        elif kind == "regex":
            scores[name] = regex_match(output, s["pattern"], ignore_case=s.get("ignore_case", False))
        elif kind == "json_valid":
            scores[name] = json_valid(output)
        elif kind == "json_schema":
            scores[name] = json_schema(output, s["schema"])
        elif kind == "numeric":
            target = s.get("expected", _expected_number(case))
            scores[name] = numeric(output, target, tolerance=s.get("tolerance", 0.0))
        elif kind == "similarity":
            ratio = similarity(output, expected, s.get("method", "tfidf"))
            if s.get("threshold") is not None:
                scores[name] = ratio >= s["threshold"]
                scores[f"{name}.ratio"] = ratio
            else:
                scores[name] = ratio
        elif kind in ("punts", "asks_human"):
            detected = punts(output, punt_phrases) if kind == "punts" else asks_human(output)
            scores[name] = detected == s.get("expect", False)
        elif kind == "posted" and name in posted:
            scores[name] = posted[name]
    for name, value in posted.items():  # posted scores nobody configured are kept as sent
        scores.setdefault(name, value)
    return scores
