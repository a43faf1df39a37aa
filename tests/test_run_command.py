"""The README's commands, end to end: ``./manage.py up`` on a fresh embedded data folder.

Starts the real command in a subprocess (no DATABASE_URL / REDIS_URL, so it starts its own
PostgreSQL and Redis under a temporary AGENTLOOP_DATA_DIR), waits for web, worker and beat,
logs in as the demo user over HTTP, checks it fails closed (no debug pages, its own secret
key) and repairs a killed web server, stops it with SIGINT and checks nothing is left running.
A second start on the same folder must find the same data and key, and seed nothing twice.
The test command (pytest) must stop the embedded servers it started, and only those.
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
# The README's demo login (apps/demo/seed.py), as a newcomer reads it.
DEMO_EMAIL, DEMO_PASSWORD, DEMO_ORG_SLUG = "demo@agentloop.local", "agentloop-demo", "acme-support"
STARTUP_TIMEOUT = 120
HEARTBEAT_TIMEOUT = 75  # beat's interval schedule first fires 30 s after beat starts
STOP_TIMEOUT = 30
RESTART_TIMEOUT = 60
# What Django's debug pages (DEBUG = True) show and the project's own error pages never do.
DEBUG_PAGE_MARKERS = ("URLconf", "Traceback", "DEBUG = True", "technical_500")
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


def _assert_not_a_debug_page(body: str) -> None:
    leaked = [marker for marker in DEBUG_PAGE_MARKERS if marker in body]
    assert leaked == [], f"a debug page answered ({leaked}):\n{body[:1500]}"


def _assert_errors_are_the_projects_own(client: HttpSession) -> None:
    """404s on the public widget, the UI and the API: the project's pages and JSON, and their assets load."""
    status, _, widget = client.request("/f/garbage")
    assert 400 <= status < 500, widget[:1500]
    _assert_not_a_debug_page(widget)

    status, _, page = client.request("/f/garbage/more")
    assert status == 404
    _assert_not_a_debug_page(page)
    assert "<title>Not found · AgentLoop</title>" in page

    status, _, body = client.request("/api/v1/nope", headers={"Accept": "text/html"})
    assert status == 404
    assert json.loads(body) == {"code": "not_found", "message": "Not found.", "field": None}

    # With DEBUG off the stylesheets and htmx still come from the static folders (whitenoise).
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert sorted(assets) == ["/static/css/app.css", "/static/favicon.svg", "/static/js/app.js",
                              "/static/vendor/htmx-2.0.11.min.js", "/static/vendor/pico-2.1.1.min.css"]
    for asset in assets:
        status, _, content = client.request(asset)
        assert (status, len(content) > 100) == (200, True), asset


def _secret_key(run: UpCommand) -> str:
    """The data folder's secret key file: private to its owner, and never printed."""
    path = run.data_dir / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    key = path.read_text().strip()
    assert len(key) >= 50
    assert key not in run.output()
    return key


def _children(run: UpCommand) -> dict[str, psutil.Process]:
    """The command's direct children (web, worker, beat) by role."""
    roles = {"gunicorn config.wsgi": "web", "config.celery_app worker": "worker", "config.celery_app beat": "beat"}
    found = {}
    for child in psutil.Process(run.process.pid).children():
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:  # exited meanwhile
            continue
        found.update({role: child for marker, role in roles.items() if marker in cmdline and _alive(child)})
    return found


def _assert_a_killed_web_server_is_restarted(run: UpCommand, client: HttpSession) -> None:
    before = _children(run)
    assert sorted(before) == ["beat", "web", "worker"]
    run.remember_processes()  # the web workers orphaned by the kill must exit too

    os.kill(before["web"].pid, signal.SIGKILL)

    run.wait_for("the restart logged", lambda: f"web (pid {before['web'].pid}) exited with code -9" in run.output(),
                 RESTART_TIMEOUT)
    after = run.wait_for("a new web server", lambda: _children(run).get("web"), RESTART_TIMEOUT)
    run.wait_for("healthy /healthz after the restart", lambda: run.health(client), RESTART_TIMEOUT)
    assert after.pid != before["web"].pid
    assert "restarting it in 1 s" in run.output()
    assert (_children(run)["worker"].pid, _children(run)["beat"].pid) == (before["worker"].pid, before["beat"].pid)
    run.remember_processes()


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

    # and it fails closed: no debug page anywhere, and a secret key of this data folder's own
    _assert_errors_are_the_projects_own(client)
    secret_key = _secret_key(first)

    # When its web server is killed, then only the web server is restarted and the site answers again
    _assert_a_killed_web_server_is_restarted(first, client)

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
    assert _secret_key(second) == secret_key
    second.remember_processes()

    # When Ctrl-C reaches the whole process group (as from a terminal), then it also stops cleanly
    _assert_stopped_cleanly(second, second.stop(whole_group=True))


# --- safe defaults of the run command's settings (config.settings.local), without starting it ---


def _local_settings(data_dir: Path, **env: str) -> dict:
    """config.settings.local as a fresh process sees it (service URLs given, so nothing starts)."""
    environment = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV and not k.startswith("DJANGO_")}
    environment.update(AGENTLOOP_DATA_DIR=str(data_dir), DATABASE_URL="postgresql://u@localhost:1/db",
                       REDIS_URL="redis://localhost:1/0", **env)
    script = ("import json, config.settings.local as s; "
              "print(json.dumps({'debug': s.DEBUG, 'secret_key': s.SECRET_KEY, 'allowed_hosts': s.ALLOWED_HOSTS}))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_run_settings_are_safe_by_default_with_one_secret_key_per_data_folder(tmp_path):
    # Given two data folders, when the run settings load three times at once on the first, then once more
    environment = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV and not k.startswith("DJANGO_")}
    environment.update(AGENTLOOP_DATA_DIR=str(tmp_path / "a"), DATABASE_URL="postgresql://u@localhost:1/db",
                       REDIS_URL="redis://localhost:1/0")
    racing = [
        subprocess.Popen([sys.executable, "-c", "import config.settings.local as s; print(s.SECRET_KEY)"],
                         cwd=REPO, env=environment, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    raced_keys = {process.communicate(timeout=60)[0].strip() for process in racing}
    first = _local_settings(tmp_path / "a")
    other = _local_settings(tmp_path / "b", AGENTLOOP_SITE_URL="https://agentloop.example.com")

    # then DEBUG is off, every start of a folder agrees on its key, and the key file is the owner's only
    key_file = tmp_path / "a" / "secret_key"
    assert first["debug"] is False
    assert raced_keys == {first["secret_key"]}
    assert key_file.read_text().strip() == first["secret_key"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in (tmp_path / "a").iterdir()) == ["secret_key"]
    assert len(first["secret_key"]) >= 50
    assert other["secret_key"] != first["secret_key"]
    # and only loopback names and the public URL's host may be asked for
    assert first["allowed_hosts"] == ["127.0.0.1", "[::1]", "localhost"]
    assert other["allowed_hosts"] == ["127.0.0.1", "[::1]", "agentloop.example.com", "localhost"]


def test_run_settings_follow_an_explicit_debug_opt_in_and_secret_key(tmp_path):
    settings = _local_settings(tmp_path, DJANGO_DEBUG="1", DJANGO_SECRET_KEY="k" * 50)

    assert (settings["debug"], settings["secret_key"]) == (True, "k" * 50)
    assert not (tmp_path / "secret_key").exists()


def test_a_child_that_keeps_dying_is_restarted_with_backoff_and_from_one_second_once_it_ran_a_while(
    tmp_path, monkeypatch
):
    from apps.demo.management.commands import up

    messages = []
    child = up.Supervised("web", [sys.executable, "-c", "raise SystemExit(3)"], env=dict(os.environ),
                          cwd=tmp_path, log=messages.append)
    child.start()

    def die_and_restart() -> None:
        child.process.wait(timeout=30)
        child.check(time.monotonic())  # notices the exit, schedules the restart
        child.check(child.restart_at - 0.01)  # too early: nothing happens
        child.check(child.restart_at)  # restarts

    for _ in range(7):
        die_and_restart()
    monkeypatch.setattr(up, "STABLE_AFTER_SECONDS", 0.0)  # as if the last start had lasted a minute
    die_and_restart()
    child.process.wait(timeout=30)

    delays = [float(re.search(r"restarting it in (\S+) s", m).group(1)) for m in messages if "exited" in m]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 1]
    assert all(re.fullmatch(r"web \(pid \d+\) exited with code 3; restarting it in \S+ s\.", m)
               for m in messages if "exited" in m)
    assert sum(1 for m in messages if re.fullmatch(r"web restarted \(pid \d+\)\.", m)) == 8


# --- the test command stops the embedded servers it started, and only those ---

TINY_SUITE = '''
import os
from pathlib import Path

from django.core.cache import cache


def test_uses_the_embedded_redis():
    cache.set("probe", 1)  # leaves a pooled connection open until the process exits
    assert cache.get("probe") == 1
    Path(os.environ["REDIS_URL_FILE"]).write_text(os.environ["REDIS_URL"])
'''


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _run_tiny_suite(tmp_path: Path, data_dir: Path) -> int:
    """pytest on a one-test file with the project's settings and embedded servers; the Redis port it used."""
    (tmp_path / "test_tiny.py").write_text(TINY_SUITE)
    url_file = tmp_path / "redis-url"
    environment = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    environment.update(AGENTLOOP_DATA_DIR=str(data_dir), REDIS_URL_FILE=str(url_file))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "test_tiny.py"), "-q",
         "-c", str(REPO / "pyproject.toml"), "--rootdir", str(REPO)],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return urllib.parse.urlparse(url_file.read_text()).port


def test_the_test_command_stops_the_embedded_servers_it_started_and_only_those(tmp_path):
    data_dir = tmp_path / "data"
    owner = None
    try:
        # Given no embedded servers yet, when a test run starts them and ends
        port = _run_tiny_suite(tmp_path, data_dir)

        # then its Redis and PostgreSQL stopped with it
        assert not _answers(port)
        assert not (data_dir / "test" / "redis" / "server.json").exists()
        assert _data_dir_processes(data_dir) == [], _describe(_data_dir_processes(data_dir))

        # Given a Redis that another process started for the same folder, and a killed run's stale
        # PostgreSQL handle, when a test run reuses the one and starts PostgreSQL again and ends
        exited = subprocess.Popen([sys.executable, "-c", "pass"])
        exited.wait()
        (data_dir / "test" / "postgres" / ".handle_pids.json").write_text(json.dumps([exited.pid]))
        owner = subprocess.Popen(
            [sys.executable, "-c", "import sys; from pathlib import Path; from config import embedded; "
             "print(embedded.start_redis(Path(sys.argv[1])), flush=True); sys.stdin.read()",
             str(data_dir / "test")],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        owner_port = urllib.parse.urlparse(owner.stdout.readline().strip()).port
        port = _run_tiny_suite(tmp_path, data_dir)

        # then that Redis still runs, and PostgreSQL, which the run started, stopped all the same
        assert port == owner_port
        assert _answers(owner_port)
        assert [p for p in _data_dir_processes(data_dir) if "postgres" in " ".join(p.cmdline())] == []

        # and it stops when its owner exits
        owner.stdin.close()
        assert owner.wait(timeout=30) == 0
        assert not _answers(owner_port)
    finally:
        if owner is not None and owner.poll() is None:
            owner.kill()
            owner.wait()
        for process in _data_dir_processes(data_dir):
            process.kill()
