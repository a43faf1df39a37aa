"""Every dataset page renders, with the lineage's tombstone once the turn is deleted."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.datasets.models import CaseRevision, DatasetExport, DatasetVersion
from apps.datasets.services.changes import case_edit
from apps.datasets.services.turns import cases_add_from_turns
from apps.traces.models import Turn
from tests.factories.datasets import AUTHOR, confirmed_turn


@pytest.fixture
def filled(dataset, project, members):
    turn, decision = confirmed_turn(project, reviewer=members["reviewer"].user, problem_title="Refund window")
    kept, _ = confirmed_turn(project, correction="Say sorry first.", category="tone")
    cases_add_from_turns(dataset=dataset, author=AUTHOR, turn_ids=[turn.id, kept.id], split="regression")
    case = CaseRevision.objects.for_project(project).get(dataset=dataset, turn_id=turn.id)
    case_edit(dataset=dataset, case_id=case.case_id, changes={"tags": ["refunds"]}, author=AUTHOR)
    return {"turn": turn, "case": case, "decision": decision}


def _pages(organization, project, dataset, case, export=None):
    base = {"org": organization.slug, "project": project.pk}
    one = {**base, "dataset": dataset.pk}
    urls = [
        reverse("dataset_list", kwargs=base),
        reverse("dataset_detail", kwargs=one),
        reverse("dataset_detail", kwargs=one) + "?version=1",
        reverse("dataset_detail", kwargs=one) + "?split=regression&tag=refunds&q=Question",
        reverse("dataset_versions", kwargs=one),
        reverse("dataset_diff", kwargs=one) + "?from=1&to=2",
        reverse("dataset_case", kwargs={**one, "case": case.case_id}),
        reverse("dataset_case", kwargs={**one, "case": case.case_id}) + "?version=1",
        reverse("dataset_settings", kwargs=one),
        reverse("dataset_case_new", kwargs=one),
        reverse("dataset_import_upload", kwargs=one),
        reverse("dataset_export_download", kwargs={**one, "number": 2, "fmt": "jsonl"}),
    ]
    if export is not None:
        urls.append(reverse("dataset_export", kwargs={**one, "export": export.pk}))
    return urls


def test_lineage_survives_the_deletion_of_its_turn_and_every_page_renders(login, owner, organization, project, dataset, filled):
    Turn.objects.for_project(project).filter(id=filled["turn"].id).delete()
    client = login(owner)

    statuses = {url: client.get(url).status_code for url in _pages(organization, project, dataset, filled["case"])}

    assert set(statuses.values()) == {200}, statuses
    page = client.get(reverse("dataset_case", kwargs={"org": organization.slug, "project": project.pk, "dataset": dataset.pk,
                                                      "case": filled["case"].case_id})).content.decode()
    assert "turn deleted" in page and str(filled["turn"].id) in page
    assert "reviewer@acme.test" in page and "Refund window" in page
    listing = client.get(reverse("dataset_detail", kwargs={"org": organization.slug, "project": project.pk, "dataset": dataset.pk})).content.decode()
    assert listing.count('data-testid="tombstone"') == 1
    assert CaseRevision.objects.for_project(project).filter(dataset=dataset, turn_id=filled["turn"].id).count() == 2


def test_the_export_progress_page_polls_until_the_file_is_ready(login, owner, organization, project, dataset, filled):
    from apps.datasets.tasks import export_version

    client = login(owner)
    response = client.post(reverse("dataset_export_create", kwargs={"org": organization.slug, "project": project.pk, "dataset": dataset.pk}),
                           {"version": "2", "format": "csv"})
    export = DatasetExport.objects.for_project(project).get()
    queued = client.get(response["Location"] + "?fragment=1").content.decode()

    export_version(project_id=str(project.pk), export_id=export.pk)
    export_version(project_id=str(project.pk), export_id=export.pk)

    done = client.get(response["Location"] + "?fragment=1").content.decode()
    assert 'hx-trigger="every 1s"' in queued and "hx-trigger" not in done
    assert "100%" in done
    file = client.get(reverse("dataset_export_file", kwargs={"org": organization.slug, "project": project.pk, "dataset": dataset.pk, "export": export.pk}))
    body = b"".join(file.streaming_content).decode()
    assert body.splitlines()[0].startswith("id,input,history")
    assert len(body.strip().splitlines()) == 3


def test_the_turn_and_problem_pages_offer_add_to_dataset(login, members, organization, project, dataset, filled):
    client = login(members["reviewer"].user)
    turn_page = client.get(reverse("turn_detail", kwargs={"org": organization.slug, "project": project.pk, "turn": filled["turn"].id})).content.decode()

    assert "Refund failures" in turn_page and 'data-testid="turn-add-to-dataset"' in turn_page
    member_page = login(members["member"].user).get(reverse("turn_detail", kwargs={"org": organization.slug, "project": project.pk, "turn": filled["turn"].id})).content.decode()
    assert 'data-testid="turn-add-to-dataset"' not in member_page


def test_a_problem_page_adds_all_its_confirmed_turns_at_once(login, members, organization, project, dataset):
    from apps.datasets.models import Dataset

    first, _ = confirmed_turn(project, problem_title="Late refunds")
    second, _ = confirmed_turn(project, problem_title="Late refunds")
    from apps.problems.models import Problem

    problem = Problem.objects.for_project(project).get(title="Late refunds")
    client = login(members["reviewer"].user)
    url = reverse("dataset_add_turns", kwargs={"org": organization.slug, "project": project.pk})

    page = client.get(url + f"?problem={problem.pk}").content.decode()
    response = client.post(url, {"problem": problem.pk, "dataset": dataset.pk, "split": "holdout"})

    assert "2 confirmed turns" in page
    assert response.status_code == 302
    assert set(CaseRevision.objects.for_project(project).filter(dataset=dataset).values_list("turn_id", flat=True)) == {first.id, second.id}
    assert Dataset.objects.for_project(project).get(pk=dataset.pk).latest_version == 1
    assert DatasetVersion.objects.for_project(project).get(dataset=dataset).message == f"Confirmed turns of problem #{problem.pk}"
