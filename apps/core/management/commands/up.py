"""``./manage.py up``: the whole product on one machine.

Starts (or reuses) the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are
set, migrates, seeds the demo organization, then runs web (gunicorn), worker and beat
(Celery) as child processes until Ctrl-C or SIGTERM, and stops them all.
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

from apps.core.management.commands.seed_demo import DEMO_EMAIL, DEMO_PASSWORD, seed


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Run web + worker + beat on the embedded default (or DATABASE_URL/REDIS_URL), with demo data."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="Skip seeding the demo organization")

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        if not _port_free(host, port):
            raise CommandError(f"Port {port} on {host} is in use. Stop what uses it or run with PORT=<other port>.")
        self.stdout.write("Migrating the database…")
        call_command("migrate", interactive=False, verbosity=0)
        demo = None
        if not options["no_demo"]:
            demo = seed()
            self.stdout.write(
                f"Demo organization '{demo['organization']}' ready; project {demo['project']}; SDK key: {demo['api_key']}"
            )
        data_dir = os.environ.get("AGENTLOOP_DATA_DIR") or str(settings.BASE_DIR / ".data")
        os.makedirs(data_dir, exist_ok=True)
        env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"))
        env.setdefault("AGENTLOOP_SITE_URL", f"http://{host}:{port}")
        python = sys.executable
        commands = {
            "web": [python, "-m", "gunicorn", "config.wsgi", "--bind", f"{host}:{port}", "--workers", "2",
                    "--threads", "4", "--access-logfile", "-", "--graceful-timeout", "5"],
            "worker": [python, "-m", "celery", "-A", "config.celery_app", "worker", "--loglevel", "INFO",
                       "--concurrency", "2", "--hostname", "worker@%h"],
            "beat": [python, "-m", "celery", "-A", "config.celery_app", "beat", "--loglevel", "INFO",
                     "--schedule", os.path.join(data_dir, "celerybeat-schedule")],
        }
        children = {name: subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR) for name, cmd in commands.items()}
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
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with code {child.returncode}; stopping everything.")
                    stopping, exit_code = True, 1
                    break
            time.sleep(0.5)
        self.stdout.write("Stopping web, worker and beat…")
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)

    def _send_demo_traffic(self, url: str, demo: dict) -> None:
        """Once the web process answers, log the demo support traffic through the Python SDK."""
        from apps.core import demo_traffic

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
