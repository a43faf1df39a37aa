"""A 2xx means committed: feedback parked before its turn survives a hard server kill and a
restart, and attaches when the turn finally lands (a real gunicorn, not the test client)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.traces.models import Feedback
from config.embedded import free_port
from tests.factories.projects import api_key_with_secret

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    host = db["HOST"]
    return f"postgresql://{db['USER']}@:{db['PORT'] or 5432}/{connection.settings_dict['NAME']}?host={host}"


def _start_server(port: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL,
               DJANGO_SETTINGS_MODULE="config.settings.local", DJANGO_DEBUG="false", LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("gunicorn did not start")


def _post(port: int, secret: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_parked_feedback_survives_a_hard_kill_and_attaches_after_restart(project):
    _, secret = api_key_with_secret(project=project)
    turn_id, feedback_id = str(uuid.uuid4()), str(uuid.uuid4())
    port = free_port()
    server = _start_server(port)
    try:
        status, body = _post(port, secret, "/api/v1/feedback",
                             {"turn_id": turn_id, "id": feedback_id, "rating": "down", "comment": "too slow"})
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # no graceful shutdown: only committed data can survive
        server.wait(timeout=10)

    assert (status, body["state"]) == (202, "waiting")
    assert Feedback.objects.for_project(project).get().comment == "too slow"

    server = _start_server(port)
    try:
        turn_status, _ = _post(port, secret, "/api/v1/turns", {"id": turn_id, "question": "where is my refund?"})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/turns/{turn_id}",
                                         headers={"Authorization": f"Bearer {secret}"})
        detail = json.loads(urllib.request.urlopen(request, timeout=10).read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)

    assert turn_status == 201
    assert [(f["id"], f["rating"], f["comment"]) for f in detail["feedback"]] == [(feedback_id, "down", "too slow")]
    assert [(s["kind"], s["source"]) for s in detail["signals"]] == [("thumbs_down", "sdk")]
