"""Validations: the job computes the pinned report (offline and online), is idempotent (the same
inputs give the same row and report), and bad inputs are refused with stable codes."""

from __future__ import annotations

import pytest

from apps.core.errors import NotFound, ValidationFailed
from apps.experiments.models import Validation
from apps.experiments.services.validations import validation_body, validation_request
from apps.experiments.tasks import validate, validate_running
from tests.factories.validations import arm, experiment_pair

pytestmark = pytest.mark.django_db(transaction=True)


def _run(validation):
    validate.run(project_id=str(validation.project_id), validation_id=validation.pk)
    validation.refresh_from_db()
    return validation


def test_an_offline_validation_ships_with_mcnemar_and_flipped_cases_and_a_rerun_changes_nothing(project):
    baseline, candidate = experiment_pair(project)
    body = {"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk, "metrics": ["exact", "similarity"]}

    validation, new = validation_request(project=project, body=body)
    first = validation_body(_run(validation))
    second = validation_body(_run(validation))
    again, new_again = validation_request(project=project, body=body)

    assert new is True and new_again is False and again.pk == validation.pk
    assert Validation.objects.for_project(project).count() == 1
    assert first == second
    assert (first["status"], first["verdict"]) == ("done", "ship")
    exact = first["metrics"][0]
    assert (exact["name"], exact["role"], exact["baseline"], exact["candidate"]) == (
        "exact", "target", {"n": 60, "value": 20 / 60}, {"n": 60, "value": 50 / 60})
    assert "McNemar" in exact["test"] and "seed 20261203" in exact["test"]
    assert first["metrics"][1]["role"] == "guardrail" and first["metrics"][1]["passed"] is True
    assert len(first["flipped"]) == 30 and all(f["baseline"] is False and f["candidate"] is True for f in first["flipped"])
    assert first["explanation"].startswith("Ship: exact improved significantly")


def test_experiments_on_different_dataset_versions_are_refused_and_nothing_is_written(project):
    baseline, candidate = experiment_pair(project, candidate_version=2)

    with pytest.raises(ValidationFailed) as refused:
        validation_request(project=project, body={"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk})

    assert refused.value.code == "dataset_version_mismatch"
    assert Validation.objects.for_project(project).count() == 0


def test_another_tenants_experiment_is_not_found(project, other_project):
    baseline, _ = experiment_pair(project)
    _, foreign = experiment_pair(other_project)

    with pytest.raises(NotFound):
        validation_request(project=project, body={"kind": "offline", "baseline": baseline.pk, "candidate": foreign.pk})
    assert Validation.all_tenants.count() == 0  # unscoped: no tenant has one


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"kind": "offline", "baseline": 1, "candidate": 1}, "same_arms", "candidate"),
    ({"kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "A"}, "target": {"signal": "thumbs_down", "direction": "decrease"}}, "same_arms", "candidate"),
    ({"kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"}, "target": {"signal": "thumbs_down", "direction": "decrease"}, "alpha": 0.6}, "invalid_alpha", "alpha"),
    ({"kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"}, "target": {"signal": "thumbs_down", "direction": "decrease"}, "alpha": 0}, "invalid_alpha", "alpha"),
    ({"kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"}, "target": {"signal": "thumbs_down", "direction": "decrease"},
      "guardrails": [{"signal": "escalation", "direction": "decrease", "tolerance": -0.01}]}, "invalid_tolerance", "guardrails[0].tolerance"),
    ({"kind": "online", "baseline": {"variant": "A"}, "candidate": {"prompt_version": "p@2"}, "target": {"signal": "thumbs_down", "direction": "decrease"}}, "invalid", "candidate"),
    ({"kind": "sideways"}, "invalid", "kind"),
])
def test_bad_inputs_are_refused_with_a_stable_code(project, body, code, field):
    with pytest.raises(ValidationFailed) as refused:
        validation_request(project=project, body=body)

    assert (refused.value.code, refused.value.field) == (code, field)
    assert Validation.all_tenants.count() == 0  # unscoped: no tenant has one


ONLINE = {"kind": "online", "baseline": {"variant": "A"}, "candidate": {"variant": "B"},
          "target": {"signal": "thumbs_down", "direction": "decrease"},
          "guardrails": [{"signal": "escalation", "direction": "decrease", "tolerance": 0.01}], "min_detectable_effect": 0.15}


def test_an_online_validation_past_its_horizon_ships_and_reruns_give_the_same_report(project):
    arm(project, variant="A", turns=300, with_signal={"thumbs_down": 90, "escalation": 15})
    arm(project, variant="B", turns=300, with_signal={"thumbs_down": 30, "escalation": 15})

    validation, _ = validation_request(project=project, body=ONLINE)
    first = validation_body(_run(validation))
    second = validation_body(_run(validation))

    assert first == second
    assert (first["status"], first["verdict"]) == ("done", "ship")
    assert first["sample_needed"] <= 300 and first["design"] == "fixed"
    assert [m["name"] for m in first["metrics"]] == ["thumbs_down", "escalation"]
    assert "thumbs_down fell from 30.0 % to 10.0 %" in first["explanation"]


def test_an_online_validation_before_its_horizon_stays_running_and_the_beat_reevaluates_it(project):
    arm(project, variant="A", turns=300, with_signal={"thumbs_down": 90})
    arm(project, variant="B", turns=300, with_signal={"thumbs_down": 30})
    body = {**ONLINE, "guardrails": [], "min_detectable_effect": 0.02}

    validation = _run(validation_request(project=project, body=body)[0])
    assert (validation.status, validation.verdict) == ("running", "running")
    assert 0 < validation.progress < 100
    assert validation.report["sample_needed"] > 300

    arm(project, variant="A", turns=validation.report["sample_needed"], with_signal={"thumbs_down": 300})
    arm(project, variant="B", turns=validation.report["sample_needed"], with_signal={"thumbs_down": 100})
    validate_running.run()
    validate_running.run()
    validation.refresh_from_db()

    assert (validation.status, validation.verdict, validation.progress) == ("done", "ship", 100)


def test_an_arm_with_no_turns_is_inconclusive_with_the_reason(project):
    arm(project, variant="A", turns=300, with_signal={"thumbs_down": 90})

    validation = _run(validation_request(project=project, body={**ONLINE, "design": "sequential"})[0])

    assert (validation.status, validation.verdict) == ("done", "inconclusive")
    assert validation.report["explanation"].startswith("Inconclusive: no data for thumbs_down in one of the arms.")
