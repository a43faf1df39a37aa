"""``loop.prompt()`` of the JavaScript SDK against a live server, including the last good copy with
the server down (sdk/js/test/live-prompts.mjs)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from apps.experiments.services.labels import prompt_label_move
from tests.factories.experiments import AUTHOR, WEATHER_TOOL, prompt_version
from tests.factories.projects import api_key_with_secret

JS = Path(__file__).resolve().parents[2] / "sdk" / "js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


@pytest.mark.django_db(transaction=True)
def test_js_sdk_prompts_against_a_live_server(live_server, project):
    _, secret = api_key_with_secret(project=project)
    prompt_version(project=project, template="v1 {{question}}", message="first")
    version = prompt_version(project=project, template="Hello {{name}}: {{question}}", tools=[WEATHER_TOOL], message="second")
    prompt_label_move(prompt=version.prompt, name="production", version=2, author=AUTHOR, role=None)
    env = dict(os.environ, AGENTLOOP_HOST=live_server.url, AGENTLOOP_API_KEY=secret)

    result = subprocess.run([NODE, str(JS / "test" / "live-prompts.mjs")], env=env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["production"] == {
        "version": 2, "labels": ["production"], "tools": [WEATHER_TOOL], "settings": {"model": "gpt-4o-mini", "temperature": 0.2},
        "reference": "support-agent@2", "message": "second",
    }
    assert (output["version1"], output["rendered"]) == (1, "Hello <name>: <question>")
    assert (output["revalidated_same"], output["statuses"]) == (True, [200, 200, 304])
    assert (output["offline_same"], output["offline_errors"]) == (True, ["prompt_stale"])
    assert (output["uncached_error"], output["missing_variable_error"]) == ("prompt_unavailable", "missing_variables")
