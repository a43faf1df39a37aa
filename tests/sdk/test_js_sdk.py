"""The JavaScript SDK: its own node:test suite, then a live run against this server."""

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from apps.feedback.signing import read_claims, signature_matches
from apps.traces.models import Feedback, Signal, Step, Turn
from tests.factories.projects import api_key_with_secret

JS = Path(__file__).resolve().parents[2] / "sdk" / "js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def test_js_sdk_node_test_suite_passes():
    result = subprocess.run([NODE, "--test"], cwd=JS, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


@pytest.mark.django_db(transaction=True)
def test_js_sdk_against_a_live_server(live_server, project):
    api_key, secret = api_key_with_secret(project=project)
    env = dict(os.environ, AGENTLOOP_HOST=live_server.url, AGENTLOOP_API_KEY=secret)

    result = subprocess.run([NODE, str(JS / "test" / "live.mjs")], env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    turns = {str(t.id): t for t in Turn.objects.for_project(project)}
    assert sorted(turns) == sorted(output["turn_ids"])
    first = turns[output["turn_ids"][0]]
    assert (first.input, first.output, first.end_user_id, first.model, first.prompt_version) == (
        "live question 0", "live answer 0", "live-user", "live-model", "live-v1")
    assert Step.objects.for_project(project).get().name == "live-llm-call"
    kinds = sorted(Signal.objects.for_project(project).values_list("kind", flat=True))
    assert kinds == ["escalation", "rating", "thumbs_down", "thumbs_down", "thumbs_up"]
    feedback = Feedback.objects.for_project(project).get()
    assert (feedback.rating, feedback.comment, feedback.correction) == ("down", "live feedback comment", "live correction")
    claims, payload, signature = read_claims(output["feedback_url"].rsplit("/f/", 1)[1])
    assert (claims.turn_id, claims.user_id) == (str(first.id), "live-user")
    assert signature_matches(payload, signature, api_key.link_signing_key())
    assert output["feedback_url"].startswith(f"{live_server.url}/f/")
    page = urllib.request.urlopen(output["feedback_url"], timeout=10)
    assert page.status == 200


@pytest.mark.django_db(transaction=True)
def test_js_sdk_dataset_calls_against_a_live_server(live_server, project):
    from tests.factories.datasets import confirmed_turn

    _, secret = api_key_with_secret(project=project)
    turn, _ = confirmed_turn(project, correction="JS correction")
    env = dict(os.environ, AGENTLOOP_HOST=live_server.url, AGENTLOOP_API_KEY=secret, TURN_ID=str(turn.id))

    result = subprocess.run([NODE, str(JS / "test" / "datasets-live.mjs")], env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["first"] == {"version": 1, "added": 1, "statuses": [201]}
    assert out["second"] == {"version": 2, "added": 250}
    assert out["pinned"] == {"version": 1, "casesCount": 1, "cases": [[turn.input, "JS correction", str(turn.id)]]}
    assert out["latest"] == {"version": 2, "casesCount": 251, "count": 251, "firstHand": "js q0", "last": "js q249"}
    assert out["errors"] == [["not_found", 404], ["duplicate_name", 409]]
