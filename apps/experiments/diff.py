"""Side-by-side diff of two prompt versions: the template text, the tools and the settings (the
JSON ones pretty-printed with sorted keys, so the diff shows meaning, not key order).

Rows are plain data; templates render them with autoescaping (nothing here is marked safe).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field

MAX_LINES = 5_000


@dataclass(slots=True)
class Row:
    kind: str  # "equal" | "replace" | "delete" | "insert"
    left_number: int | None
    left: str
    right_number: int | None
    right: str


@dataclass(slots=True)
class Section:
    name: str
    changed: bool
    rows: list[Row] = field(default_factory=list)
    unified: list[str] = field(default_factory=list)
    truncated: bool = False


def _lines(text: str) -> list[str]:
    return text.splitlines()[:MAX_LINES]


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def section(name: str, before: str, after: str, *, labels: tuple[str, str]) -> Section:
    left, right = _lines(before), _lines(after)
    result = Section(name=name, changed=before != after, truncated=max(len(before.splitlines()), len(after.splitlines())) > MAX_LINES)
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        span = max(i2 - i1, j2 - j1)
        for offset in range(span):
            i, j = i1 + offset, j1 + offset
            has_left, has_right = i < i2, j < j2
            kind = tag if tag in ("equal", "replace") else ("delete" if has_left else "insert")
            if tag == "replace" and not (has_left and has_right):
                kind = "delete" if has_left else "insert"
            result.rows.append(Row(kind, i + 1 if has_left else None, left[i] if has_left else "",
                                   j + 1 if has_right else None, right[j] if has_right else ""))
    result.unified = list(difflib.unified_diff(left, right, fromfile=labels[0], tofile=labels[1], lineterm=""))
    return result


def version_diff(before, after) -> list[Section]:
    """Sections (template, tools, settings) comparing two PromptVersion rows."""
    labels = (f"v{before.number}", f"v{after.number}")
    return [
        section("template", before.template, after.template, labels=labels),
        section("tools", _pretty(before.tools), _pretty(after.tools), labels=labels),
        section("settings", _pretty(before.settings), _pretty(after.settings), labels=labels),
    ]
