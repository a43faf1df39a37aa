"""The change and validation pages: read by members, the gate's buttons per role, the power
calculation shown before an online validation starts, the report with every figure."""

from __future__ import annotations

import pytest

from apps.core.roles import Role
from apps.experiments.models import Change, PromptLabel, Validation
from apps.experiments.tasks import validate
from tests.factories.validations import change_for, experiment_pair

pytestmark = pytest.mark.django_db(transaction=True)


def _url(project, path=""):
    return f"/orgs/{project.organization.slug}/projects/{project.pk}/{path}"


@pytest.mark.parametrize(("who", "status"), [("anonymous", 302), ("outsider", 404), (Role.MEMBER, 200), (Role.REVIEWER, 200), (Role.ADMIN, 200)])
def test_the_change_page_matrix(project, members, outsider, login, who, status):
    change = change_for(project)
    user = None if who == "anonymous" else outsider if who == "outsider" else members[who].user

    response = login(user).get(_url(project, f"changes/{change.pk}/"))

    assert response.status_code == status


@pytest.mark.parametrize(("role", "status", "production"), [(Role.MEMBER, 403, 1), (Role.REVIEWER, 302, 1), (Role.ADMIN, 302, 2)])
def test_override_needs_an_admin_and_promote_needs_a_reviewer(project, members, login, role, status, production):
    change = change_for(project)

    response = login(members[role].user).post(_url(project, f"changes/{change.pk}/promote/"), {"override_reason": "Legal asked"})

    assert response.status_code == status
    assert PromptLabel.objects.for_project(project).get(name="production").version.number == production


def test_a_reviewer_sees_the_sample_per_arm_before_starting_and_starts_an_offline_validation(project, members, login):
    change = change_for(project)
    baseline, candidate = experiment_pair(project)
    client = login(members[Role.REVIEWER].user)

    form = client.get(_url(project, f"changes/{change.pk}/validations/new/?baseline_rate=0.1&min_detectable_effect=0.02&alpha=0.05&power=0.8"))
    started = client.post(_url(project, f"changes/{change.pk}/validations/new/"),
                          {"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk})
    validation = Validation.objects.for_project(project).get()
    validate.run(project_id=str(project.pk), validation_id=validation.pk)
    report = client.get(_url(project, f"validations/{validation.pk}/"))
    page = client.get(_url(project, f"changes/{change.pk}/"))

    assert form.status_code == 200 and "Minimum sample: <strong>3835</strong> turns per arm" in form.content.decode()
    assert started.status_code == 302 and validation.change_id == change.pk
    assert report.status_code == 200 and "Ship: exact improved significantly" in report.content.decode()
    assert 'data-testid="validation-flipped"' in report.content.decode()
    assert 'data-testid="change-promote"' in page.content.decode()


def test_a_bad_offline_validation_shows_the_reason_and_writes_nothing(project, members, login):
    change = change_for(project)
    baseline, candidate = experiment_pair(project, candidate_version=2)

    response = login(members[Role.REVIEWER].user).post(_url(project, f"changes/{change.pk}/validations/new/"),
                                                        {"kind": "offline", "baseline": baseline.pk, "candidate": candidate.pk})

    assert response.status_code == 400 and "different dataset versions" in response.content.decode()
    assert Validation.objects.for_project(project).count() == 0


def test_a_reviewer_makes_a_change_from_the_list(project, members, login):
    change_for(project)

    response = login(members[Role.REVIEWER].user).post(_url(project, "changes/"), {"title": "Second try", "prompt": "support-agent",
                                                                                   "candidate": "2", "baseline": "1"})

    assert response.status_code == 302
    assert Change.objects.for_project(project).filter(title="Second try").count() == 1
