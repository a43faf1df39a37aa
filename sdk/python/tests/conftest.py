"""A real HTTP server in a thread that speaks the ingestion contract, and clients pointed at it.

No mocks of the network: the SDK talks HTTP to ``IngestServer``, which records every request
and commits item ids only when it answers 2xx, so tests can assert nothing was lost or
duplicated. Scripted replies (``server.script``) answer the next ingest requests in order.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest

from agentloop import AgentLoop

KEY_ID = "a1b2c3d4e5f6"
API_KEY = f"al_sk_{KEY_ID}_s3cr3t-Value_with_underscores-and-dashes"
PROJECT_ID = "2b1f1c54-3f0e-4c8e-9a51-8d9a4c6b2e10"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    data: Any = None

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.data["batch"] if isinstance(self.data, dict) else []


# A reply: (status, headers, JSON body or None, commit the items?)
Reply = tuple[int, dict[str, str], Any, bool]
Script = Callable[[Recorded], Reply]


def accept(request: Recorded) -> Reply:
    results = [
        {"index": index, "type": item["type"], "id": item.get("id"), "status": 201}
        for index, item in enumerate(request.items)
    ]
    return 207, {}, {"accepted": len(results), "rejected": 0, "results": results}, True


def status(code: int, headers: dict[str, str] | None = None) -> Script:
    def reply(request: Recorded) -> Reply:
        return code, headers or {}, {"code": f"http_{code}", "message": "scripted"}, False

    return reply


@dataclass
class IngestServer:
    url: str = ""
    project_id: str = PROJECT_ID
    api_key: str = API_KEY
    requests: list[Recorded] = field(default_factory=list)
    committed: list[tuple[str, str]] = field(default_factory=list)
    script: deque[Script] = field(default_factory=deque)
    default: Script = accept
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ingests(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == "/api/v1/ingest"]

    @property
    def auth_checks(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == "/api/v1/auth/check"]

    def committed_ids(self, kind: str = "turn") -> list[str]:
        with self.lock:
            return [item_id for item_type, item_id in self.committed if item_type == kind]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/api/v1/auth/check":
            if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return 401, {}, {"code": "unauthorized", "message": "bad key"}, False
            body = {"organization": "acme", "project": self.project_id, "project_name": "Support agent",
                    "key_id": KEY_ID}
            return 200, {}, body, False
        if request.path != "/api/v1/ingest" or request.method != "POST":
            return 404, {}, {"code": "not_found"}, False
        with self.lock:
            script = self.script.popleft() if self.script else self.default
        reply = script(request)
        if reply[0] // 100 == 2 and reply[3]:
            results = {r["index"]: r for r in (reply[2] or {}).get("results", [])}
            with self.lock:
                for index, item in enumerate(request.items):
                    if 200 <= results.get(index, {"status": 201})["status"] < 300:
                        self.committed.append((item["type"], item["id"]))
        return reply


def _handler(server: IngestServer) -> type:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Recorded(self.command, self.path, dict(self.headers.items()), raw)
            if raw:
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                request.data = json.loads(body)
            with server.lock:
                server.requests.append(request)
            code, headers, payload, _ = server.handle(request)
            content = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server():
    state = IngestServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_client(server):
    clients: list[AgentLoop] = []

    def make(**options: Any) -> AgentLoop:
        options.setdefault("api_key", API_KEY)
        options.setdefault("host", server.url)
        options.setdefault("project_id", PROJECT_ID)
        options.setdefault("flush_interval", 0.05)
        client = AgentLoop(**options)
        client.retry_backoff_base = 0.01
        client.retry_backoff_max = 0.05
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=1)


@pytest.fixture(autouse=True)
def _no_disable_env(monkeypatch):
    monkeypatch.delenv("AGENTLOOP_DISABLED", raising=False)
    monkeypatch.delenv("AGENTLOOP_API_KEY", raising=False)
    monkeypatch.delenv("AGENTLOOP_HOST", raising=False)
