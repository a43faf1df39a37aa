"""Text helpers for the cue detectors: folding and word sets for the exact prefilters that spare
most turns a regex, quoted-span removal, and one-edit variants for typo-tolerant cue words."""

from __future__ import annotations

import re

# Function words: left out where two texts are compared by their content words.
STOP_WORDS = frozenset(
    "a an the i me my we our you your it its is are was were be been am do does did doing have has had "
    "to of in on at for from with by about as into and or but if so than then that this these those "
    "there here what which who whom whose when where why how can could would should will shall may might "
    "must not no yes please pls hi hello hey thanks thank just also too very really any some "
    "get got up out off over again there's it's i'm don't can't im dont cant u ur".split()
)

# What ``re.IGNORECASE`` equates with an ASCII letter beyond ``str.lower``: dotless ı and İ with
# i, long ſ with s (``str.lower`` already maps the Kelvin sign to k).
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


def folded(text: str) -> str:
    """``text`` lowercased so that an ASCII needle ``re.IGNORECASE`` would find in it is a plain
    substring: the prefilters test needles with ``in`` (C speed) before running a regex."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    # ``str.lower`` turns İ into i + U+0307 and keeps ı and ſ: translate only a text holding one.
    if "\u0307" in lowered or "\u0131" in lowered or "\u017f" in lowered:
        return text.translate(_FOLD).lower()
    return lowered


# Quoted text and reported speech: a cue inside them is someone else's words, not the writer's
# ("the app says "contact a human agent"", "you wrote 'I don't know' on the form"). A straight
# single quote counts only when it opens after a non-letter and closes before one, so that the
# apostrophes of "don't" and "users' " never pair up.
_QUOTED = re.compile(r"\"[^\"]{1,300}\"|“[^”]{1,300}”|„[^“”]{1,300}[“”]|«[^»]{1,300}»|(?<![\w])'[^'\n]{2,300}?'(?![\w])|‘[^’]{1,300}’")
_REPORTED = re.compile(
    r"\b(?:says|said|say|wrote|writes|reads|read|tells\s+me|told\s+me|mentions|mentioned|shows|showed|stated|states|labelled|labeled|called)\b"
    r"(?:\s+(?:that|me|us))?(?:(?!\bbut\b)[^.;,!?\n])*"
)

_QUOTE_CHARS = re.compile("[\"“„«'‘]")
_REPORTING_WORDS = frozenset("says said say wrote writes reads read tells told mentions mentioned shows showed stated states labelled labeled called".split())


def unquoted(text: str, *, reported: bool = True) -> tuple[str, bool]:
    """``text`` without its quoted spans (and, with ``reported``, the rest of a clause after
    "said", "says", "told me" …), and whether anything was removed."""
    stripped = _QUOTED.sub(" ", text) if _QUOTE_CHARS.search(text) else text
    if reported and not _REPORTING_WORDS.isdisjoint(words(stripped)):
        stripped = _REPORTED.sub(" ", stripped)
    return stripped, stripped != text


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def one_edit_variants(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``
    (a–z only): looked up in a set, this is fuzzy matching at the cost of an exact lookup."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    variants = {a + b[1:] for a, b in splits if b}
    variants |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    variants |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    variants |= {a + c + b for a, b in splits for c in _LETTERS}
    return variants


def fuzzy_lexicon(words, *, min_length: int = 5, exclude=()) -> dict[str, str]:
    """variant → canonical word for ``words``: each word maps to itself, and a word of at least
    ``min_length`` letters also from its one-edit variants (``exclude``: real words that must not
    be read as a misspelling, e.g. "managed" for "manager"). Exact words win over variants."""
    lexicon: dict[str, str] = {}
    for word in words:
        if len(word) >= min_length:
            for variant in one_edit_variants(word):
                if variant not in exclude:
                    lexicon.setdefault(variant, word)
    for word in words:
        lexicon[word] = word
    return lexicon


WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,;:!?()\-—–]")


# Every byte but a–z and 0–9 (the apostrophe included) becomes a space (bytes.translate: C speed,
# four times faster than str.translate with a mapping).
_SEPARATORS = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789" else 32 for c in range(256))
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def words(lowered: str) -> list[str]:
    """The runs of a–z and 0–9 in an already ``folded`` text: what a ``\\bword\\b`` pattern can match
    as a whole word. The prefilters test these against a set (``isdisjoint``); ``str.translate``
    and ``split`` do it at C speed for ASCII text, a regex for the rest."""
    if lowered.isascii():
        return lowered.encode().translate(_SEPARATORS).decode().split()
    return _ASCII_WORD.findall(lowered)


# --- cue families: one regex per alternative, run only when its trigger word is present --------

import re._constants as _sre  # noqa: E402  (the parser's opcodes: read-only use)
import re._parser as _sre_parse  # noqa: E402

_ALNUM = frozenset(map(ord, "abcdefghijklmnopqrstuvwxyz0123456789"))


def _ends_a_word(item) -> bool:
    """Whether ``item`` (a parsed regex element following a literal word) can only match at a
    character that is not a–z or 0–9, or at a word boundary: then the word is a whole token."""
    op, av = item
    if op is _sre.LITERAL:
        return av not in _ALNUM
    if op is _sre.AT:
        return av in (_sre.AT_BOUNDARY, _sre.AT_END, _sre.AT_END_STRING)
    if op is _sre.IN:
        return all(
            (kind is _sre.CATEGORY and value in (_sre.CATEGORY_SPACE, _sre.CATEGORY_NOT_WORD))
            or (kind is _sre.LITERAL and value not in _ALNUM)
            for kind, value in av
        )
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
        low, _, sub = av
        return low >= 1 and bool(sub.data) and _ends_a_word(sub.data[0])
    if op is _sre.SUBPATTERN:
        return bool(av[-1].data) and _ends_a_word(av[-1].data[0])
    if op is _sre.BRANCH:
        return all(alternative.data and _ends_a_word(alternative.data[0]) for alternative in av[1])
    return False


def _non_word_only(items) -> bool:
    return bool(items) and all(_ends_a_word(item) and item[0] is not _sre.AT for item in items)


def _words_from(prefix: str, items) -> frozenset | None:
    """The whole words a match of ``items`` starts with, ``prefix`` already read: literal letters
    until an element that ends a word, through groups, alternatives and optional parts."""
    for index, (op, av) in enumerate(items):
        rest = items[index + 1:]
        if op is _sre.LITERAL and av in _ALNUM:
            prefix += chr(av)
            continue
        if _ends_a_word((op, av)) and op is not _sre.BRANCH and op is not _sre.SUBPATTERN:
            return frozenset([prefix]) if prefix else None
        if op is _sre.SUBPATTERN:
            return _words_from(prefix, list(av[-1].data) + rest)
        if op is _sre.BRANCH:
            found: set[str] = set()
            for alternative in av[1]:
                words_ = _words_from(prefix, list(alternative.data) + rest)
                if words_ is None:
                    return None
                found |= words_
            return frozenset(found)
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and av[0] == 0 and av[1] == 1:
            with_it, without = _words_from(prefix, list(av[2].data) + rest), _words_from(prefix, rest)
            return None if with_it is None or without is None else with_it | without
        return None
    return None  # the word may run on past the end of this part


def _ends_non_word(items) -> bool:
    """Whether a match of ``items`` always ends with a character that is not a–z or 0–9."""
    if not items:
        return False
    op, av = items[-1]
    if op is _sre.SUBPATTERN:
        return _ends_non_word(list(av[-1].data))
    if op is _sre.BRANCH:
        return all(_ends_non_word(list(alternative.data)) for alternative in av[1])
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
        return av[0] >= 1 and _non_word_only(list(av[2].data))
    return op is not _sre.AT and _ends_a_word((op, av))


# Words too common to be worth a trigger when the alternative needs a rarer one further on.
_COMMON = frozenset(
    "a an the i you your it is are that this can not and so then to of for in on at we our their they each be do does "
    "have has will would should could may might just please get go see want need t s m re ll d me my or if there".split()
)


def _required_words(items) -> list[frozenset]:
    """Sets of words such that every match of ``items`` holds, for each set, one of its words
    as a whole token: the words at the alternative's mandatory positions (empty when none can be
    told)."""
    found = []
    boundary = False
    for index, (op, av) in enumerate(items):
        if op is _sre.AT:
            boundary = boundary or av in (_sre.AT_BOUNDARY, _sre.AT_BEGINNING, _sre.AT_BEGINNING_STRING)
            continue
        if op in (_sre.ASSERT, _sre.ASSERT_NOT):
            continue
        if op is _sre.LITERAL and av not in _ALNUM:
            boundary = True
            continue
        if op is _sre.IN:
            boundary = _non_word_only([(op, av)])
            continue
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            sub = list(av[2].data)
            if av[0] >= 1 and boundary and not _non_word_only(sub):
                if (words_ := _words_from("", sub)) is not None:
                    found.append(words_)
            if av[0] >= 1:
                boundary = _ends_non_word(sub)
            else:
                boundary = boundary and (_non_word_only(sub) or _ends_non_word(sub))
            continue
        if (op is _sre.LITERAL or op is _sre.SUBPATTERN or op is _sre.BRANCH) and boundary:
            if (words_ := _words_from("", items[index:])) is not None:
                found.append(words_)
        boundary = op is not _sre.LITERAL and _ends_non_word([(op, av)])
    return found


def _top_level_alternatives(source: str) -> list[str]:
    """``source`` split at its top-level ``|`` (outside groups and character classes)."""
    parts, current, depth, in_class, index = [], [], 0, False, 0
    while index < len(source):
        char = source[index]
        if char == "\\":
            current.append(source[index:index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if source[index + 1:index + 2] == "]":
                current.append("[]")
                index += 2
                continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


class Cues:
    """One cue family written as a single regex alternation, searched as its alternatives.

    A long alternation costs a try of every alternative at every position of the text (a 300
    character answer against 40 alternatives: ~100 µs). Most alternatives begin with a literal
    word after a boundary ("\\\\b(?:talk|speak)\\\\s+to …"): such an alternative can only match a
    text whose ``words`` hold one of those first words, so it runs only then — an exact
    prefilter, derived from the pattern itself. Alternatives without such a word always run.
    ``search`` returns what the whole alternation would: the leftmost match, the earliest
    alternative at that position.
    """

    def __init__(self, source: str) -> None:
        self.pattern = re.compile(source)
        parts = _top_level_alternatives(source)
        if len(parts) == 1 and source.startswith("\\b(?:") and source.endswith(")\\b"):
            inner = _top_level_alternatives(source[5:-3])  # "\b(?:a|b|c)\b": the same as "\b(?:a)\b|\b(?:b)\b|…"
            if len(inner) > 1 and re.compile("|".join(inner)).groups == re.compile(source[5:-3]).groups:
                parts = [f"\\b(?:{part})\\b" for part in inner]
        self._alternatives = []
        self._requires = []  # per alternative: the other word sets a match needs
        index: dict[str, list[int]] = {}
        always = []
        for number, part in enumerate(parts):
            self._alternatives.append(re.compile(part))
            required = _required_words(list(_sre_parse.parse(part).data))
            # indexed by the set with the fewest common words (the first of those); the others checked
            key = min(required, key=lambda words_: len(words_ & _COMMON), default=None)
            self._requires.append(tuple(words_ for words_ in required if words_ is not key))
            if key is None:
                always.append(number)
            else:
                for word in key:
                    index.setdefault(word, []).append(number)
        self._index = {word: tuple(numbers) for word, numbers in index.items()}
        self._always = tuple(always)
        self.triggers = frozenset(index)

    def may_match(self, tokens) -> bool:
        """False only when no alternative can match a text of these ``words`` (exact)."""
        return bool(self._always) or not self.triggers.isdisjoint(tokens)

    def candidates(self, tokens, hits=None) -> list[re.Pattern]:
        """The alternatives whose needed words are all in ``tokens`` (a set), in pattern order."""
        hits = self.triggers.intersection(tokens) if hits is None else hits
        if not hits:
            numbers = self._always
        elif len(hits) == 1 and not self._always:
            numbers = self._index[next(iter(hits))]
        else:
            found = set(self._always)
            for word in hits:
                found.update(self._index[word])
            numbers = sorted(found)
        chosen = []
        for number in numbers:
            for words_ in self._requires[number]:
                if words_.isdisjoint(tokens):
                    break
            else:
                chosen.append(self._alternatives[number])
        return chosen

    def search(self, text: str, tokens=None) -> re.Match | None:
        """The leftmost match in ``text``; ``tokens``: the set of ``words(text)`` (computed when absent)."""
        if tokens is None:
            tokens = set(words(text))
        elif not isinstance(tokens, (set, frozenset)):
            tokens = set(tokens)
        hits = self.triggers.intersection(tokens)
        if not hits and not self._always:
            return None
        best = None
        for pattern in self.candidates(tokens, hits):
            found = pattern.search(text)
            if found is not None and (best is None or found.start() < best.start()):
                best = found
        return best

    def finditer(self, text: str, tokens=None):
        """Every alternative's matches, by position (overlapping ones included)."""
        tokens = set(words(text) if tokens is None else tokens)
        found = [m for pattern in self.candidates(tokens) for m in pattern.finditer(text)]
        return sorted(found, key=lambda m: m.start())
