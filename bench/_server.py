"""Start AgentLoop for a benchmark: its own data folder (or DATABASE_URL/REDIS_URL), migrate,
provision an organization and key, and run gunicorn on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Server:
    def __init__(self, *, workers: int = 2, threads: int = 4, data_dir: str | None = None):
        from config import embedded

        self.data_dir = data_dir or tempfile.mkdtemp(prefix="agentloop-bench-")
        os.environ.setdefault("AGENTLOOP_DATA_DIR", self.data_dir)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        embedded.ensure_services("run")  # exports DATABASE_URL / REDIS_URL for the children
        self.port = embedded.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DJANGO_DEBUG="false", AGENTLOOP_SITE_URL=self.url,
                   AGENTLOOP_INGEST_RATE_LIMIT_PER_SECOND="1000000", LOG_LEVEL="WARNING")
        self.env = env
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
        self.api_key, self.project_id = self.new_project("bench")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads), "--log-level", "warning"],
            env=env, cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def new_project(self, name: str) -> tuple[str, str]:
        """A fresh project and key (so each phase counts only its own rows)."""
        out = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "bootstrap_org", "--org", "Bench", "--owner-email",
             "bench@example.test", "--owner-password", "bench-password-123", "--project",
             f"{name}-{time.time_ns()}", "--json"],
            env=self.env, check=True, cwd=ROOT, capture_output=True, text=True,
        ).stdout
        info = json.loads(out.strip().splitlines()[-1])
        return info["api_key"], info["project"]

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes: gunicorn (master and workers) and, for
        the embedded default, the PostgreSQL postmaster and its backends. A figure that other
        load on the machine does not inflate, unlike wall time."""
        import psutil

        roots = [psutil.Process(self.process.pid)]
        postmaster = Path(self.data_dir) / "postgres" / "postmaster.pid"
        if postmaster.exists():
            roots.append(psutil.Process(int(postmaster.read_text().split()[0])))
        total = 0.0
        for root in roots:
            for process in [root, *root.children(recursive=True)]:
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system + times.children_user + times.children_system
        return total

    def dsn(self) -> str:
        return os.environ["DATABASE_URL"]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def connect(dsn: str):
    import psycopg
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(dsn)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    return psycopg.connect(
        host=query.get("host") or parsed.hostname, port=parsed.port or 5432, user=parsed.username or "postgres",
        password=parsed.password or None, dbname=parsed.path.lstrip("/") or "postgres", autocommit=True,
    )


def count_spans(dsn: str, project_id: str) -> int:
    """Spans stored for a project: OTLP turns (root spans) plus steps."""
    with connect(dsn) as conn:
        turns = conn.execute("SELECT count(*) FROM traces_turn WHERE project_id = %s AND source = 'otlp'", [project_id]).fetchone()[0]
        steps = conn.execute("SELECT count(*) FROM traces_step WHERE project_id = %s", [project_id]).fetchone()[0]
    return turns + steps


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "count-spans":
    print(count_spans(sys.argv[2], sys.argv[3]))
