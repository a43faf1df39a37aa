"""The demo's datasets: "Refund failures" from the confirmed decisions (with a tombstoned case)
and "Escalation handbook" imported from JSONL; seeding twice changes nothing."""

from __future__ import annotations

import pytest

from apps.datasets.models import CaseRevision, Dataset, DatasetImport
from apps.datasets.selectors.datasets import turns_present
from apps.demo import traffic as demo_traffic
from apps.demo.datasets import GONE_TURN, seed_datasets_demo
from tests.factories.projects import api_key_with_secret


@pytest.mark.django_db(transaction=True)
def test_the_demo_has_a_dataset_from_confirmed_decisions_and_an_imported_one(live_server, project, members):
    _, secret = api_key_with_secret(project=project)
    demo_traffic.send(host=live_server.url, api_key=secret, project_id=str(project.pk))

    first = demo_traffic.seed_triage(project_id=str(project.pk))["datasets"]
    again = seed_datasets_demo(project=project)

    assert first == again
    refunds = Dataset.objects.for_project(project).get(name="Refund failures")
    cases = list(CaseRevision.objects.for_project(project).filter(dataset=refunds, removed_in__isnull=True))
    assert len(cases) >= 2 and all(case.expected_output for case in cases)
    assert GONE_TURN in {case.turn_id for case in cases}
    assert GONE_TURN not in turns_present(project=project, turn_ids=[GONE_TURN])
    handbook = Dataset.objects.for_project(project).get(name="Escalation handbook")
    record = DatasetImport.objects.for_project(project).get(dataset=handbook)
    assert (handbook.cases_count, record.rows_valid, record.errors_count) == (4, 4, 1)
