"""``loop.validate`` / ``loop.validation`` and ``python -m agentloop.gate`` against a live server."""

from __future__ import annotations

import pytest
from agentloop import AgentLoop, AgentLoopError
from agentloop.gate import main as gate

from apps.experiments.tasks import validate
from tests.factories.projects import api_key_with_secret
from tests.factories.validations import experiment_pair

pytestmark = pytest.mark.django_db(transaction=True)


def test_validate_then_the_gate_passes_on_ship_and_fails_otherwise(live_server, project, capsys):
    _, secret = api_key_with_secret(project=project, name="ci")
    loop = AgentLoop(api_key=secret, host=live_server.url, project_id=str(project.pk))
    better = experiment_pair(project)
    worse = experiment_pair(project, baseline_pass=50, candidate_pass=20)

    started = loop.validate(kind="offline", baseline=better[0].pk, candidate=better[1].pk, metrics=["exact"], wait=False)
    assert (started["status"], started["verdict"]) == ("pending", "running")
    validate.run(project_id=str(project.pk), validation_id=started["id"])
    report = loop.validation(started["id"])
    held = loop.validate(kind="offline", baseline=worse[0].pk, candidate=worse[1].pk, metrics=["exact"], wait=False)
    validate.run(project_id=str(project.pk), validation_id=held["id"])

    assert (report["status"], report["verdict"], len(report["flipped"])) == ("done", "ship", 30)
    assert gate(["--validation", str(started["id"]), "--host", live_server.url, "--api-key", secret]) == 0
    assert "verdict SHIP" in capsys.readouterr().out
    assert gate(["--validation", str(held["id"]), "--host", live_server.url, "--api-key", secret]) == 1
    assert "verdict HOLD" in capsys.readouterr().out
    with pytest.raises(AgentLoopError) as refused:
        loop.validate(kind="offline", baseline=better[0].pk, candidate=better[0].pk)
    assert (refused.value.code, refused.value.status) == ("same_arms", 400)
    loop.shutdown(timeout=1)
