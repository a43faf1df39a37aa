"""Versions are immutable snapshots: each change is a new version, the database refuses edits of
old ones, a turn is one case however often it is added, and diffs name what changed."""

from __future__ import annotations

import pytest
from django.db import InternalError, ProgrammingError, connection, transaction

from apps.datasets.models import CaseRevision, DatasetVersion
from apps.datasets.selectors.datasets import revisions_at
from apps.datasets.selectors.diff import version_diff
from apps.datasets.services.changes import case_edit, cases_add, cases_move, cases_remove, check_latest, revision_new
from apps.datasets.services.turns import cases_add_from_turns
from apps.core.errors import Conflict
from tests.factories.datasets import AUTHOR, confirmed_turn

DB_REFUSED = (InternalError, ProgrammingError)


def _hand(dataset, *inputs):
    revisions = [revision_new({"input": text, "expected_output": f"answer to {text}", "split": "holdout"}, source="hand") for text in inputs]
    result, _ = cases_add(dataset=dataset, author=AUTHOR, revisions=revisions, message="hand cases")
    return result


def test_each_change_is_a_new_version_and_old_versions_keep_their_cases(dataset):
    first = _hand(dataset, "a", "b", "c")
    case_a, case_b, case_c = first.case_ids

    edited = case_edit(dataset=dataset, case_id=case_a, changes={"expected_output": "better"}, author=AUTHOR)
    removed = cases_remove(dataset=dataset, case_ids=[case_b], author=AUTHOR)
    moved = cases_move(dataset=dataset, case_ids=[case_c], split="regression", author=AUTHOR)

    assert [first.number, edited.number, removed.number, moved.number] == [1, 2, 3, 4]
    assert sorted(r.input for r in revisions_at(dataset=dataset, number=1)) == ["a", "b", "c"]
    assert {r.input: r.expected_output for r in revisions_at(dataset=dataset, number=2)}["a"] == "better"
    assert {r.input: r.expected_output for r in revisions_at(dataset=dataset, number=1)}["a"] == "answer to a"
    assert sorted(r.input for r in revisions_at(dataset=dataset, number=3)) == ["a", "c"]
    assert {r.input: r.split for r in revisions_at(dataset=dataset, number=4)} == {"a": "holdout", "c": "regression"}
    counts = list(DatasetVersion.objects.for_project(dataset.project).filter(dataset=dataset).order_by("number")
                  .values_list("cases_count", "added_count", "changed_count", "removed_count"))
    assert counts == [(3, 3, 0, 0), (3, 0, 1, 0), (2, 0, 0, 1), (2, 0, 1, 0)]
    dataset.refresh_from_db()
    assert (dataset.latest_version, dataset.cases_count) == (4, 2)


def test_a_change_that_changes_nothing_makes_no_version(dataset):
    first = _hand(dataset, "a")

    result = case_edit(dataset=dataset, case_id=first.case_ids[0], changes={"input": "a"}, author=AUTHOR)

    assert result.version is None
    dataset.refresh_from_db()
    assert dataset.latest_version == 1


def test_an_old_version_named_for_an_edit_is_version_immutable(dataset):
    first = _hand(dataset, "a")
    case_edit(dataset=dataset, case_id=first.case_ids[0], changes={"input": "b"}, author=AUTHOR)
    dataset.refresh_from_db()

    with pytest.raises(Conflict) as error:
        check_latest(dataset, 1)

    assert error.value.code == "version_immutable"


@pytest.mark.parametrize("statement", [
    "UPDATE datasets_caserevision SET input = 'tampered' WHERE dataset_id = %s",
    "UPDATE datasets_caserevision SET removed_in = 1 WHERE dataset_id = %s",
    "UPDATE datasets_caserevision SET added_in = 5 WHERE dataset_id = %s",
    "DELETE FROM datasets_caserevision WHERE dataset_id = %s",
    "UPDATE datasets_datasetversion SET message = 'rewritten' WHERE dataset_id = %s",
    "DELETE FROM datasets_datasetversion WHERE dataset_id = %s",
    "INSERT INTO datasets_caserevision (project_id, dataset_id, case_id, position, added_in, input, history, context,"
    " expected_output, failure_category, tags, split, metadata, source, reviewer_email, problem_title, added_at, created_at)"
    " SELECT project_id, id, gen_random_uuid(), 99, 1, 'sneaked in', '[]', '{}', '', '', '{}', '', '{}', 'hand', '', '',"
    " now(), now() FROM datasets_dataset WHERE id = %s",
])
def test_the_database_refuses_to_edit_an_old_version(dataset, statement):
    _hand(dataset, "a", "b")

    with pytest.raises(DB_REFUSED) as error, transaction.atomic(), connection.cursor() as cursor:  # noqa: PT012
        cursor.execute(statement, [dataset.pk])

    assert "version_immutable" in str(error.value)
    assert sorted(CaseRevision.objects.for_project(dataset.project).filter(dataset=dataset).values_list("input", flat=True)) == ["a", "b"]
    assert DatasetVersion.objects.for_project(dataset.project).get(dataset=dataset).message == "hand cases"


def test_deleting_the_project_purges_its_datasets(dataset, project):
    _hand(dataset, "a")

    project.delete()

    assert not CaseRevision.all_tenants.filter(dataset_id=dataset.pk).exists()  # unscoped: the project is gone


def test_a_turn_added_twice_is_one_case(dataset, project):
    turn, _ = confirmed_turn(project)

    first, outcomes_first = cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[turn.id, turn.id])
    second, outcomes_second = cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[str(turn.id)])

    assert [o["status"] for o in outcomes_first] == [201, 200]
    assert outcomes_first[0]["case_id"] == outcomes_first[1]["case_id"] == outcomes_second[0]["case_id"]
    assert second.version is None
    assert CaseRevision.objects.for_project(project).filter(dataset=dataset, turn_id=turn.id).count() == 1


def test_the_database_refuses_a_second_live_case_for_a_turn(dataset, project):
    turn, _ = confirmed_turn(project)
    cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[turn.id])
    dataset.refresh_from_db()
    clone = revision_new({"input": "again", "turn_id": turn.id}, source="turn")
    clone.project_id, clone.dataset, clone.position, clone.added_in = project.pk, dataset, 50, 2

    with pytest.raises(Exception) as error, transaction.atomic():  # noqa: PT011 - IntegrityError
        clone.save()

    assert "datasets_revision_live_turn_uniq" in str(error.value)


def test_a_case_from_a_turn_copies_its_content_correction_and_lineage(dataset, project, members):
    reviewer = members["reviewer"].user
    turn, decision = confirmed_turn(project, reviewer=reviewer, problem_title="Refund window", model="gpt-x")

    cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[turn.id], split="regression", tags=["refunds"])

    case = CaseRevision.objects.for_project(project).get(dataset=dataset)
    assert (case.input, case.expected_output, case.failure_category) == (turn.input, "The refund window is 30 days.", "hallucination")
    assert case.history == turn.history
    assert case.context == {"retrieved": turn.retrieved, "tool_calls": turn.tool_calls}
    assert (case.split, case.tags) == ("regression", ["refunds"])
    assert case.metadata["agent_response"] == turn.output and case.metadata["model"] == "gpt-x"
    assert (case.turn_id, case.decision_id, case.reviewer_email) == (turn.id, decision.pk, "reviewer@acme.test")
    assert case.problem_title == "Refund window" and case.problem_id is not None


def test_another_projects_turn_is_a_per_item_404(dataset, other_project):
    foreign, _ = confirmed_turn(other_project)

    result, outcomes = cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[foreign.id])

    assert outcomes == [{"turn_id": str(foreign.id), "status": 404, "code": "not_found", "message": "No such turn in this project."}]
    assert result.version is None


def test_diff_names_added_removed_and_changed_cases_field_by_field(dataset):
    first = _hand(dataset, "a", "b", "c")
    case_a, case_b, _ = first.case_ids
    case_edit(dataset=dataset, case_id=case_a, changes={"expected_output": "better", "tags": ["x"]}, author=AUTHOR)
    cases_remove(dataset=dataset, case_ids=[case_b], author=AUTHOR)
    _hand(dataset, "d")

    diff = version_diff(dataset=dataset, from_version=1, to_version=4).as_dict()

    assert diff["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert [case["input"] for case in diff["added"]] == ["d"]
    assert [case["input"] for case in diff["removed"]] == ["b"]
    assert diff["changed"] == [{"id": str(case_a), "input": "a", "fields": {
        "expected_output": {"from": "answer to a", "to": "better"}, "tags": {"from": [], "to": ["x"]},
    }}]
    backwards = version_diff(dataset=dataset, from_version=4, to_version=1).as_dict()
    assert backwards["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert [case["input"] for case in backwards["added"]] == ["b"]
