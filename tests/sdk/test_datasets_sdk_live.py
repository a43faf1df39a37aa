"""The Python SDK's dataset calls against a live server: create, add (turns and hand cases),
read a pinned version page by page, errors with the server's codes."""

from __future__ import annotations

import pytest
from agentloop import AgentLoop, AgentLoopError

from tests.factories.datasets import confirmed_turn
from tests.factories.projects import api_key_with_secret


@pytest.mark.django_db(transaction=True)
def test_python_sdk_adds_and_reads_dataset_cases(live_server, project, other_project):
    _, secret = api_key_with_secret(project=project)
    loop = AgentLoop(api_key=secret, host=live_server.url, project_id=str(project.pk))
    turn, _ = confirmed_turn(project, correction="Refunds take 30 days.")
    foreign, _ = confirmed_turn(other_project)

    loop.create_dataset("Refund failures", "from the SDK")
    first = loop.add_cases("Refund failures", [{"turn_id": str(turn.id), "split": "regression"},
                                               {"turn_id": str(foreign.id)}], message="turns")
    second = loop.add_cases("Refund failures", [{"input": f"q{i}", "expected_output": f"a{i}", "tags": ["hand"]} for i in range(450)])
    pinned = loop.dataset("Refund failures", version=1)
    latest = loop.dataset("Refund failures")

    assert (first["version"], first["added"], [r["status"] for r in first["results"]]) == (1, 1, [201, 404])
    assert (second["version"], second["added"]) == (2, 450)
    assert (pinned.version, pinned.cases_count, latest.version, latest.cases_count) == (1, 1, 2, 451)
    cases = list(pinned)
    assert [(c["input"], c["expected_output"], c["lineage"]["turn_id"]) for c in cases] == [(turn.input, "Refunds take 30 days.", str(turn.id))]
    inputs = [c["input"] for c in latest]
    assert len(inputs) == 451 and inputs[1:4] == ["q0", "q1", "q2"] and inputs[-1] == "q449"
    assert latest.export("openai").count(b"\n") == 451
    with pytest.raises(AgentLoopError) as missing:
        loop.dataset("No such dataset")
    with pytest.raises(AgentLoopError) as duplicate:
        loop.create_dataset("Refund failures")
    with pytest.raises(AgentLoopError) as old:
        loop.dataset("Refund failures", version=9)
    assert (missing.value.code, missing.value.status) == ("not_found", 404)
    assert (duplicate.value.code, duplicate.value.status) == ("duplicate_name", 409)
    assert old.value.status == 404
    loop.shutdown()
