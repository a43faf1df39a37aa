"""Experiment pages: list, detail with filters, compare (flips first, escaped word diff), create with a JSONL upload."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.roles import Role
from apps.experiments.models import Experiment, ExperimentResult
from apps.experiments.services.experiments import experiment_score, results_upload
from tests.conftest import client_for
from tests.factories.experiments import case_ids, dataset_with_cases, experiment


def _base(project):
    return f"/orgs/{project.organization.slug}/projects/{project.pk}/experiments/"


@pytest.fixture
def pair(project):
    dataset = dataset_with_cases(project=project)
    ids = case_ids(dataset)
    baseline = experiment(project=project, dataset=dataset, name="baseline")
    candidate = experiment(project=project, dataset=dataset, name="candidate")
    results_upload(experiment=baseline, items=[{"case_id": ids[0], "output": "30 days"}, {"case_id": ids[1], "output": "<b>Yes</b>"}])
    results_upload(experiment=candidate, items=[{"case_id": ids[0], "output": "about 30 days"},
                                                {"case_id": ids[1], "output": "No, the window is 30 days"}])
    experiment_score(experiment=baseline)
    experiment_score(experiment=candidate)
    return baseline, candidate


def test_list_detail_and_filters(project, members, pair):
    baseline, _ = pair
    client = client_for(members[Role.MEMBER].user)

    listing = client.get(_base(project))
    detail = client.get(f"{_base(project)}{baseline.pk}/")
    failed = client.get(f"{_base(project)}{baseline.pk}/?scorer=exact&outcome=fail")

    assert listing.status_code == 200 and b"baseline" in listing.content and b"candidate" in listing.content
    assert detail.status_code == 200
    assert detail.content.count(b'data-testid="experiment-case"') == 2
    assert failed.content.count(b'data-testid="experiment-case"') == 1
    assert b"&lt;b&gt;Yes&lt;/b&gt;" in failed.content and b"<b>Yes</b>" not in failed.content


def test_compare_shows_flips_first_with_an_escaped_word_diff(project, members, pair):
    baseline, candidate = pair
    client = client_for(members[Role.MEMBER].user)

    page = client.get(f"{_base(project)}{baseline.pk}/compare/?with={candidate.pk}")

    text = page.content.decode()
    assert page.status_code == 200
    assert "1 case flipped pass → fail" in text
    assert text.index("exact: pass→fail") < text.index("exact: fail→pass")
    assert "<ins>about</ins>" in text
    assert "<del>&lt;b&gt;Yes&lt;/b&gt;</del>" in text


def test_create_from_the_ui_with_a_jsonl_upload(project, members):
    dataset = dataset_with_cases(project=project)
    ids = case_ids(dataset)
    client = client_for(members[Role.REVIEWER].user)
    jsonl = "\n".join(json.dumps({"case_id": i, "output": "30 days"}) for i in ids).encode()

    response = client.post(_base(project), {
        "name": "uploaded", "dataset": dataset.name, "dataset_version": "1",
        "scorers": '[{"name": "exact", "kind": "exact_match"}]',
        "outputs": SimpleUploadedFile("outputs.jsonl", jsonl, content_type="application/x-ndjson"),
    })

    found = Experiment.objects.for_project(project).get(name="uploaded")
    assert response.status_code == 302
    assert (found.source, ExperimentResult.objects.for_project(project).filter(experiment=found).count()) == ("upload", 3)


@pytest.mark.parametrize(("fields", "message"), [
    ({"scorers": "not json"}, "Scorers must be a JSON list"),
    ({"scorers": '[{"name": "r", "kind": "regex", "pattern": "("}]'}, "The pattern does not compile"),
    ({"dataset_version": "9"}, "has no version 9"),
])
def test_bad_ui_input_is_a_readable_message_and_creates_nothing(project, members, fields, message):
    dataset = dataset_with_cases(project=project)
    client = client_for(members[Role.REVIEWER].user)

    response = client.post(_base(project), {"name": "bad", "dataset": dataset.name, "dataset_version": "1", **fields})

    assert response.status_code in (400, 404)
    assert message in response.content.decode()
    assert not Experiment.objects.for_project(project).exists()


def test_members_cannot_create_and_outsiders_get_404(project, members, outsider, pair):
    baseline, _ = pair
    member = client_for(members[Role.MEMBER].user)

    denied = member.post(_base(project), {"name": "x", "dataset": "Refund failures", "dataset_version": "1"})
    hidden = client_for(outsider).get(f"{_base(project)}{baseline.pk}/")

    assert denied.status_code == 403
    assert hidden.status_code == 404
    assert Experiment.objects.for_project(project).count() == 2
