"""The bounded queue of one client and the daemon thread that delivers it.

One request at a time, in order: the thread takes up to ``max_batch`` items, encodes them, sends
them in requests of at most ``max_batch_bytes`` to ``POST {host}/api/v1/ingest`` and retries
each request until it is answered (see ``agentloop.client`` for the policy). ``flush`` waits on
a counter of finished items; the items taken together are counted finished together, so every
item queued before a flush is settled when the flush returns True.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentloop.items import encode
from agentloop.transport import Response, full_jitter, retry_after_seconds

if TYPE_CHECKING:
    from agentloop.client import AgentLoop

logger = logging.getLogger("agentloop")

INGEST_PATH = "/api/v1/ingest"

# (type, id, body) as queued; (type, id, UTF-8 JSON of {"type", "id", "body"}) once encoded
Queued = tuple[str, str, dict[str, Any]]
Item = tuple[str, str, bytes]


class Sender:
    """Queue, counters and thread of one client; reads its settings from the client."""

    def __init__(self, client: AgentLoop) -> None:
        self.client = client
        self.closed = False
        self.reset()

    def reset(self) -> None:
        """Fresh locks, queue, counters and no thread (at construction and in a forked child:
        the parent's queue and thread stay with the parent)."""
        self.lock = threading.Lock()
        self.progress = threading.Condition(self.lock)
        self.wake = threading.Event()
        self.abort = threading.Event()
        self.queue: deque[Queued] = deque()
        self.enqueued = 0
        self.finished = 0
        self.sent = 0
        self.dropped = 0
        self.retries = 0
        self.failed = 0
        self.deadline: float | None = None
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def check_process(self) -> None:
        if self.pid != os.getpid():  # forked without os.register_at_fork (or before it ran)
            self.reset()

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name="agentloop-sender", daemon=True)
        self.thread = thread
        thread.start()

    # ------------------------------------------------------------------ caller side

    def enqueue(self, kind: str, item_id: str, body: dict[str, Any]) -> bool:
        if self.pid != os.getpid():
            self.reset()
        client = self.client
        with self.lock:
            if self.closed or len(self.queue) >= client.max_queue:
                self.dropped += 1
                accepted = False
            else:
                self.queue.append((kind, item_id, body))
                self.enqueued += 1
                accepted = True
                full = len(self.queue) >= client.max_batch
        if not accepted:
            why = "client is shut down" if self.closed else "queue is full"
            client._report("closed" if self.closed else "queue_full",
                           f"AgentLoop {why}: dropped a {kind} (see stats['dropped'])", items=((kind, item_id),))
            return False
        if self.thread is None:
            self.start()
        if full and not self.wake.is_set():
            self.wake.set()
        return True

    def flush(self, timeout: float | None) -> bool:
        if threading.current_thread() is self.thread:
            return False  # from an on_error callback: waiting on ourselves would never end
        self.check_process()
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        with self.lock:
            target = self.enqueued
        if self.finished >= target:
            return True
        if not self.closed and (self.thread is None or not self.thread.is_alive()):
            self.start()
        self.wake.set()
        with self.progress:
            while self.finished < target:
                thread = self.thread
                if thread is None or not thread.is_alive():
                    return self.finished >= target
                wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                if wait <= 0:
                    return False
                self.progress.wait(wait)
        return True

    def close(self, timeout: float) -> None:
        """Deliver for up to ``timeout`` seconds, stop the thread, count the rest as dropped."""
        self.check_process()
        with self.lock:
            self.closed = True
        self.deadline = time.monotonic() + max(float(timeout), 0.0)
        thread = self.thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            self.wake.set()
            thread.join(max(self.deadline - time.monotonic(), 0.0) + 0.5)
            if thread.is_alive():
                self.abort.set()
                self.wake.set()
                thread.join(self.client.timeout + 1.0)
        elif thread is None or not thread.is_alive():
            self._drain()  # no thread (e.g. a forked child that never logged): send inline
        self._drop_remaining()

    def stats(self) -> dict[str, int]:
        with self.lock:
            return {
                "queued": self.enqueued, "sent": self.sent, "dropped": self.dropped,
                "retries": self.retries, "failed": self.failed,
            }

    # ------------------------------------------------------------------ sender thread

    def _run(self) -> None:
        client = self.client
        while True:
            try:
                self.wake.wait(client.flush_interval)
                self.wake.clear()
                if self.abort.is_set():
                    return
                if client.project_id is None:
                    client._fetch_project_id()
                self._drain()
                if self.closed and not self.queue:
                    return
            except Exception:  # the sender must survive anything
                client._internal_error("sender")
                if self.abort.wait(min(client.flush_interval, 1.0)):
                    return

    def _drain(self) -> None:
        """Send everything queued, one request after the other, in order."""
        while not self.abort.is_set():
            batch = self._take()
            if not batch:
                return
            try:
                self._deliver(batch)
            finally:
                with self.progress:
                    self.finished += len(batch)
                    self.progress.notify_all()

    def _take(self) -> list[Queued]:
        with self.lock:
            queue = self.queue
            return [queue.popleft() for _ in range(min(len(queue), self.client.max_batch))]

    def _drop_remaining(self) -> None:
        with self.progress:
            left = len(self.queue)
            self.queue.clear()
            self.dropped += left
            self.finished += left
            self.progress.notify_all()
        if left:
            self.client._report("dropped_at_shutdown", f"AgentLoop dropped {left} undelivered items at shutdown")

    def _deliver(self, batch: list[Queued]) -> None:
        """Encode and send one batch, in requests of at most ``max_batch_bytes``; the halves of a
        request the server finds too large (413) go one after the other."""
        limit = self.client.max_batch_bytes
        chunks: list[list[Item]] = []
        chunk: list[Item] = []
        size = 0
        for index, (kind, item_id, body) in enumerate(batch):
            if index % 16 == 15:
                time.sleep(0)  # let the app's threads have the GIL between items
            encoded = encode(kind, item_id, body)
            if chunk and size + len(encoded) + 1 > limit:
                chunks.append(chunk)
                chunk, size = [], 0
            chunk.append((kind, item_id, encoded))
            size += len(encoded) + 1
        if chunk:
            chunks.append(chunk)
        chunks.reverse()
        while chunks:
            chunk = chunks.pop()
            if self._send_with_retries(chunk) == "split":
                middle = len(chunk) // 2
                chunks.append(chunk[middle:])
                chunks.append(chunk[:middle])

    def _send_with_retries(self, items: list[Item]) -> str | None:
        client = self.client
        attempt = 0
        pending = items
        while True:
            if self._stopping():
                self._drop(pending)
                return None
            retry_after: float | None = None
            try:
                response = self._post(pending)
            except Exception as error:  # network failure: retry
                reason = f"{type(error).__name__}: {error}"
            else:
                status = response.status
                if 200 <= status < 300:
                    pending = self._apply_results(pending, response)
                    if not pending:
                        return None
                    reason = "items answered 429/5xx"
                elif status == 413 and len(pending) > 1:
                    return "split"
                elif status in (408, 429) or status >= 500:
                    reason = f"HTTP {status}"
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
                else:
                    self._reject_request(pending, response)
                    return None
            attempt += 1
            if attempt > client.max_retries:
                self._count("failed", pending)
                client._report("gave_up", f"AgentLoop gave up on {len(pending)} items after "
                               f"{client.max_retries} retries ({reason})", items=_refs(pending))
                return None
            with self.lock:
                self.retries += 1
            delay = retry_after if retry_after is not None else full_jitter(
                attempt, base=client.retry_backoff_base, cap=client.retry_backoff_max
            )
            logger.debug("agentloop: retry %d of %d items in %.2fs (%s)", attempt, len(pending), delay, reason)
            if self._sleep(delay):
                self._drop(pending)
                return None

    def _post(self, items: list[Item]) -> Response:
        client = self.client
        body = gzip.compress(b'{"batch":[' + b",".join(item[2] for item in items) + b"]}", compresslevel=6)
        timeout = client.timeout
        if self.deadline is not None:
            timeout = max(min(timeout, self.deadline - time.monotonic()), 0.1)
        return client._transport.request(
            "POST", client.host + INGEST_PATH, headers=client._headers, body=body, timeout=timeout
        )

    def _apply_results(self, items: list[Item], response: Response) -> list[Item]:
        """Count a 2xx answer's per-item results; return the items to retry (429/5xx)."""
        try:
            results = json.loads(response.body.decode("utf-8")).get("results") or []
            by_index = {r["index"]: r for r in results if isinstance(r, dict) and isinstance(r.get("index"), int)}
        except Exception:  # a 2xx means committed, even without a readable body
            by_index = {}
        retry: list[Item] = []
        sent = 0
        for index, item in enumerate(items):
            result = by_index.get(index) or {}
            status = result.get("status")
            if not isinstance(status, int) or 200 <= status < 300:
                sent += 1
            elif status in (408, 429) or status >= 500:
                retry.append(item)
            else:
                with self.lock:
                    self.failed += 1
                code = str(result.get("code") or f"http_{status}")
                detail = result.get("message") or ""
                field = result.get("field")
                self.client._report(
                    code,
                    f"AgentLoop rejected a {item[0]} ({item[1]}): {code}"
                    + (f" on {field}" if field else "") + (f": {detail}" if detail else ""),
                    status=status, items=((item[0], item[1]),),
                )
        with self.lock:
            self.sent += sent
        return retry

    def _reject_request(self, items: list[Item], response: Response) -> None:
        status = response.status
        self._count("failed", items)
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 413: "payload_too_large"}.get(
            status, "redirect" if 300 <= status < 400 else f"http_{status}"
        )
        hints = {
            "unauthorized": "the API key is unknown or revoked",
            "forbidden": "the API key may not write to this project",
            "payload_too_large": "one item is larger than the server accepts",
            "redirect": f"{self.client.host} redirects; set host to the final URL (https?)",
        }
        detail = hints.get(code) or _error_message(response.body)
        self.client._report(code, f"AgentLoop ingest answered {status}; {len(items)} items not delivered: {detail}",
                            status=status, items=_refs(items))

    def _drop(self, items: Sequence[Item]) -> None:
        """Items still undelivered when shutdown's time ran out."""
        self._count("dropped", items)
        self.client._report("dropped_at_shutdown", f"AgentLoop dropped {len(items)} undelivered items at shutdown",
                            items=_refs(items))

    def _count(self, counter: str, items: Sequence[Item]) -> None:
        with self.lock:
            if counter == "failed":
                self.failed += len(items)
            else:
                self.dropped += len(items)

    def _stopping(self) -> bool:
        return self.abort.is_set() or (self.deadline is not None and time.monotonic() >= self.deadline)

    def _sleep(self, seconds: float) -> bool:
        """Wait between retries; True if the client is being shut down meanwhile and must stop."""
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining < seconds:
                self.abort.wait(max(remaining, 0.0))
                return True
        return self.abort.wait(seconds)


def _refs(items: Sequence[Item]) -> list[tuple[str, str]]:
    return [(item[0], item[1]) for item in items]


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body.decode("utf-8"))
        return str(data.get("message") or data.get("detail") or data.get("code") or "")[:300]
    except Exception:  # not JSON: show the start of it
        return body[:200].decode("utf-8", "replace")
