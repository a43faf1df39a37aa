"""Import of JSONL or CSV (the export formats): a preview first, nothing written until confirmed.

``import_preview`` stores the upload and reads it once: every row is validated on its own and
each problem is kept as ``{line, field, reason}``; the rows that pass are counted. Nothing is
written to the dataset. ``import_confirm`` reads the file again and adds the good rows as one
version: bad rows never block good ones, and a file-level problem (wrong encoding, no ``input``
column, too large) refuses the whole file with one clear message before anything is written.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Iterator

from django.core.files.base import File
from django.db import transaction

from apps.core.audit import Actor, AuditAction, audit_record
from apps.core.errors import Conflict, ServiceError, ValidationFailed
from apps.datasets.cases import CaseInvalid, case_clean
from apps.datasets.models import CaseSource, DatasetImport, ImportState
from apps.datasets.selectors.export import CSV_COLUMNS, JSON_COLUMNS, csv_cell_unescape
from apps.datasets.services.changes import Author, cases_add, live_revisions, revision_new

MAX_BYTES = 100 * 1024 * 1024
MAX_ROWS = 200_000
ERRORS_KEPT = 500
csv.field_size_limit(MAX_BYTES)


class ImportRefused(ServiceError):
    code = "invalid_import"


def _format_of(filename: str, fmt: str | None) -> str:
    if fmt in ("jsonl", "csv"):
        return fmt
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise ImportRefused("Upload a .jsonl or .csv file (or choose the format).", field="format")


def _text(stream) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


def _encoding_error(line: int, error: UnicodeDecodeError) -> ImportRefused:
    return ImportRefused(
        f"The file is not UTF-8 text (line {line}: byte {error.object[error.start]:#04x} is not valid UTF-8). "
        "Save it as UTF-8 and upload it again; nothing was imported.", field="file",
    )


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _jsonl_rows(stream) -> Iterator[tuple[int, object, str]]:
    text = _text(stream)
    try:
        yield from _jsonl_lines(text)
    finally:
        text.detach()  # the caller's file stays open (a TextIOWrapper closes what it wraps)


def _jsonl_lines(text) -> Iterator[tuple[int, object, str]]:
    line_number = 0
    try:
        for line_number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                yield line_number, json.loads(line, parse_constant=_refuse_constant), ""
            except (ValueError, RecursionError) as exc:
                yield line_number, None, f"not valid JSON ({str(exc)[:120]})"
    except UnicodeDecodeError as exc:
        raise _encoding_error(line_number + 1, exc) from None


def _csv_value(name: str, raw: str, row: dict, problems: list) -> None:
    value = csv_cell_unescape(raw)
    if name in JSON_COLUMNS:
        if value == "":
            return
        if name == "tags" and not value.lstrip().startswith("["):
            row["tags"] = [tag.strip() for tag in value.split(",") if tag.strip()]
            return
        try:
            row[name] = json.loads(value, parse_constant=_refuse_constant)
        except ValueError:
            problems.append((name, "is not valid JSON"))
        return
    if name.startswith("lineage_"):
        if value != "":
            row.setdefault("lineage", {})[name[len("lineage_"):]] = value
        return
    row[name] = value


def _csv_rows(stream) -> Iterator[tuple[int, object, str]]:
    text = _text(stream)
    try:
        yield from _csv_records(text)
    finally:
        text.detach()


def _csv_records(text) -> Iterator[tuple[int, object, str]]:
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise ImportRefused("The CSV file is empty; nothing was imported.", field="file")
        header = [name.strip() for name in header]
        if "input" not in header:
            raise ImportRefused(
                "Line 1: the CSV has no “input” column (the header must name the columns: "
                f"{', '.join(CSV_COLUMNS)}); nothing was imported.", field="file",
            )
        unknown = [name for name in header if name not in CSV_COLUMNS]
        if unknown:
            raise ImportRefused(f"Line 1: unknown column “{unknown[0][:60]}”; known columns: {', '.join(CSV_COLUMNS)}.", field="file")
        start = reader.line_num + 1
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                yield line, None, f"has {len(cells)} cells, the header has {len(header)}"
                continue
            row, problems = {}, []
            for name, raw in zip(header, cells):
                _csv_value(name, raw, row, problems)
            yield line, (row if not problems else None), "; ".join(f"{f} {r}" for f, r in problems) if problems else ""
    except UnicodeDecodeError as exc:
        raise _encoding_error(reader.line_num + 1, exc) from None
    except csv.Error as exc:
        raise ImportRefused(f"Line {reader.line_num}: the CSV is malformed ({exc}); nothing was imported.", field="file") from None


def parse_file(stream, fmt: str) -> Iterator[tuple[int, dict | None, list[dict]]]:
    """``(line, cleaned case or None, [errors])`` for every row of the file."""
    rows = _csv_rows(stream) if fmt == "csv" else _jsonl_rows(stream)
    count = 0
    for line, data, problem in rows:
        count += 1
        if count > MAX_ROWS:
            raise ImportRefused(f"The file has more than {MAX_ROWS} rows; split it. Nothing was imported.", field="file")
        if data is None:
            field_name = problem.split(" ", 1)[0] if problem and problem.split(" ", 1)[0] in CSV_COLUMNS else ""
            yield line, None, [{"line": line, "field": field_name, "reason": problem}]
            continue
        try:
            case = case_clean(data)
        except CaseInvalid as error:
            yield line, None, [{"line": line, "field": f, "reason": r} for f, r in error.errors]
            continue
        yield line, case, []


def _check_rows(dataset, stream, fmt: str, *, keep: bool = True) -> tuple[int, list, list[dict], int]:
    """Parse and validate: (rows seen, good rows, kept errors, total errors). Duplicated turns
    (twice in the file, or already a case of this dataset) are row errors too."""
    live_turns = set(live_revisions(dataset).exclude(turn_id=None).values_list("turn_id", flat=True))
    seen_turns: dict = {}
    good, errors, errors_count, total, valid = [], [], 0, 0, 0
    for line, case, row_errors in parse_file(stream, fmt):
        total += 1
        turn_id = case.get("turn_id") if case else None
        if turn_id and turn_id in live_turns:
            row_errors = [{"line": line, "field": "lineage.turn_id", "reason": "this turn is already a case of the dataset"}]
        elif turn_id and turn_id in seen_turns:
            row_errors = [{"line": line, "field": "lineage.turn_id", "reason": f"the same turn as line {seen_turns[turn_id]}"}]
        if row_errors:
            errors_count += len(row_errors)
            errors.extend(row_errors[: max(0, ERRORS_KEPT - len(errors))])
            continue
        if turn_id:
            seen_turns[turn_id] = line
        valid += 1
        if keep:
            good.append((line, case))
    return total, (good if keep else [None] * valid), errors, errors_count


@transaction.atomic
def import_preview(*, dataset, upload, fmt: str | None, actor: Actor) -> DatasetImport:
    """Store the upload and validate it; writes no case (``import_confirm`` does)."""
    if dataset.archived:
        raise Conflict("This dataset is archived; unarchive it to import cases.", code="dataset_archived")
    if upload is None:
        raise ImportRefused("Choose a file to import.", field="file")
    if upload.size > MAX_BYTES:
        raise ImportRefused(f"The file is {upload.size // (1024 * 1024)} MB; the limit is 100 MB. Nothing was imported.", field="file")
    fmt = _format_of(upload.name, fmt)
    upload.seek(0)
    total, good, errors, errors_count = _check_rows(dataset, upload, fmt, keep=False)
    if total == 0:
        raise ImportRefused("The file has no rows; nothing was imported.", field="file")
    upload.seek(0)
    record = DatasetImport(
        project_id=dataset.project_id, dataset=dataset, filename=upload.name[:255], format=fmt,
        rows_total=total, rows_valid=len(good), errors=errors, errors_count=errors_count,
        created_by=actor.user if getattr(actor.user, "pk", None) else None,
    )
    record.file.save(f"{dataset.pk}.{fmt}", File(upload), save=False)
    record.save()
    return record


@transaction.atomic
def import_confirm(*, record: DatasetImport, actor: Actor, message: str = "", split: str = ""):
    """Add the previewed file's good rows as one version (``split`` fills rows without one)."""
    record = DatasetImport.objects.for_project(record.project_id).select_for_update().select_related(
        "dataset__project__organization"
    ).get(pk=record.pk)
    if record.state != ImportState.PREVIEW:
        raise Conflict("This import was already confirmed or cancelled.", code="import_closed")
    dataset = record.dataset
    with record.file.open("rb") as stream:
        _, good, _, _ = _check_rows(dataset, stream, record.format)
    if not good:
        raise ValidationFailed("No row of this file can be imported; fix the rows listed and upload it again.", code="invalid_import")
    revisions = []
    for _, case in good:
        if split and not case.get("split"):
            case["split"] = split
        revisions.append(revision_new(case, source=CaseSource.IMPORT))
    result, _ = cases_add(
        dataset=dataset, author=Author.of_user(actor.user), revisions=revisions,
        message=message or f"Imported {len(revisions)} cases from {record.filename}", default_message="Imported",
    )
    record.state, record.version = ImportState.IMPORTED, result.number
    record.save(update_fields=["state", "version"])
    audit_record(
        organization=dataset.project.organization, actor=actor, action=AuditAction.DATASET_IMPORTED,
        target_type="dataset", target_id=dataset.pk, target_label=dataset.name,
        after={"file": record.filename, "rows": record.rows_total, "imported": result.added,
               "errors": record.errors_count, "version": result.number},
    )
    return result


@transaction.atomic
def import_cancel(*, record: DatasetImport) -> None:
    record = DatasetImport.objects.for_project(record.project_id).select_for_update().get(pk=record.pk)
    if record.state != ImportState.PREVIEW:
        raise Conflict("This import was already confirmed or cancelled.", code="import_closed")
    record.state = ImportState.CANCELLED
    record.save(update_fields=["state"])
    record.file.delete(save=False)
