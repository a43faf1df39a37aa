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

The parser turns text into a JSON AST (stored on the rule as ``DetectionRule.ast``);
``apps.detection.rules.evaluator`` runs that AST. The grammar has no attribute access and no
call, so a rule can only read the fields listed above.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_LENGTH = 2000
MAX_DEPTH = 40
SCALAR_FIELDS = ("model", "prompt_version", "variant", "user_id", "session_id", "question", "answer")
MAP_FIELDS = ("metadata", "signals")
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
