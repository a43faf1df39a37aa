"""Customer rules: a small, safe expression language. Never ``eval``.

Grammar (a hand-written tokenizer and a recursive-descent parser)::

    expression  := or
    or          := and ("or" and)*
    and         := not ("and" not)*
    not         := "not" not | comparison
    comparison  := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "contains") operand)?
    operand     := literal | list | field | "(" expression ")"
    literal     := "string" | 'string' | number | true | false | null
    list        := "[" (literal ("," literal)*)? "]"
    field       := model | prompt_version | variant | user_id | session_id | question | answer
                 | metadata.<key>(.<key>)* | signals.<kind>

The parser turns text into a JSON AST (stored on the rule); ``evaluate`` walks that AST over
a plain dict of turn fields. Nothing is ever looked up by attribute or called, so a rule can
only read the fields listed above.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

MAX_LENGTH = 2000
MAX_DEPTH = 40
SCALAR_FIELDS = ("model", "prompt_version", "variant", "user_id", "session_id", "question", "answer")
MAP_FIELDS = ("metadata", "signals")
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">", "in", "contains")
KEYWORDS = {"and", "or", "not", "in", "contains", "true", "false", "null"}


class RuleSyntaxError(ValueError):
    """Bad rule text; ``position`` is the 0-based character offset of the offending token."""

    def __init__(self, message: str, position: int):
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[()\[\],.])
  | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}


def _unquote(text: str, position: int) -> str:
    out, index = [], 1
    while index < len(text) - 1:
        char = text[index]
        if char == "\\":
            following = text[index + 1]
            if following not in _ESCAPES:
                raise RuleSyntaxError(f"unknown escape \\{following} in a string", position + index)
            out.append(_ESCAPES[following])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def tokenize(text: str) -> list[tuple[str, Any, int]]:
    """``[(kind, value, position)]`` ending with an ``("end", None, len(text))`` token."""
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(f"a rule is at most {MAX_LENGTH} characters", MAX_LENGTH)
    if "\x00" in text:  # PostgreSQL stores neither the text nor a string literal holding it
        raise RuleSyntaxError("a rule cannot contain NUL characters", text.index("\x00"))
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            if char in "\"'":
                raise RuleSyntaxError("unterminated string", position)
            raise RuleSyntaxError(f"unexpected character {char!r}", position)
        kind, value = match.lastgroup, match.group()
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            if not math.isfinite(number):  # JSON (the stored AST) has no infinity
                raise RuleSyntaxError(f"the number {value[:20]} is out of range", position)
            tokens.append(("literal", number, position))
        elif kind == "string":
            tokens.append(("literal", _unquote(value, position), position))
        elif kind == "name" and value.lower() in ("true", "false", "null"):
            tokens.append(("literal", {"true": True, "false": False, "null": None}[value.lower()], position))
        elif kind == "name" and value.lower() in KEYWORDS:
            tokens.append(("keyword", value.lower(), position))
        elif kind != "space":
            tokens.append((kind, value, position))
        position = match.end()
    tokens.append(("end", None, len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.index]

    def take(self):
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str, value: str, what: str):
        token = self.take()
        if token[0] != kind or token[1] != value:
            raise RuleSyntaxError(f"expected {what}, found {_describe(token)}", token[2])
        return token

    def is_(self, kind: str, value=None) -> bool:
        token = self.peek()
        return token[0] == kind and (value is None or token[1] == value)

    def parse(self) -> dict:
        if self.is_("end"):
            raise RuleSyntaxError("the rule is empty", 0)
        node = self.or_()
        if not self.is_("end"):
            token = self.peek()
            raise RuleSyntaxError(f"unexpected {_describe(token)}; expected 'and', 'or' or the end", token[2])
        return node

    def or_(self) -> dict:
        args = [self.and_()]
        while self.is_("keyword", "or"):
            self.take()
            args.append(self.and_())
        return args[0] if len(args) == 1 else {"op": "or", "args": args}

    def and_(self) -> dict:
        args = [self.not_()]
        while self.is_("keyword", "and"):
            self.take()
            args.append(self.not_())
        return args[0] if len(args) == 1 else {"op": "and", "args": args}

    def not_(self) -> dict:
        if self.is_("keyword", "not"):
            self.take()
            self._enter()
            node = {"op": "not", "arg": self.not_()}
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> dict:
        left = self.operand()
        token = self.peek()
        if (token[0] == "op") or (token[0] == "keyword" and token[1] in ("in", "contains")):
            self.take()
            right = self.operand()
            return {"op": token[1], "left": left, "right": right}
        return left

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RuleSyntaxError(f"the rule nests deeper than {MAX_DEPTH} levels", self.peek()[2])

    def operand(self) -> dict:
        token = self.take()
        kind, value, position = token
        if kind == "literal":
            return {"value": value}
        if kind == "punct" and value == "(":
            self._enter()
            node = self.or_()
            self.expect("punct", ")", "')'")
            self.depth -= 1
            return node
        if kind == "punct" and value == "[":
            items = []
            if not self.is_("punct", "]"):
                while True:
                    item = self.take()
                    if item[0] != "literal":
                        raise RuleSyntaxError(f"a list holds only literals, found {_describe(item)}", item[2])
                    items.append(item[1])
                    if not self.is_("punct", ","):
                        break
                    self.take()
            self.expect("punct", "]", "',' or ']'")
            return {"value": items}
        if kind == "name":
            return self.field(value, position)
        if kind == "end":
            raise RuleSyntaxError("the rule ends too early; expected a value or a field", position)
        raise RuleSyntaxError(f"expected a value or a field, found {_describe(token)}", position)

    def field(self, name: str, position: int) -> dict:
        if name in SCALAR_FIELDS:
            if self.is_("punct", "."):
                raise RuleSyntaxError(f"'{name}' has no sub-fields", self.peek()[2])
            return {"field": [name]}
        if name in MAP_FIELDS:
            path = [name]
            while self.is_("punct", "."):
                self.take()
                part = self.take()
                if part[0] not in ("name", "keyword") and not (part[0] == "literal" and isinstance(part[1], str)):
                    raise RuleSyntaxError(f"expected a key after '.', found {_describe(part)}", part[2])
                path.append(str(part[1]))
            if len(path) == 1:
                raise RuleSyntaxError(f"'{name}' needs a key, e.g. {name}.plan", position)
            if name == "signals" and len(path) > 2:
                raise RuleSyntaxError("signals take one key, e.g. signals.thumbs_down", position)
            if self.is_("punct", "("):
                raise RuleSyntaxError("function calls are not allowed", self.peek()[2])
            return {"field": path}
        if self.is_("punct", "("):
            raise RuleSyntaxError(f"function calls are not allowed ('{name}')", position)
        known = ", ".join(SCALAR_FIELDS + tuple(f"{m}.<key>" for m in MAP_FIELDS))
        raise RuleSyntaxError(f"unknown field '{name}'; known fields: {known}", position)


def _describe(token) -> str:
    kind, value, _ = token
    if kind == "end":
        return "the end of the rule"
    if kind == "literal":
        return f"the value {value!r}"
    return f"'{value}'"


def parse(text: str) -> dict:
    """Parse rule text into its JSON AST; raises ``RuleSyntaxError`` with a position."""
    return _Parser(text).parse()


# --- evaluation ---------------------------------------------------------------------------


def _lookup(path: list[str], context: dict):
    value = context.get(path[0])
    for key in path[1:]:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _order(left, right):
    """Ordering only between numbers or between strings; anything else is "no match"."""
    numeric = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    if isinstance(left, numeric) and isinstance(right, numeric):
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    return None


def _contains(container, item) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item.lower() in container.lower()
    if isinstance(container, list):
        return item in container
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    return False


def evaluate(node: dict, context: dict):
    """Evaluate an AST from ``parse`` over ``context`` (field name → value); total, never raises
    on data: a missing field is null, a comparison between incompatible types is false."""
    if "value" in node:
        return node["value"]
    if "field" in node:
        return _lookup(node["field"], context)
    op = node["op"]
    if op == "and":
        return all(_truthy(evaluate(arg, context)) for arg in node["args"])
    if op == "or":
        return any(_truthy(evaluate(arg, context)) for arg in node["args"])
    if op == "not":
        return not _truthy(evaluate(node["arg"], context))
    left, right = evaluate(node["left"], context), evaluate(node["right"], context)
    if op == "==":
        return left == right and type(left) is type(right) or _numbers_equal(left, right)
    if op == "!=":
        return not (left == right and type(left) is type(right) or _numbers_equal(left, right))
    if op == "in":
        return _contains(right, left)
    if op == "contains":
        return _contains(left, right)
    order = _order(left, right)
    if order is None:
        return False
    return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]


def _numbers_equal(left, right) -> bool:
    return (
        isinstance(left, (int, float)) and isinstance(right, (int, float))
        and not isinstance(left, bool) and not isinstance(right, bool) and left == right
    )


def _truthy(value) -> bool:
    return bool(value)


def matches(ast: dict, context: dict) -> bool:
    return _truthy(evaluate(ast, context))


# --- compiled evaluation --------------------------------------------------------------------

_ORDERS = {"<": lambda o: o < 0, "<=": lambda o: o <= 0, ">": lambda o: o > 0, ">=": lambda o: o >= 0}


def _compile_node(node: dict, fields=None) -> Callable[[dict], Any]:
    """The closure equivalent of ``evaluate(node, ·)``: same values, same totality.

    ``fields``, when given, maps a field's path to a function returning its value in the
    evaluated object (what ``_lookup(path, context)`` returns otherwise): the detectors evaluate
    rules on a turn directly instead of building a context dict per turn.
    """
    if "value" in node:
        value = node["value"]
        return lambda context: value
    if "field" in node:
        path = node["field"]
        head, rest = path[0], path[1:]
        if fields is not None:
            return fields(path)
        if not rest:
            return lambda context: context.get(head)
        if len(rest) == 1:
            key = rest[0]

            def field(context):
                value = context.get(head)
                return value.get(key) if isinstance(value, dict) else None

            return field
        return lambda context: _lookup(path, context)
    op = node["op"]
    if op in ("and", "or"):
        args = [_compile_node(arg, fields) for arg in node["args"]]
        if len(args) == 2:  # the usual shape, without a generator per evaluation
            first, second = args
            if op == "and":
                return lambda context: bool(first(context)) and bool(second(context))
            return lambda context: bool(first(context)) or bool(second(context))
        if op == "and":
            return lambda context: all(_truthy(arg(context)) for arg in args)
        return lambda context: any(_truthy(arg(context)) for arg in args)
    if op == "not":
        arg = _compile_node(node["arg"], fields)
        return lambda context: not _truthy(arg(context))
    left, right = _compile_node(node["left"], fields), _compile_node(node["right"], fields)
    if op in ("==", "!="):
        literal = node["right"].get("value")
        if isinstance(literal, str):  # the common `field == "text"`: equal only to that very string
            if op == "==":
                return lambda context: type(found := left(context)) is str and found == literal

            return lambda context: not (type(found := left(context)) is str and found == literal)

        def equal(context) -> bool:
            a, b = left(context), right(context)
            return a == b and type(a) is type(b) or _numbers_equal(a, b)

        return equal if op == "==" else (lambda context: not equal(context))
    if op == "in":
        return lambda context: _contains(right(context), left(context))
    if op == "contains":
        return lambda context: _contains(left(context), right(context))
    holds = _ORDERS[op]
    literal = node["right"].get("value")
    if type(literal) in (int, float):  # the common `field < 0.2`: numbers compared in place, the rest as _order does

        def ordered_number(context) -> bool:
            found = left(context)
            kind = type(found)
            if kind is float or kind is int:
                return holds((found > literal) - (found < literal))
            order = _order(found, literal)
            return False if order is None else holds(order)

        return ordered_number

    def ordered(context) -> bool:
        order = _order(left(context), right(context))
        return False if order is None else holds(order)

    return ordered


def compile_rule(ast: dict, fields=None) -> Callable[[dict], bool]:
    """A predicate over a rule context equal to ``matches(ast, context)``, without re-walking the
    AST for every turn (detectors cache it per stored AST). With ``fields`` (see
    ``_compile_node``) it takes the object those functions read instead of a context dict."""
    run = _compile_node(ast, fields)
    if "op" in ast:  # operators already answer True or False
        return run
    return lambda context: bool(run(context))
