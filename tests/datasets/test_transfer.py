"""Exports (JSONL, CSV with formula cells neutralised, OpenAI chat) and imports with per-row errors."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.audit import SYSTEM
from apps.core.errors import ServiceError
from apps.datasets.cases import case_as_dict
from apps.datasets.models import CaseRevision
from apps.datasets.selectors.datasets import revisions_at
from apps.datasets.selectors.export import export_lines
from apps.datasets.services.changes import cases_add, revision_new
from apps.datasets.services.imports import import_confirm, import_preview
from apps.datasets.services.turns import cases_add_from_turns
from tests.factories.datasets import AUTHOR, DatasetFactory, confirmed_turn


def _export(dataset, fmt, number=None):
    dataset.refresh_from_db()
    return "".join(export_lines(dataset=dataset, number=number or dataset.latest_version, fmt=fmt))


def _fill(dataset, project, members):
    turn, _ = confirmed_turn(project, reviewer=members["reviewer"].user, problem_title="Refunds")
    cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[turn.id], split="regression", tags=["refunds", "v2"])
    hand = [
        revision_new({"input": "=HYPERLINK(\"http://evil\",\"x\")", "expected_output": "+1 then @me", "tags": ["-x"],
                      "metadata": {"system": "You are helpful."}, "history": [{"role": "user", "content": "earlier"}],
                      "context": {"docs": ["ünïcode ✓"]}}, source="hand"),
        revision_new({"input": "'=already quoted", "expected_output": "", "split": "train"}, source="hand"),
        revision_new({"input": "multi\nline, with \"quotes\"", "expected_output": "ok"}, source="hand"),
    ]
    cases_add(dataset=dataset, author=AUTHOR, revisions=hand)
    return turn


def _identical(source, target):
    rows = lambda d: [{k: v for k, v in case_as_dict(r).items()} for r in revisions_at(dataset=d, number=d.latest_version).order_by("position")]  # noqa: E731
    source.refresh_from_db()
    target.refresh_from_db()
    return rows(source), rows(target)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_imports_back_to_identical_cases(dataset, project, members, fmt):
    _fill(dataset, project, members)
    body = _export(dataset, fmt).encode()
    target = DatasetFactory(project=project, name=f"copy {fmt}")

    record = import_preview(dataset=target, upload=SimpleUploadedFile(f"cases.{fmt}", body), fmt=None, actor=SYSTEM)
    import_confirm(record=record, actor=SYSTEM)

    assert (record.rows_total, record.rows_valid, record.errors) == (4, 4, [])
    before, after = _identical(dataset, target)
    assert after == before


def test_csv_export_prefixes_formula_cells_with_a_quote(dataset, project, members):
    _fill(dataset, project, members)

    lines = _export(dataset, "csv")

    assert "'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")" in lines
    assert ",'+1 then @me," in lines
    assert "''=already quoted" in lines
    assert "=HYPERLINK" not in lines.replace("'=HYPERLINK", "")


def test_openai_export_is_chat_fine_tuning_lines(dataset, project, members):
    turn = _fill(dataset, project, members)

    lines = [json.loads(line) for line in _export(dataset, "openai").splitlines()]

    assert len(lines) == 3  # the case without an expected output has nothing to learn
    assert lines[0] == {"messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": turn.input}, {"role": "assistant", "content": "The refund window is 30 days."},
    ]}
    assert lines[1]["messages"][0] == {"role": "system", "content": "You are helpful."}
    assert lines[1]["messages"][-1] == {"role": "assistant", "content": "+1 then @me"}


def test_an_import_lists_every_bad_row_and_imports_only_the_good_ones(dataset, project):
    body = "\n".join([
        json.dumps({"input": "good one", "expected_output": "fine", "split": "holdout"}),
        "{not json",
        json.dumps({"input": "", "expected_output": "no input"}),
        json.dumps({"input": "bad tags", "tags": "oops"}),
        json.dumps(["a list"]),
        json.dumps({"input": "good two", "colour": "blue"}),
        json.dumps({"input": "good three"}),
    ]).encode()

    record = import_preview(dataset=dataset, upload=SimpleUploadedFile("c.jsonl", body), fmt=None, actor=SYSTEM)
    written_before_confirm = CaseRevision.objects.for_project(project).filter(dataset=dataset).count()
    result = import_confirm(record=record, actor=SYSTEM)

    assert written_before_confirm == 0
    assert [(e["line"], e["field"]) for e in record.errors] == [(2, ""), (3, "input"), (4, "tags"), (5, ""), (6, "colour")]
    assert record.errors[1]["reason"] == "is required"
    assert (record.rows_total, record.rows_valid, result.added, result.number) == (7, 2, 2, 1)
    assert sorted(CaseRevision.objects.for_project(project).filter(dataset=dataset).values_list("input", flat=True)) == ["good one", "good three"]


@pytest.mark.parametrize(("body", "name", "message"), [
    ("input,expected_output\n\xe9t\xe9,x\n".encode("latin-1"), "c.csv", "not UTF-8"),
    (b"question,answer\nq,a\n", "c.csv", "no “input” column"),
    (b"", "c.jsonl", "no rows"),
    (b"input\nx\n", "c.txt", "Upload a .jsonl or .csv"),
])
def test_a_bad_file_is_refused_whole_with_a_clear_message(dataset, project, body, name, message):
    with pytest.raises(ServiceError) as error:
        import_preview(dataset=dataset, upload=SimpleUploadedFile(name, body), fmt=None, actor=SYSTEM)

    assert message in error.value.message
    assert error.value.code == "invalid_import"
    assert not CaseRevision.objects.for_project(project).filter(dataset=dataset).exists()


def test_a_file_over_100_mb_is_refused(dataset):
    upload = SimpleUploadedFile("big.jsonl", b"x")
    upload.size = 100 * 1024 * 1024 + 1

    with pytest.raises(ServiceError) as error:
        import_preview(dataset=dataset, upload=upload, fmt=None, actor=SYSTEM)

    assert "limit is 100 MB" in error.value.message


def test_a_csv_row_with_bad_json_and_a_duplicated_turn_are_row_errors(dataset, project, members):
    turn = _fill(dataset, project, members)
    body = (f"input,history,lineage_turn_id\nq1,[not json,\nq2,,{turn.id}\nq3,,\n").encode()

    record = import_preview(dataset=dataset, upload=SimpleUploadedFile("c.csv", body), fmt=None, actor=SYSTEM)

    assert [(e["line"], e["field"]) for e in record.errors] == [(2, "history"), (3, "lineage.turn_id")]
    assert record.rows_valid == 1


def test_the_export_command_writes_a_version_with_a_progress_bar(dataset, project, members, tmp_path, capsys):
    from django.core.management import call_command

    _fill(dataset, project, members)
    target = tmp_path / "out.jsonl"

    call_command("export_dataset", "--project", str(project.pk), "--dataset", dataset.name, "--dataset-version", "2", "--output", str(target))

    lines = target.read_text().splitlines()
    assert [json.loads(line)["input"] for line in lines][1:] == ["=HYPERLINK(\"http://evil\",\"x\")", "'=already quoted", "multi\nline, with \"quotes\""]
    err = capsys.readouterr().err
    assert "4/4 cases 100.0%" in err and "Exported Refund failures v2 (4 cases, jsonl)" in err
