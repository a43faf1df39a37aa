"""The README's run command, end to end: ``./manage.py up`` on a fresh embedded data folder.

Starts the real command in a subprocess (no DATABASE_URL / REDIS_URL, so it starts its own
PostgreSQL and Redis under a temporary AGENTLOOP_DATA_DIR), waits for web, worker and beat,
logs in as the demo user over HTTP, stops it with SIGINT and checks nothing is left running.
A second start on the same folder must find the same data and seed nothing twice.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
# The README's demo login (apps/core/management/commands/seed_demo.py), as a newcomer reads it.
DEMO_EMAIL, DEMO_PASSWORD, DEMO_ORG_SLUG = "demo@agentloop.local", "agentloop-demo", "acme-support"
STARTUP_TIMEOUT = 120
HEARTBEAT_TIMEOUT = 75  # beat's interval schedule first fires 30 s after beat starts
STOP_TIMEOUT = 30
# Variables the test run itself sets that would leak into the command under test.
SCRUBBED_ENV = (
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE", "AGENTLOOP_BOOTSTRAPPED", "AGENTLOOP_SITE_URL", "HOST", "PORT",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(process: psutil.Process) -> bool:
    """Running and not a zombie (an exited child that nobody reaped has stopped all the same)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _data_dir_processes(data_dir: Path) -> list[psutil.Process]:
    """Processes whose command line or working directory is inside ``data_dir`` (postgres, redis)."""
    marker = str(data_dir)
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            cwd = process.info["cwd"] or ""
        except psutil.Error:
            continue
        if (marker in cmdline or cwd == marker or cwd.startswith(marker + os.sep)) and _alive(process):
            found.append(process)
    return found


def _describe(processes) -> str:
    lines = []
    for process in processes:
        try:
            lines.append(f"{process.pid}: {' '.join(process.cmdline())[:160]}")
        except psutil.Error:
            lines.append(f"{process.pid}: <gone>")
    return "\n".join(lines)


class HttpSession:
    """A cookie-keeping HTTP client on urllib (no third-party HTTP library)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode(errors="replace")

    def json(self, path: str, headers: dict | None = None):
        status, _, body = self.request(path, headers={"Accept": "application/json", **(headers or {})})
        return status, (json.loads(body) if body else None)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def login(self, email: str, password: str) -> None:
        status, _, _ = self.request("/accounts/login/")
        assert status == 200
        csrftoken = self.cookie("csrftoken")
        assert csrftoken, "the login page set no csrftoken cookie"

        status, final_url, body = self.request(
            "/accounts/login/",
            data={"login": email, "password": password, "csrfmiddlewaretoken": csrftoken},
            headers={"Referer": self.base_url + "/accounts/login/"},
        )

        assert status == 200, body[:2000]
        # The demo user belongs to two organizations, so home sends them to the list.
        assert urllib.parse.urlparse(final_url).path == "/orgs/", f"landed on {final_url}"
        assert self.cookie("sessionid"), "no session cookie after logging in"


class UpCommand:
    """``<repo>/.venv/bin/python manage.py up`` in its own session, output to a log file."""

    def __init__(self, data_dir: Path, log_path: Path):
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = None
        self.seen: dict[int, psutil.Process] = {}

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update(AGENTLOOP_DATA_DIR=str(self.data_dir), PORT=str(self.port), PYTHONUNBUFFERED="1")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "up"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a terminal's Ctrl-C, and cleanup
        )
        self.seen[self.process.pid] = psutil.Process(self.process.pid)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def remember_processes(self) -> list[psutil.Process]:
        """Record this run's processes (children and embedded servers) for the leak check."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        processes = children + _data_dir_processes(self.data_dir)
        for process in processes:
            self.seen.setdefault(process.pid, process)
        return processes

    def wait_for(self, what: str, check, timeout: float, interval: float = 0.5):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                pytest.fail(f"manage.py up exited with {code} while waiting for {what}:\n{self.tail()}")
            try:
                result = check()
            except (OSError, ValueError) as error:  # not listening yet, or a half-started server
                result, last = None, error
            if result:
                return result
            time.sleep(interval)
        pytest.fail(f"no {what} within {timeout:.0f} s (last error: {last!r}):\n{self.tail()}")

    def health(self, client: HttpSession) -> dict | None:
        status, body = client.json("/healthz")
        checks = body["checks"] if status == 200 else {}
        return body if checks.get("database", {}).get("ok") and checks.get("redis", {}).get("ok") else None

    def stop(self, *, whole_group: bool) -> int:
        """SIGINT to the command (or, like Ctrl-C in a terminal, to its whole process group)."""
        if whole_group:
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"manage.py up still ran {STOP_TIMEOUT} s after SIGINT:\n{self.tail()}")

    def leftovers(self) -> list[psutil.Process]:
        remaining = {p.pid: p for p in self.seen.values() if _alive(p)}
        remaining.update({p.pid: p for p in _data_dir_processes(self.data_dir)})
        return list(remaining.values())

    def kill_everything(self) -> None:
        """Last-resort cleanup: only this run's processes, each by its own pid."""
        if self.process is not None and self.process.poll() is None:
            for sig, grace in ((signal.SIGTERM, 25), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    self.process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        for process in self.leftovers():
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs([p for p in self.seen.values() if _alive(p)], timeout=5)
        if self.log is not None and not self.log.closed:
            self.log.close()


@pytest.fixture
def up_runs(tmp_path):
    """Makes UpCommand runs on one data folder; kills whatever they left, even when a test fails."""
    data_dir = tmp_path / "data"
    runs: list[UpCommand] = []

    def start() -> UpCommand:
        run = UpCommand(data_dir, tmp_path / f"up-{len(runs) + 1}.log")
        runs.append(run)
        run.start()
        return run

    yield start
    for run in runs:
        run.kill_everything()


def _items(body):
    """A list endpoint's rows, paginated (``results``) or not."""
    return body["results"] if isinstance(body, dict) else body


def _demo_snapshot(client: HttpSession) -> dict:
    """What the demo seed created, as the API shows it to the demo user."""
    status, organizations = client.json("/api/v1/orgs")
    assert status == 200, organizations
    status, projects = client.json(f"/api/v1/orgs/{DEMO_ORG_SLUG}/projects/")
    assert status == 200, projects
    projects = _items(projects)
    support = next(p for p in projects if p["name"] == "Support agent")
    status, keys = client.json(f"/api/v1/orgs/{DEMO_ORG_SLUG}/projects/{support['id']}/keys/")
    assert status == 200, keys
    keys = _items(keys)
    return {
        "organizations": sorted((o["slug"], o["name"], o["role"]) for o in organizations),
        "projects": sorted((p["id"], p["name"], p["is_restricted"]) for p in projects),
        "support_keys": sorted((k["key_id"], k["name"], k["is_active"]) for k in keys),
    }


def _heartbeat_age(run: UpCommand, client: HttpSession) -> tuple[float] | None:
    """The heartbeat age once a worker has run the beat task (a 1-tuple, so 0.0 still counts)."""
    health = run.health(client)
    age = health and health.get("worker_heartbeat_age_seconds")
    return (age,) if isinstance(age, (int, float)) and not isinstance(age, bool) else None


def _sdk_key(output: str) -> str:
    match = re.search(r"SDK key: (al_sk_\S+)", output)
    assert match, f"manage.py up printed no demo SDK key:\n{output[-3000:]}"
    return match.group(1)


def _assert_stopped_cleanly(run: UpCommand, code: int) -> None:
    assert code == 0, f"manage.py up exited with {code}:\n{run.tail()}"
    assert "Stopped." in run.output()
    # The embedded servers stop before the command returns, so nothing may outlive it.
    leftovers = run.leftovers()
    assert leftovers == [], f"still running after manage.py up exited:\n{_describe(leftovers)}"


def test_up_runs_the_product_stops_cleanly_and_keeps_its_data(up_runs):
    # Given a fresh data folder, when the README's run command starts
    first = up_runs()
    client = HttpSession(first.base_url)

    health = first.wait_for("healthy /healthz", lambda: first.health(client), STARTUP_TIMEOUT)

    # then web answers on PORT with both embedded servers up, and worker and beat run too
    assert health["status"] == "ok"
    processes = first.remember_processes()
    cmdlines = [" ".join(p.cmdline()) for p in processes if _alive(p)]
    assert any("gunicorn config.wsgi" in c for c in cmdlines), _describe(processes)
    assert any("celery -A config.celery_app worker" in c for c in cmdlines), _describe(processes)
    assert any("celery -A config.celery_app beat" in c for c in cmdlines), _describe(processes)
    assert any("postgres" in c and str(first.data_dir) in c for c in cmdlines), _describe(processes)
    assert any("redis-server" in c for c in cmdlines), _describe(processes)  # cwd in data_dir

    # and beat schedules the heartbeat that a worker runs
    age = first.wait_for(
        "worker heartbeat on /healthz", lambda: _heartbeat_age(first, client), HEARTBEAT_TIMEOUT, interval=1
    )
    assert 0 <= age[0] < HEARTBEAT_TIMEOUT

    # and the demo user can log in and open the demo organization
    client.login(DEMO_EMAIL, DEMO_PASSWORD)
    status, _, page = client.request(f"/orgs/{DEMO_ORG_SLUG}/")
    assert status == 200
    assert "Acme Support" in page
    snapshot = _demo_snapshot(client)
    assert snapshot["organizations"] == [
        ("acme-support", "Acme Support", "owner"),
        ("globex-labs", "Globex Labs", "member"),
    ]
    assert sorted(name for _, name, _ in snapshot["projects"]) == ["Billing agent", "Support agent"]
    assert sorted((name, active) for _, name, active in snapshot["support_keys"]) == [
        ("demo SDK", True),
        ("old CI key", False),
    ]
    sdk_key = _sdk_key(first.output())
    status, check = client.json("/api/v1/auth/check", headers={"Authorization": f"Bearer {sdk_key}"})
    assert (status, check["organization"], check["project_name"]) == (200, DEMO_ORG_SLUG, "Support agent")
    first.remember_processes()

    # When it gets SIGINT, then it exits 0 within 30 s and leaves nothing running
    _assert_stopped_cleanly(first, first.stop(whole_group=False))

    # Given the same data folder, when it starts again
    second = up_runs()
    client = HttpSession(second.base_url)
    second.wait_for("GET /healthz after a restart", lambda: second.health(client), STARTUP_TIMEOUT)
    second.remember_processes()

    # then the data survived and seeding again duplicated nothing
    client.login(DEMO_EMAIL, DEMO_PASSWORD)
    status, _, page = client.request(f"/orgs/{DEMO_ORG_SLUG}/")
    assert status == 200
    assert "Acme Support" in page
    assert _demo_snapshot(client) == snapshot
    assert _sdk_key(second.output()) == sdk_key
    status, check = client.json("/api/v1/auth/check", headers={"Authorization": f"Bearer {sdk_key}"})
    assert (status, check["organization"]) == (200, DEMO_ORG_SLUG)
    second.remember_processes()

    # When Ctrl-C reaches the whole process group (as from a terminal), then it also stops cleanly
    _assert_stopped_cleanly(second, second.stop(whole_group=True))
