"""``loop.validate`` / ``loop.validation`` of the JavaScript SDK against a live server."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.factories.projects import api_key_with_secret
from tests.factories.validations import experiment_pair

JS = Path(__file__).resolve().parents[2] / "sdk" / "js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


@pytest.mark.django_db(transaction=True)
def test_js_sdk_validate_against_a_live_server(live_server, project):
    _, secret = api_key_with_secret(project=project)
    baseline, candidate = experiment_pair(project)
    env = dict(os.environ, AGENTLOOP_HOST=live_server.url, AGENTLOOP_API_KEY=secret, BASELINE=str(baseline.pk), CANDIDATE=str(candidate.pk))

    result = subprocess.run([NODE, str(JS / "test" / "live-validations.mjs")], env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert (output["status"], output["again"], output["refused"]) == ("pending", output["id"], "same_arms")
