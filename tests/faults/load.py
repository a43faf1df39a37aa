"""Ingestion load for fault tests: client threads that post turns and retry until acknowledged.

A request that fails (connection refused or reset, a 5xx) is re-sent with the same ids, as the
SDKs do; an id counts as acknowledged only when a 2xx answered it. Latency is recorded for
every answered request, by phase, so a test can compare the p99 of a healthy phase with a
faulty one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict

PUNT = "I don't know the answer to that, please contact support."


class Load:
    def __init__(self, web, secret: str, *, threads: int = 3, batch: int = 0):
        self.web, self.secret, self.threads, self.batch = web, secret, threads, batch
        self.phase = "healthy"
        self.acknowledged: set[str] = set()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.phase_ids: dict[str, set[str]] = defaultdict(set)
        self.requests = 0
        self.failed_attempts = 0
        self.statuses: dict[int, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def _items(self) -> list[str]:
        return [str(uuid.uuid4()) for _ in range(max(self.batch, 1))]

    def _send(self, ids: list[str]):
        if self.batch:
            body = {"batch": [{"type": "turn", "id": turn_id, "body": {"question": f"q {turn_id}", "agent_response": PUNT}}
                              for turn_id in ids]}
            return self.web.request("POST", "/api/v1/ingest", body, secret=self.secret, timeout=30)
        body = {"id": ids[0], "question": f"q {ids[0]}", "agent_response": PUNT}
        return self.web.request("POST", "/api/v1/turns", body, secret=self.secret, timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            ids, phase = self._items(), self.phase
            while True:
                started = time.perf_counter()
                try:
                    status, body, _ = self._send(ids)
                except OSError:
                    status, body = None, None
                seconds = time.perf_counter() - started
                with self._lock:
                    self.requests += 1
                    if status is not None:
                        self.statuses[status] += 1
                        self.latencies[phase].append(seconds)
                    acknowledged = status is not None and 200 <= status < 300 and (
                        not self.batch or all(r["status"] in (200, 201) for r in body["results"]))
                    if acknowledged:
                        self.acknowledged.update(ids)
                        self.phase_ids[phase].update(ids)
                    else:
                        self.failed_attempts += 1
                if acknowledged:
                    break
                time.sleep(0.05)  # the server is down or restarting: retry the same ids

    def start(self) -> "Load":
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for thread in self._workers:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop after each thread's request in flight is acknowledged (it keeps retrying until then)."""
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in self._workers), "a client never got its request acknowledged"
