"""``./manage.py up``: the whole product on one machine.

Starts (or reuses) the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are
set, migrates, seeds the demo organization, then runs web (gunicorn), worker and beat
(Celery) as child processes until Ctrl-C or SIGTERM, and stops them all. A child that dies
is restarted (``Supervised``); the others keep running.

Safe by default: DEBUG off and the data folder's own secret key (config/settings/local.py).
``--dev`` (or ``DJANGO_DEBUG=1``) turns DEBUG on for a developer, with a warning.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from apps.demo.seed import DEMO_EMAIL, DEMO_PASSWORD, seed
from config import embedded

FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
# A child that ran this long before exiting is restarted after FIRST_RESTART_DELAY again.
STABLE_AFTER_SECONDS = 60.0
STOP_GRACE_SECONDS = 20
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}
DEBUG_WARNING = (
    "DEBUG is on (developer mode): error pages show tracebacks, settings and every URL pattern\n"
    "to anyone who can reach this server. Never use it where others can connect."
)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Supervised:
    """One child process, restarted whenever it exits until ``stop``.

    Restarts back off exponentially (1 s, 2 s, 4 s … at most 30 s) while the child keeps
    dying soon after it starts, and start from 1 s again once it has stayed up
    ``STABLE_AFTER_SECONDS``: a crash loop cannot spin, a rare crash is repaired at once.
    """

    def __init__(self, name: str, command: list[str], *, env: dict, cwd, log):
        self.name = name
        self.command = command
        self.env = env
        self.cwd = cwd
        self.log = log
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.delay = FIRST_RESTART_DELAY
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, cwd=self.cwd)
        self.started_at = time.monotonic()
        self.restart_at = None

    def check(self, now: float) -> None:
        """Notice an exit and schedule the restart, or restart once its delay has passed."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
                self.log(f"{self.name} restarted (pid {self.process.pid}).")
            return
        code = self.process.poll()
        if code is None:
            return
        if now - self.started_at >= STABLE_AFTER_SECONDS:
            self.delay = FIRST_RESTART_DELAY
        self.log(f"{self.name} (pid {self.process.pid}) exited with code {code}; restarting it in {self.delay:g} s.")
        self.restart_at = now + self.delay
        self.delay = min(self.delay * 2, MAX_RESTART_DELAY)

    def stop(self) -> None:
        """Ask the child to stop (SIGTERM) and cancel any pending restart."""
        self.restart_at = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        """Wait for the child until ``deadline`` (monotonic), then kill it."""
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Command(BaseCommand):
    help = "Run web + worker + beat on the embedded default (or DATABASE_URL/REDIS_URL), with demo data."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="Skip seeding the demo organization")
        parser.add_argument(
            "--dev", action="store_true",
            help="Developer mode: DEBUG on (Django's debug pages; never where others can connect)",
        )

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        if not _port_free(host, port):
            raise CommandError(f"Port {port} on {host} is in use. Stop what uses it or run with PORT=<other port>.")
        env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"))
        if options["dev"] or settings.DEBUG:
            env["DJANGO_DEBUG"] = "1"
            self.stderr.write(self.style.WARNING(DEBUG_WARNING))
        if host in WILDCARD_HOSTS and not (env.get("AGENTLOOP_SITE_URL") or env.get("DJANGO_ALLOWED_HOSTS")):
            self.stderr.write(self.style.WARNING(
                "Listening on all interfaces, but only localhost may connect: set AGENTLOOP_SITE_URL to the "
                "address people use (e.g. https://agentloop.example.com) or DJANGO_ALLOWED_HOSTS."
            ))
        self.stdout.write("Migrating the database…")
        call_command("migrate", interactive=False, verbosity=0)
        demo = None
        if not options["no_demo"]:
            demo = seed()
            self.stdout.write(
                f"Demo organization '{demo['organization']}' ready; project {demo['project']}; SDK key: {demo['api_key']}"
            )
        data_dir = embedded.data_dir("run")
        env.setdefault("AGENTLOOP_SITE_URL", f"http://{host}:{port}")
        python = sys.executable
        commands = {
            "web": [python, "-m", "gunicorn", "config.wsgi", "--bind", f"{host}:{port}", "--workers", "2",
                    "--threads", "4", "--access-logfile", "-", "--graceful-timeout", "5"],
            "worker": [python, "-m", "celery", "-A", "config.celery_app", "worker", "--loglevel", "INFO",
                       "--concurrency", "2", "--hostname", "worker@%h"],
            "beat": [python, "-m", "celery", "-A", "config.celery_app", "beat", "--loglevel", "INFO",
                     "--schedule", str(data_dir / "celerybeat-schedule")],
        }
        children = [
            Supervised(name, command, env=env, cwd=settings.BASE_DIR, log=self._log) for name, command in commands.items()
        ]
        for child in children:
            child.start()
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        url = f"http://{'localhost' if host in {'127.0.0.1', '0.0.0.0'} else host}:{port}/"
        self.stdout.write(self.style.SUCCESS(
            f"\nAgentLoop is running at {url}\n"
            f"  demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}\n"
            f"  web, worker and beat started; press Ctrl-C to stop them all.\n"
        ))
        if demo:
            threading.Thread(target=self._send_demo_traffic, args=(f"http://{host}:{port}", demo), daemon=True).start()
        while not stopping:
            for child in children:
                child.check(time.monotonic())
            time.sleep(0.5)
        self.stdout.write("Stopping web, worker and beat…")
        for child in children:
            child.stop()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            child.wait(deadline)
        self.stdout.write("Stopped.")

    def _log(self, message: str) -> None:
        self.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} up: {message}")

    def _send_demo_traffic(self, url: str, demo: dict) -> None:
        """Once the web process answers, log the demo support traffic through the Python SDK."""
        from apps.demo import traffic as demo_traffic

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        try:
            sent = demo_traffic.send(host=url, api_key=demo["api_key"], project_id=demo["project"])
        except Exception as exc:  # noqa: BLE001 - the product runs even if the demo traffic fails
            self.stderr.write(f"Demo traffic was not sent: {exc}")
        else:
            self.stdout.write(f"Demo traffic: {sent} support-agent turns logged through the Python SDK.")
        # Give the worker a moment to run the detectors on that traffic, then fill the queues.
        time.sleep(5)
        try:
            demo_traffic.seed_triage(project_id=demo["project"])
        except Exception as exc:  # noqa: BLE001
            self.stderr.write(f"Demo review queues were not seeded: {exc}")
        else:
            self.stdout.write("Demo review queues ready (log in as riley@acme.test / agentloop-demo to review).")
