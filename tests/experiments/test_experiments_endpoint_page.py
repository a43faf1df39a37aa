"""The endpoint runner from the experiment page: the create form takes the URL, a secret (sealed,
never shown back), timeout and concurrency and starts the job; the experiment page shows the
run's progress (polled while it runs) and each case's error readably."""

from __future__ import annotations

import pytest

from apps.core.roles import Role
from apps.experiments.models import Experiment
from apps.experiments.tasks import run_endpoint
from tests.conftest import client_for
from tests.experiments.test_experiments_endpoint import SECRET, _Agent, agent  # noqa: F401 - the live receiver fixture
from tests.factories.experiments import dataset_with_cases

pytestmark = pytest.mark.django_db


def _base(project):
    return f"/orgs/{project.organization.slug}/projects/{project.pk}/experiments/"


def _form(url: str, **extra) -> dict:
    return {"name": "endpoint from the page", "dataset": "Refund failures", "dataset_version": "1",
            "scorers": '[{"name": "exact", "kind": "exact_match"}]', "endpoint_url": url, "endpoint_secret": SECRET,
            "endpoint_timeout": "5", "endpoint_concurrency": "2", **extra}


def test_the_form_starts_an_endpoint_run_whose_progress_and_errors_the_page_shows(project, members, agent,
                                                                                  django_capture_on_commit_callbacks):
    dataset_with_cases(project=project)
    _Agent.behaviour = {"What is 2+2?": "garbage"}
    client = client_for(members[Role.REVIEWER].user)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = client.post(_base(project), _form(agent))
    experiment = Experiment.objects.for_project(project).get()
    waiting = client.get(f"{_base(project)}{experiment.pk}/?fragment=progress")
    run_endpoint.run(project_id=str(project.pk), experiment_id=experiment.pk)
    run_endpoint.run(project_id=str(project.pk), experiment_id=experiment.pk)
    page = client.get(f"{_base(project)}{experiment.pk}/")
    done = client.get(f"{_base(project)}{experiment.pk}/?fragment=progress")

    assert created.status_code == 302 and len(callbacks) == 1
    assert (experiment.source, experiment.endpoint_url, experiment.endpoint_timeout_seconds, experiment.endpoint_concurrency) == (
        "endpoint", agent, 5.0, 2)
    assert experiment.endpoint_secret_plain() == SECRET and SECRET.encode() not in bytes(experiment.endpoint_secret)
    assert waiting.status_code == 200 and b'hx-trigger="every 2s"' in waiting.content and b"<html" not in waiting.content
    assert b"0 of 3 cases answered" in waiting.content
    text = page.content.decode()
    assert "3 of 3 cases answered" in text and "1 with an error" in text and "(2 at a time, 5 s a call" in text
    assert "The endpoint&#x27;s answer is not JSON." in text
    assert SECRET not in text
    assert b"hx-trigger" not in done.content  # finished: no more polling
    assert sorted(ok for _, ok in _Agent.seen) == [True] * 4  # 3 cases, then the garbage one retried by the rerun


@pytest.mark.parametrize(("change", "message"), [
    ({"endpoint_url": "ftp://example.com/agent"}, "The endpoint must be an https:// URL."),
    ({"endpoint_secret": "short"}, "The endpoint&#x27;s secret is 16-200 characters"),
    ({"endpoint_timeout": "600"}, "The timeout is 1-60 seconds a call."),
    ({"endpoint_concurrency": "many"}, "The endpoint&#x27;s concurrency is a number."),
])
def test_a_bad_endpoint_is_refused_readably_and_the_secret_is_not_sent_back(project, members, agent, change, message):
    dataset_with_cases(project=project)
    client = client_for(members[Role.REVIEWER].user)

    refused = client.post(_base(project), _form(agent, **change))

    assert refused.status_code == 400
    assert message in refused.content.decode()
    assert SECRET.encode() not in refused.content
    assert Experiment.objects.for_project(project).count() == 0


def test_a_member_cannot_start_an_endpoint_run(project, members, agent):
    dataset_with_cases(project=project)

    refused = client_for(members[Role.MEMBER].user).post(_base(project), _form(agent))

    assert refused.status_code == 403
    assert Experiment.objects.for_project(project).count() == 0
