"""PII redaction: the pure engine that ingestion runs on every text before anything is written.

No models and no settings here (the per-project settings live in apps.projects, below capture),
so capture (apps.traces) and the widget (apps.feedback) both reach it. A ``Redactor`` is built
once per project settings version and reused: every pattern is compiled at build time, and each
recogniser has a cheap prefilter (``"@" in text`` for e-mail, "has a digit" for numbers, "has a
colon" for IPv6) so a text without candidates costs a few substring tests.

Recognisers, in the order they run (an earlier one's placeholder hides its match from later
ones: a card number is never also a phone number):

- ``secret``: vendor-prefixed API keys (``sk-``, ``sk_live_``, ``ghp_``, ``xoxb-``/``xoxp-``,
  ``AKIA…``, ``AIza…``, ``glpat-``, ``al_sk_``) and long high-entropy tokens (32+ characters of
  letters, digits and ``_-``, mixing letters and digits, Shannon entropy ≥ 3.5 bits a character;
  UUIDs are ids and stay, long hex digests such as a commit SHA are treated as secrets).
- ``email``: local@domain.tld.
- ``iban``: two letters, two check digits, 11–30 letters/digits (spaces allowed in groups of 4);
  kept unless the ISO 13616 mod-97 checksum holds.
- ``card``: 13–19 digits (spaces or dashes between groups); kept unless the Luhn checksum holds,
  so order numbers stay.
- ``ip``: IPv4 (each octet ≤ 255) and IPv6 (validated by ``ipaddress``); an IPv4-looking
  string in version context (``v1.2.3.4``, ``version 1.2.3.4``, ``1.2.3.4-beta``) is kept.
- ``phone``: international (``+`` and 7–15 digits) and national (a trunk ``0`` or a
  ``(555) 123-4567`` shape) formats; ISO dates and times (``2024-05-01``) are kept.
- customer patterns, each named, compiled with the ``regex`` package and run with a timeout.

Presidio (Microsoft's PII recognisers) was the reference for the checksums and the shapes; the
code is ours, tuned for ingestion speed (stdlib ``re`` for the linear built-in patterns).

Placeholders: ``[EMAIL]`` or, with a per-project key, ``[EMAIL:3f2a]`` — the first 4 hex digits
of HMAC-SHA256(key, kind + normalised match), so one address gives one placeholder in a project
(sessions stay linkable) and different ones across projects.

A customer pattern that exceeds its timeout on a text is skipped for that text (the text is kept
as the other recognisers left it) and counted under ``timeout``: a slow pattern never hangs a
worker nor loses the turn. Patterns that time out on the probes are refused when saved
(``validate_pattern``), so this is rare.

JSON values are walked (strings in lists and dict values); keys are kept — they are the agent's
schema (``"order_id"``), not user text — as are numbers, booleans and null.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from apps.core.patterns import PROBE_TIMEOUT_SECONDS, PatternError, compile_pattern

KINDS = ("email", "phone", "card", "iban", "ip", "secret")
KIND_LABELS = {
    "email": "E-mail addresses",
    "phone": "Phone numbers (international and national)",
    "card": "Payment card numbers (Luhn-checked)",
    "iban": "IBANs (checksum-checked)",
    "ip": "IPv4 and IPv6 addresses",
    "secret": "API keys and other secrets (vendor prefixes, long high-entropy tokens)",
}
TIMEOUT_KIND = "timeout"
PATTERN_TIMEOUT_SECONDS = 0.02  # per text at ingestion
CLEAN_CACHE_LENGTH = 64  # texts up to this length that held nothing are remembered per redactor
CLEAN_CACHE_SIZE = 20_000
MAX_PATTERNS = 20
MAX_PATTERN_LENGTH = 500
PATTERN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")

# Prefilters work on the text's UTF-8 bytes, where deleting or mapping bytes is one C call:
# the number of ASCII digits, and whether a run of 19+ token characters (the secret pattern's
# class; every vendor key and long token is one) occurs.
_NOT_DIGIT = bytes(b for b in range(256) if not 48 <= b <= 57)
_TOKEN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TOKEN_MAP = bytes(97 if b in _TOKEN_BYTES else 32 for b in range(256))
_TOKEN_RUN = b"a" * 19
_DOT_DIGIT = re.compile(rb"\.[0-9]").search  # the IPv4 prefilter, on the bytes (a literal-led scan)

_SECRET = re.compile(
    r"(?<![A-Za-z0-9_\-])(?:"
    r"(?:sk_live_|sk_test_|rk_live_|sk-(?:proj-|ant-)?|ghp_|gho_|ghs_|github_pat_|xox[bpas]-|glpat-|al_sk_)[A-Za-z0-9_\-]{16,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"
    r"|AIza[A-Za-z0-9_\-]{35}"
    r"|(?P<token>[A-Za-z0-9_\-]{32,})"
    r")(?![A-Za-z0-9_\-])"
)
_SECRET_PREFIXES = ("sk", "rk_", "gh", "xox", "glpat-", "al_sk_", "AKIA", "ASIA", "AIza")
_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d.\-])\d(?:[ \-]?\d){12,18}(?![\d.\-]?\d)")
_IPV4 = re.compile(r"(?<![\w.\-])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w.]|-\w)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_VERSION_CONTEXT = re.compile(r"(?:\b(?:v|ver|version|release|build|rev)\.?\s*:?\s*$)", re.IGNORECASE)
_PHONE = re.compile(
    r"(?<![\w+\-/.])(?:"
    r"\+\d{1,3}(?:[ .\-]?\(?\d{1,4}\)?){2,5}"  # international
    r"|\(0?\d{2,4}\)[ .\-]?\d{3,4}[ .\-]?\d{3,4}"  # (555) 123-4567, (020) 7946 0958
    r"|0\d{1,4}[ .\-/]?\d{3,4}[ .\-]?\d{2,4}(?:[ .\-]?\d{2,4})?"  # trunk 0: 030 1234 5678, 020 7946 0958
    r"|0\d(?:[ .\-]\d{2}){4}"  # 06 12 34 56 78
    r"|\d{3}[ .\-]\d{3}[ .\-]\d{4}"  # 555-123-4567
    r")(?![\w\-/]|\.\d)"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{2}[./\-]\d{2}[./\-]\d{4}$")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _entropy(text: str) -> float:
    counts = Counter(text)
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def _looks_random(token: str) -> bool:
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return has_digit and has_alpha and _entropy(token) >= 3.5


def validate_pattern(name: str, pattern: str):
    """The compiled customer pattern, or ``PatternError`` (codes: ``invalid_name``, and those of
    ``apps.core.patterns.compile_pattern``, and ``pattern_matches_empty``: a pattern that matches
    the empty string would match everywhere)."""
    if not isinstance(name, str) or not PATTERN_NAME.match(name):
        raise PatternError("A pattern name is a letter then up to 31 letters, digits or _.", code="invalid_name")
    compiled = compile_pattern(pattern, max_length=MAX_PATTERN_LENGTH)
    try:
        empty = compiled.search("", timeout=PROBE_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        empty = True
    if empty:
        raise PatternError("The pattern matches the empty string, so it would match everywhere.", code="pattern_matches_empty")
    return compiled


@dataclass
class Counts:
    """What one redaction run replaced, per kind (customer patterns by their name)."""

    by_kind: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return dict(self.by_kind)


_CONTAINERS = (dict, list)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _ascii_digits(raw: bytes) -> int:
    return len(raw.translate(None, _NOT_DIGIT))


class Redactor:
    """Built once per project settings version (see apps.projects.redaction); thread-safe (no
    state beyond what ``__init__`` compiled)."""

    def __init__(self, *, kinds=(), hash_key: bytes | None = None, patterns=()):
        self.kinds = frozenset(kinds) & frozenset(KINDS)
        self.hash_key = hash_key
        self.patterns = [(name, validate_pattern(name, source) if isinstance(source, str) else source)
                         for name, source in patterns]
        # Short values that held nothing to redact, seen before: roles, tool and status names,
        # metadata enums repeat on every turn. A set (thread-safe under the GIL), emptied when full.
        self._clean: set[str] = set()

    @property
    def active(self) -> bool:
        return bool(self.kinds or self.patterns)

    def _placeholder(self, kind: str, value: str) -> str:
        label = kind.upper()
        if self.hash_key is None:
            return f"[{label}]"
        digest = hmac.new(self.hash_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:4]
        return f"[{label}:{digest}]"

    def text(self, text: str, counts: Counts) -> str:
        """``text`` with every enabled recogniser applied; replacements counted into ``counts``."""
        if len(text) <= CLEAN_CACHE_LENGTH:
            if not text or text in self._clean:
                return text
            before = sum(counts.by_kind.values())
            redacted = self._text(text, counts)
            if redacted is text and sum(counts.by_kind.values()) == before:
                if len(self._clean) >= CLEAN_CACHE_SIZE:
                    self._clean.clear()
                self._clean.add(text)
            return redacted
        return self._text(text, counts)

    def _text(self, text: str, counts: Counts) -> str:
        kinds = self.kinds
        tally = counts.by_kind
        # Prefilters are C-speed byte and substring counts (a regex scan costs tens of times
        # more): a recogniser's regex runs only on a text that could hold a match (a 19+
        # character token for a secret, "@" for an e-mail, 13 digits for a card, 7 for a phone…).
        raw = _utf8(text)
        digits = _ascii_digits(raw)
        changed = False
        if "secret" in kinds and len(raw) >= 19 and _TOKEN_RUN in raw.translate(_TOKEN_MAP):
            text = _SECRET.sub(lambda m: self._secret(m, tally), text)
            changed = True
        if "email" in kinds and "@" in text:
            text = _EMAIL.sub(lambda m: self._replace("email", m.group(0).lower(), tally), text)
            changed = True
        if changed and digits:  # the numbers' prefilters count what the placeholders left
            digits = _ascii_digits(_utf8(text))
        if digits >= 4:
            if "iban" in kinds and digits >= 6:
                text = _IBAN.sub(lambda m: self._checked("iban", m, iban_valid, tally, m.group(0).replace(" ", "")), text)
            if "card" in kinds and digits >= 13:
                text = _CARD.sub(lambda m: self._card(m, tally), text)
            if "ip" in kinds and text.count(".") >= 3 and _DOT_DIGIT(raw):  # raw: placeholders add no ".1"
                text = _IPV4.sub(lambda m: self._ipv4(m, tally), text)
            if "phone" in kinds and digits >= 7:
                text = _PHONE.sub(lambda m: self._phone(m, tally), text)
        if "ip" in kinds and text.count(":") >= 2:
            text = _IPV6.sub(lambda m: self._ipv6(m, tally), text)
        for name, compiled in self.patterns:
            try:
                text = compiled.sub(lambda m, name=name: self._replace(name, m.group(0), tally), text,
                                    timeout=PATTERN_TIMEOUT_SECONDS)
            except TimeoutError:
                tally[TIMEOUT_KIND] += 1
        return text

    def json(self, value, counts: Counts):
        """Decoded JSON with every string value redacted, in place (keys kept), returned; a bare
        string is returned redacted. Iterative, so no depth raises ``RecursionError``."""
        if isinstance(value, str):
            return self.text(value, counts)
        if not isinstance(value, _CONTAINERS) or not value:
            return value
        text = self.text
        pending = [value]
        while pending:
            node = pending.pop()
            for key, item in (node.items() if isinstance(node, dict) else enumerate(node)):
                if isinstance(item, str):
                    if item:
                        redacted = text(item, counts)
                        if redacted is not item:
                            node[key] = redacted  # same key: the dict's size never changes mid-walk
                elif isinstance(item, _CONTAINERS) and item:
                    pending.append(item)
        return value

    def _replace(self, kind: str, normalised: str, tally: Counter) -> str:
        tally[kind] += 1
        return self._placeholder(kind, normalised)

    def _checked(self, kind, match, check, tally, normalised) -> str:
        return self._replace(kind, normalised, tally) if check(normalised) else match.group(0)

    def _secret(self, match, tally) -> str:
        token = match.group(0)
        if match.group("token") is not None and (
            _UUID.match(token) or not (token.startswith(_SECRET_PREFIXES) or _looks_random(token))
        ):
            return token  # ids (UUIDs) and identifiers stay; only random-looking tokens go
        return self._replace("secret", token, tally)

    def _card(self, match, tally) -> str:
        digits = re.sub(r"[ \-]", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return self._replace("card", digits, tally)
        return match.group(0)

    def _ipv4(self, match, tally) -> str:
        before = match.string[max(0, match.start() - 12):match.start()]
        if _VERSION_CONTEXT.search(before):
            return match.group(0)
        return self._replace("ip", match.group(0), tally)

    def _ipv6(self, match, tally) -> str:
        candidate = match.group(0)
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            return candidate
        return self._replace("ip", address.compressed, tally)

    def _phone(self, match, tally) -> str:
        candidate = match.group(0)
        digits = re.sub(r"\D", "", candidate)
        if not 7 <= len(digits) <= 15 or _ISO_DATE.match(candidate):
            return candidate
        return self._replace("phone", ("+" if candidate.startswith("+") else "") + digits, tally)
