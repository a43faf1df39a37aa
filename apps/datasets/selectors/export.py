"""Exports of one version, produced in constant memory: the rows are read in keyset chunks of
``CHUNK`` (``position > last ORDER BY position LIMIT n``, no cursor held open between chunks)
and each line leaves before the next chunk is read.

- ``jsonl``: one case a line, ``apps.datasets.cases.case_as_dict`` (imports back identically).
- ``csv``: the same fields; JSON-valued fields as JSON text. A cell that a spreadsheet would run
  as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) gets a leading ``'``;
  ``csv_cell_unescape`` removes exactly that quote again on import (a value that already starts
  with quotes before such a character gets one more, so the round trip is exact).
- ``openai``: chat fine-tuning lines ``{"messages": [system?, history…, user, assistant]}``; the
  system message is the case's ``metadata.system`` when it is text. Cases without an
  ``expected_output`` have no assistant message to learn and are left out.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Iterator

from apps.datasets.cases import case_as_dict
from apps.datasets.selectors.datasets import revisions_at

CHUNK = 2000
FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv", "openai": "application/x-ndjson"}
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "openai": "openai.jsonl"}
CSV_COLUMNS = [
    "id", "input", "history", "context", "expected_output", "failure_category", "tags", "split", "metadata",
    "lineage_source", "lineage_project", "lineage_turn_id", "lineage_decision_id", "lineage_reviewer",
    "lineage_problem_id", "lineage_problem_title", "lineage_added_at",
]
JSON_COLUMNS = {"history", "context", "tags", "metadata"}
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")


def csv_cell_escape(value: str) -> str:
    return "'" + value if _FORMULA.match(value) else value


def csv_cell_unescape(value: str) -> str:
    return value[1:] if _ESCAPED.match(value) else value


def revisions_chunked(*, dataset, number: int, chunk: int = CHUNK) -> Iterator:
    after = 0
    while True:
        rows = list(revisions_at(dataset=dataset, number=number).filter(position__gt=after).order_by("position")[:chunk])
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1].position


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _csv_row(case: dict) -> list[str]:
    lineage = case["lineage"]
    values = {name: case[name] for name in CSV_COLUMNS if name in case}
    for name in JSON_COLUMNS:
        values[name] = _dumps(case[name])
    for key in ("source", "project", "turn_id", "decision_id", "reviewer", "problem_id", "problem_title", "added_at"):
        value = lineage.get(key)
        values[f"lineage_{key}"] = "" if value is None else str(value)
    return [csv_cell_escape(str(values.get(name, ""))) for name in CSV_COLUMNS]


def _message(item) -> dict | None:
    if isinstance(item, dict) and isinstance(item.get("role"), str) and "content" in item:
        content = item["content"]
        return {"role": item["role"], "content": content if isinstance(content, str) else _dumps(content)}
    return None


def openai_line(case: dict) -> dict | None:
    if not case["expected_output"]:
        return None
    messages = []
    system = (case["metadata"] or {}).get("system") if isinstance(case["metadata"], dict) else None
    if isinstance(system, str) and system:
        messages.append({"role": "system", "content": system})
    messages += [message for message in map(_message, case["history"] or []) if message]
    messages += [{"role": "user", "content": case["input"]}, {"role": "assistant", "content": case["expected_output"]}]
    return {"messages": messages}


def export_lines(*, dataset, number: int, fmt: str, on_row=None) -> Iterator[str]:
    """The export of version ``number`` in ``fmt``, as text pieces (lines; the CSV header first).
    ``on_row(count)`` is called every chunk with the rows done so far (the export task's progress)."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        yield buffer.getvalue()
    done = 0
    for revision in revisions_chunked(dataset=dataset, number=number):
        case = case_as_dict(revision)
        if fmt == "jsonl":
            yield _dumps(case) + "\n"
        elif fmt == "openai":
            line = openai_line(case)
            if line is not None:
                yield _dumps(line) + "\n"
        else:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(_csv_row(case))
            yield buffer.getvalue()
        done += 1
        if on_row is not None and done % CHUNK == 0:
            on_row(done)
    if on_row is not None:
        on_row(done)


def export_bytes(*, dataset, number: int, fmt: str) -> Iterator[bytes]:
    """``export_lines`` encoded as UTF-8 and grouped into ~64 KB pieces for a streamed response."""
    pending, size = [], 0
    for piece in export_lines(dataset=dataset, number=number, fmt=fmt):
        data = piece.encode("utf-8")
        pending.append(data)
        size += len(data)
        if size >= 65536:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def export_filename(*, dataset, number: int, fmt: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", dataset.name).strip("-") or "dataset"
    return f"{safe}-v{number}.{EXTENSIONS[fmt]}"
