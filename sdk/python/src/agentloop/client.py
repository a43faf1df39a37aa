"""The AgentLoop client: log turns, feedback and signals; a background thread delivers them.

Contract (DESIGN.md, "SDK contract" and "HTTP contract"):

* ``log_turn``/``feedback``/``signal`` build the item's body and append it to a bounded
  in-memory queue. They never block on the network and never raise: errors are logged on the
  ``agentloop`` logger and passed to ``on_error``. A full queue drops the new item and counts it
  in ``stats["dropped"]``. JSON encoding happens on the sender thread, one item at a time (it
  is most of the cost); the top-level lists and dicts you pass (``history``, ``metadata``…) are
  copied at call time, so appending to your ``history`` afterwards does not change the logged
  turn, but objects nested inside them must not be mutated after logging.
* One daemon thread per client batches the queue into ``POST {host}/api/v1/ingest`` (gzip
  JSON), at most ``max_batch`` items or about 4 MiB a request, every ``flush_interval`` seconds
  or as soon as a batch is full. A network error, 408, 429 or 5xx retries the whole request
  with exponential backoff and full jitter, honouring ``Retry-After``; the items keep their ids,
  so a retry of a request the server already committed is harmless. Items the 207 response
  marks 4xx are rejected for good (``stats["failed"]``, one warning per error code); a 413 on
  the request splits the batch in halves; 400/401/403 and other 4xx are not retried.
* The feedback URL of a turn is signed locally (``agentloop.signing``). It needs the project
  id: pass ``project_id=`` or the client learns it once from ``GET /api/v1/auth/check`` (the
  sender does this in the background; if ``turn.feedback_url`` is read before that, that first
  read makes the request on the caller's thread).
* ``flush()`` waits for everything logged before it; ``shutdown()`` flushes and stops the thread
  and runs at interpreter exit. A forked child gets a fresh, empty queue and its own thread.
"""

from __future__ import annotations

import atexit
import datetime as dt
import gzip
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Callable, TypeVar, Union

from agentloop.errors import AgentLoopError
from agentloop.serialize import dumps, iso_datetime
from agentloop.signing import derive_signing_key, feedback_url, parse_api_key
from agentloop.transport import Response, Transport, full_jitter, retry_after_seconds
from agentloop.version import __version__

logger = logging.getLogger("agentloop")

DEFAULT_HOST = "http://localhost:8000"
INGEST_PATH = "/api/v1/ingest"
AUTH_CHECK_PATH = "/api/v1/auth/check"
SERVER_MAX_BATCH = 1000  # items per request the server accepts (apps/traces/schemas.py)
USER_AGENT = f"agentloop-python/{__version__}"
AUTH_RETRY_SECONDS = 30.0
AUTH_REJECTED_RETRY_SECONDS = 300.0
TRUTHY = ("1", "true", "yes", "on")

# (type, id, body) as queued; (type, id, UTF-8 JSON of {"type", "id", "body"}) once encoded
_Queued = tuple[str, str, dict[str, Any]]
_Item = tuple[str, str, bytes]
ErrorCallback = Callable[[AgentLoopError], Any]
Rating = Union[str, int]

_urandom = os.urandom
_time = time.time
_Client = TypeVar("_Client", bound="AgentLoop")
_utc = dt.timezone.utc


def _uuid4() -> str:
    """A random (version 4) UUID as text, like ``str(uuid.uuid4())`` at a quarter of the cost."""
    h = _urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _clock() -> float:
    """Unix seconds for feedback-link expiry (a seam for the signing tests)."""
    return time.time()


class Turn:
    """What ``log_turn`` returns: the turn's id and its signed feedback URL.

    ``feedback_url`` is ``{host}/f/{payload}.{signature}``, valid until ``expires_at`` (unix
    seconds). It is computed locally on first read. If the client does not know its project id
    yet (no ``project_id=`` and the background auth check has not finished), that first read
    makes one ``GET /api/v1/auth/check`` on the calling thread (bounded by ``timeout``). It is
    ``None`` when it cannot be made: a malformed API key, or an unknown project id that could
    not be fetched (a disabled client never fetches it).
    """

    __slots__ = ("_client", "_feedback_url", "expires_at", "id", "session_id", "user_id")

    def __init__(
        self, client: AgentLoop, id: str, user_id: str = "", session_id: str = "", expires_at: int = 0
    ) -> None:
        self.id = id
        self.user_id = user_id
        self.session_id = session_id
        self.expires_at = expires_at
        self._client = client
        self._feedback_url: str | None = None

    @property
    def feedback_url(self) -> str | None:
        if self._feedback_url is None:
            self._feedback_url = self._client._sign_feedback_url(self)
        return self._feedback_url

    def __repr__(self) -> str:
        return f"Turn(id={self.id!r})"


class AgentLoop:
    """Client for one API key (one project). Thread-safe; create one per process and reuse it.

    ``api_key`` and ``host`` default to the ``AGENTLOOP_API_KEY`` and ``AGENTLOOP_HOST``
    environment variables. ``enabled=False`` or ``AGENTLOOP_DISABLED=1`` turns every call into a
    no-op that still returns ``Turn`` objects (their ``feedback_url`` is signed only when
    ``project_id`` was given). ``on_error`` receives an ``AgentLoopError`` for each failure, on
    the thread where it happened (usually the sender thread); it must not block for long.
    """

    #: Backoff of retried requests without ``Retry-After``: full jitter over base * 2**n, capped.
    retry_backoff_base = 0.5
    retry_backoff_max = 30.0
    #: Uncompressed size of one request; the server accepts 5 MiB (AGENTLOOP_INGEST_MAX_BODY_BYTES).
    max_batch_bytes = 4 * 1024 * 1024

    def __init__(
        self,
        api_key: str | None = None,
        host: str | None = None,
        *,
        project_id: str | None = None,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        max_queue: int = 10_000,
        timeout: float = 10.0,
        max_retries: int = 8,
        feedback_link_ttl: int = 30 * 86_400,
        enabled: bool = True,
        on_error: ErrorCallback | None = None,
    ) -> None:
        self.host = (host or os.environ.get("AGENTLOOP_HOST") or DEFAULT_HOST).rstrip("/")
        self.project_id: str | None = None if project_id is None else str(project_id)
        self.flush_interval = max(float(flush_interval), 0.001)
        self.max_batch = min(max(int(max_batch), 1), SERVER_MAX_BATCH)
        self.max_queue = max(int(max_queue), 1)
        self.timeout = float(timeout)
        self.max_retries = max(int(max_retries), 0)
        self.feedback_link_ttl = int(feedback_link_ttl)
        self.on_error = on_error
        self._api_key = api_key if api_key is not None else os.environ.get("AGENTLOOP_API_KEY", "")
        self._key_id: str | None = None
        self._signing_key: bytes | None = None
        self._warned: set[str] = set()
        self._transport = Transport()
        self._headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": USER_AGENT,
        }
        self._closed = False
        self._thread: threading.Thread | None = None
        self._auth_retry_at = 0.0
        self._deadline: float | None = None
        self._reset_state()

        disabled_by_env = os.environ.get("AGENTLOOP_DISABLED", "").strip().lower() in TRUTHY
        self.enabled = bool(enabled) and not disabled_by_env
        try:
            self._key_id, _ = parse_api_key(self._api_key)
            self._signing_key = derive_signing_key(self._api_key)
        except ValueError:
            if self.enabled:
                self._report(
                    "invalid_api_key",
                    "AgentLoop API key is missing or malformed (expected al_sk_<key id>_<secret>); "
                    "nothing will be sent",
                    level=logging.ERROR,
                )
            self.enabled = False

        _clients.add(self)
        if self.enabled:
            self._start_thread()

    # ------------------------------------------------------------------ public API

    def log_turn(
        self,
        question: str | None = None,
        agent_response: str | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        signals: Mapping[str, Any] | None = None,
        history: Sequence[Any] | None = None,
        prompt_version: str | None = None,
        model: str | None = None,
        retrieved: Sequence[Any] | None = None,
        tool_calls: Sequence[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        variant: str | None = None,
        timestamp: dt.datetime | str | float | None = None,
        steps: Sequence[Any] | None = None,
        id: str | uuid.UUID | None = None,
        **extra: Any,
    ) -> Turn:
        """Queue one turn and return it (``turn.id``, ``turn.feedback_url``); never raises.

        ``timestamp`` (when the turn happened) defaults to now, so a delayed or retried delivery
        keeps the real time. Unknown keyword arguments are kept in ``metadata`` under their name
        (with a one-time warning) rather than raising into the app.
        """
        try:
            turn_id = _uuid4() if id is None else str(id)
        except Exception:  # a broken id object must not raise into the app
            turn_id = _uuid4()
        user = "" if user_id is None else str(user_id)
        turn = Turn(self, turn_id, user, "" if session_id is None else str(session_id),
                    int(_clock()) + self.feedback_link_ttl)
        if not self.enabled:
            return turn
        try:
            body: dict[str, Any] = {"id": turn_id}
            if question is not None:
                body["question"] = question
            if agent_response is not None:
                body["agent_response"] = agent_response
            if user_id is not None:
                body["user_id"] = user
            if session_id is not None:
                body["session_id"] = turn.session_id
            if signals is not None:
                body["signals"] = _snapshot(signals)
            if history is not None:
                body["history"] = _snapshot(history)
            if prompt_version is not None:
                body["prompt_version"] = str(prompt_version)
            if model is not None:
                body["model"] = str(model)
            if retrieved is not None:
                body["retrieved"] = _snapshot(retrieved)
            if tool_calls is not None:
                body["tool_calls"] = _snapshot(tool_calls)
            if extra:
                metadata = self._merge_extra(metadata, extra)
            if metadata is not None:
                body["metadata"] = _snapshot(metadata)
            if variant is not None:
                body["variant"] = str(variant)
            body["timestamp"] = _time() if timestamp is None else timestamp  # made ISO 8601 when encoded
            if steps is not None:
                body["steps"] = [_step(step) for step in steps]
            self._enqueue("turn", turn_id, body)
        except Exception:
            self._internal_error("log_turn")
        return turn

    def log_turn_if(self, condition: Any, *args: Any, **kwargs: Any) -> Turn | None:
        """``log_turn(...)`` when ``condition`` is truthy, else ``None`` (nothing is logged)."""
        try:
            if not condition:
                return None
        except Exception:  # e.g. an object whose truth value is ambiguous
            self._internal_error("log_turn_if")
            return None
        return self.log_turn(*args, **kwargs)

    def feedback(
        self,
        turn_id: Turn | str | uuid.UUID,
        rating: Rating | None = None,
        *,
        comment: str | None = None,
        correction: str | None = None,
        signals: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        id: str | uuid.UUID | None = None,
    ) -> str:
        """Queue end-user feedback on a turn (which may not have arrived yet); returns its id.

        ``rating`` is ``"up"``, ``"down"`` or an integer 1..5. Never raises.
        """
        feedback_id = ""
        try:
            feedback_id = _uuid4() if id is None else str(id)
            if not self.enabled:
                return feedback_id
            body: dict[str, Any] = {"turn_id": _turn_id(turn_id), "id": feedback_id}
            if rating is not None:
                body["rating"] = rating
            if comment is not None:
                body["comment"] = comment
            if correction is not None:
                body["correction"] = correction
            if signals is not None:
                body["signals"] = _snapshot(signals)
            if user_id is not None:
                body["user_id"] = str(user_id)
            if metadata is not None:
                body["metadata"] = _snapshot(metadata)
            self._enqueue("feedback", feedback_id, body)
        except Exception:
            self._internal_error("feedback")
        return feedback_id

    def signal(
        self, turn_id: Turn | str | uuid.UUID, kind: str, value: Any = True, dedupe_key: str = ""
    ) -> None:
        """Queue a signal (``thumbs_down``, ``escalation``, a custom name…) on a turn. Never raises.

        The server keeps one signal per (turn, kind, source, dedupe_key): repeat a kind on one
        turn with distinct ``dedupe_key`` values.
        """
        if not self.enabled:
            return
        try:
            item_id = _uuid4()
            body = {"turn_id": _turn_id(turn_id), "kind": str(kind), "value": _snapshot(value),
                    "dedupe_key": str(dedupe_key or "")}
            self._enqueue("signal", item_id, body)
        except Exception:
            self._internal_error("signal")

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued before this call is delivered, rejected or dropped.

        Returns ``True`` when it all was, ``False`` if ``timeout`` (seconds) ran out first or the
        client cannot send (shut down, or called from an ``on_error`` callback). Never raises.
        """
        try:
            if not self.enabled:
                return True
            if threading.current_thread() is self._thread:
                return False
            self._check_process()
            deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
            with self._lock:
                target = self._enqueued
            if self._finished >= target:
                return True
            if not self._closed:
                self._ensure_thread()
            self._wake.set()
            with self._progress:
                while self._finished < target:
                    thread = self._thread
                    if thread is None or not thread.is_alive():
                        return self._finished >= target
                    wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                    if wait <= 0:
                        return False
                    self._progress.wait(wait)
            return True
        except Exception:
            self._internal_error("flush")
            return False

    def shutdown(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (for up to ``timeout`` seconds) and stop the sender thread.

        Items still undelivered then are counted as dropped; calls after this drop their items.
        Runs automatically at interpreter exit. Idempotent; never raises.
        """
        try:
            if self._closed:
                return
            self._check_process()
            with self._lock:
                self._closed = True
            if not self.enabled:
                return
            self._deadline = time.monotonic() + max(float(timeout), 0.0)
            thread = self._thread
            if thread is not None and thread.is_alive() and thread is not threading.current_thread():
                self._wake.set()
                thread.join(max(self._deadline - time.monotonic(), 0.0) + 0.5)
                if thread.is_alive():
                    self._abort.set()
                    self._wake.set()
                    thread.join(self.timeout + 1.0)
            elif thread is None or not thread.is_alive():
                self._drain()  # no thread (e.g. a forked child that never logged): send inline
            self._drop_remaining()
        except Exception:
            self._internal_error("shutdown")

    close = shutdown

    def __enter__(self: _Client) -> _Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    @property
    def stats(self) -> dict[str, int]:
        """Counters since start: ``queued`` (accepted into the queue), ``sent`` (committed by the
        server), ``dropped`` (queue full, or still unsent at shutdown), ``retries`` (requests
        re-sent), ``failed`` (rejected by the server or given up after ``max_retries``)."""
        with self._lock:
            return {
                "queued": self._enqueued, "sent": self._sent, "dropped": self._dropped,
                "retries": self._retries, "failed": self._failed,
            }

    # ------------------------------------------------------------------ caller side

    def _reset_state(self) -> None:
        """Fresh locks, queue and counters (at construction and in a forked child)."""
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._auth_lock = threading.Lock()
        self._wake = threading.Event()
        self._abort = threading.Event()
        self._queue: deque[_Queued] = deque()
        self._enqueued = 0
        self._finished = 0
        self._sent = 0
        self._dropped = 0
        self._retries = 0
        self._failed = 0
        self._deadline = None
        self._thread = None
        self._pid = os.getpid()

    def _check_process(self) -> None:
        if self._pid != os.getpid():  # forked without os.register_at_fork (or before it ran)
            self._after_fork()

    def _after_fork(self) -> None:
        """In a forked child: the parent's queue and thread stay with the parent."""
        self._reset_state()

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._run, name="agentloop-sender", daemon=True)
        self._thread = thread
        thread.start()

    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._start_thread()

    def _enqueue(self, kind: str, item_id: str, body: dict[str, Any]) -> bool:
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            if self._closed or len(self._queue) >= self.max_queue:
                self._dropped += 1
                accepted = False
            else:
                self._queue.append((kind, item_id, body))
                self._enqueued += 1
                accepted = True
                full = len(self._queue) >= self.max_batch
        if not accepted:
            code = "closed" if self._closed else "queue_full"
            self._report(code, f"AgentLoop {'client is shut down' if self._closed else 'queue is full'}: "
                         f"dropped a {kind} (see stats['dropped'])", items=((kind, item_id),))
            return False
        if self._thread is None:
            self._start_thread()
        if full and not self._wake.is_set():
            self._wake.set()
        return True

    def _merge_extra(self, metadata: Mapping[str, Any] | None, extra: Mapping[str, Any]) -> dict[str, Any]:
        for name in extra:
            if f"extra:{name}" not in self._warned:
                self._warned.add(f"extra:{name}")
                logger.warning("agentloop: log_turn() has no argument %r; it is kept in metadata", name)
        merged = dict(metadata or {})
        merged.update(extra)
        return merged

    # ------------------------------------------------------------------ feedback URLs

    def _sign_feedback_url(self, turn: Turn) -> str | None:
        try:
            if self._signing_key is None or self._key_id is None:
                return None
            project_id = self.project_id or self._fetch_project_id()
            if project_id is None:
                return None
            return feedback_url(
                host=self.host, signing_key=self._signing_key, exp=turn.expires_at, key_id=self._key_id,
                project_id=project_id, turn_id=turn.id, user_id=turn.user_id,
            )
        except Exception:
            self._internal_error("feedback_url")
            return None

    def _fetch_project_id(self) -> str | None:
        """Learn the key's project once (``GET /api/v1/auth/check``); None if not possible now."""
        if not self.enabled or self.project_id is not None:
            return self.project_id
        if time.monotonic() < self._auth_retry_at:
            return None
        with self._auth_lock:
            if self.project_id is not None or time.monotonic() < self._auth_retry_at:
                return self.project_id
            headers = {"Authorization": self._headers["Authorization"], "User-Agent": USER_AGENT,
                       "Accept": "application/json"}
            try:
                response = self._transport.request(
                    "GET", self.host + AUTH_CHECK_PATH, headers=headers, timeout=self.timeout
                )
            except Exception as error:  # network trouble: try again later
                self._auth_retry_at = time.monotonic() + AUTH_RETRY_SECONDS
                self._report("auth_check_failed", f"AgentLoop could not reach {self.host}: {error}")
                return None
            if response.status == 200:
                try:
                    project = json.loads(response.body.decode("utf-8"))["project"]
                except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                    project = None
                if project:
                    self.project_id = str(project)
                    return self.project_id
            rejected = response.status in (401, 403)
            self._auth_retry_at = time.monotonic() + (AUTH_REJECTED_RETRY_SECONDS if rejected else AUTH_RETRY_SECONDS)
            self._report(
                "unauthorized" if rejected else "auth_check_failed",
                f"AgentLoop auth check answered {response.status}"
                + (": the API key is unknown or revoked" if rejected else ""),
                status=response.status,
            )
            return None

    # ------------------------------------------------------------------ sender thread

    def _run(self) -> None:
        while True:
            try:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                if self._abort.is_set():
                    return
                if self.project_id is None:
                    self._fetch_project_id()
                self._drain()
                if self._closed and not self._queue:
                    return
            except Exception:  # the sender must survive anything
                self._internal_error("sender")
                if self._abort.wait(min(self.flush_interval, 1.0)):
                    return

    def _drain(self) -> None:
        """Send everything queued, one request after the other, in order."""
        while not self._abort.is_set():
            batch = self._take()
            if not batch:
                return
            try:
                self._deliver(batch)
            finally:
                with self._progress:
                    self._finished += len(batch)
                    self._progress.notify_all()

    def _take(self) -> list[_Queued]:
        with self._lock:
            queue = self._queue
            return [queue.popleft() for _ in range(min(len(queue), self.max_batch))]

    def _drop_remaining(self) -> None:
        with self._progress:
            left = len(self._queue)
            self._queue.clear()
            self._dropped += left
            self._finished += left
            self._progress.notify_all()
        if left:
            self._report("dropped_at_shutdown", f"AgentLoop dropped {left} undelivered items at shutdown")

    def _deliver(self, batch: list[_Queued]) -> None:
        """Encode and send one batch, in requests of at most ``max_batch_bytes``; the halves of a
        request the server finds too large (413) go one after the other."""
        chunks: list[list[_Item]] = []
        chunk: list[_Item] = []
        size = 0
        for index, (kind, item_id, body) in enumerate(batch):
            if index % 16 == 15:
                time.sleep(0)  # let the app's threads have the GIL between items
            encoded = _encode(kind, item_id, body)
            if chunk and size + len(encoded) + 1 > self.max_batch_bytes:
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

    def _send_with_retries(self, items: list[_Item]) -> str | None:
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
            if attempt > self.max_retries:
                self._count("failed", pending)
                self._report("gave_up", f"AgentLoop gave up on {len(pending)} items after "
                             f"{self.max_retries} retries ({reason})", items=_refs(pending))
                return None
            with self._lock:
                self._retries += 1
            delay = retry_after if retry_after is not None else full_jitter(
                attempt, base=self.retry_backoff_base, cap=self.retry_backoff_max
            )
            logger.debug("agentloop: retry %d of %d items in %.2fs (%s)", attempt, len(pending), delay, reason)
            if self._sleep(delay):
                self._drop(pending)
                return None

    def _post(self, items: list[_Item]) -> Response:
        body = gzip.compress(b'{"batch":[' + b",".join(item[2] for item in items) + b"]}", compresslevel=6)
        timeout = self.timeout
        if self._deadline is not None:
            timeout = max(min(timeout, self._deadline - time.monotonic()), 0.1)
        return self._transport.request("POST", self.host + INGEST_PATH, headers=self._headers, body=body,
                                       timeout=timeout)

    def _apply_results(self, items: list[_Item], response: Response) -> list[_Item]:
        """Count a 2xx answer's per-item results; return the items to retry (429/5xx)."""
        try:
            results = json.loads(response.body.decode("utf-8")).get("results") or []
            by_index = {r["index"]: r for r in results if isinstance(r, dict) and isinstance(r.get("index"), int)}
        except Exception:  # a 2xx means committed, even without a readable body
            by_index = {}
        retry: list[_Item] = []
        sent = 0
        for index, item in enumerate(items):
            result = by_index.get(index) or {}
            status = result.get("status")
            if not isinstance(status, int) or 200 <= status < 300:
                sent += 1
            elif status in (408, 429) or status >= 500:
                retry.append(item)
            else:
                with self._lock:
                    self._failed += 1
                code = str(result.get("code") or f"http_{status}")
                detail = result.get("message") or ""
                field = result.get("field")
                self._report(
                    code,
                    f"AgentLoop rejected a {item[0]} ({item[1]}): {code}"
                    + (f" on {field}" if field else "") + (f": {detail}" if detail else ""),
                    status=status, items=(item[:2],),
                )
        with self._lock:
            self._sent += sent
        return retry

    def _reject_request(self, items: list[_Item], response: Response) -> None:
        status = response.status
        self._count("failed", items)
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 413: "payload_too_large"}.get(
            status, "redirect" if 300 <= status < 400 else f"http_{status}"
        )
        hints = {
            "unauthorized": "the API key is unknown or revoked",
            "forbidden": "the API key may not write to this project",
            "payload_too_large": "one item is larger than the server accepts",
            "redirect": f"{self.host} redirects; set host to the final URL (https?)",
        }
        detail = hints.get(code) or _error_message(response.body)
        self._report(code, f"AgentLoop ingest answered {status}; {len(items)} items not delivered: {detail}",
                     status=status, items=_refs(items))

    def _drop(self, items: Sequence[_Item]) -> None:
        """Items still undelivered when shutdown's time ran out."""
        self._count("dropped", items)
        self._report("dropped_at_shutdown", f"AgentLoop dropped {len(items)} undelivered items at shutdown",
                     items=_refs(items))

    def _count(self, counter: str, items: Sequence[_Item]) -> None:
        with self._lock:
            if counter == "failed":
                self._failed += len(items)
            else:
                self._dropped += len(items)

    def _stopping(self) -> bool:
        return self._abort.is_set() or (self._deadline is not None and time.monotonic() >= self._deadline)

    def _sleep(self, seconds: float) -> bool:
        """Wait between retries; True if the client is being shut down meanwhile and must stop."""
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining < seconds:
                self._abort.wait(max(remaining, 0.0))
                return True
        return self._abort.wait(seconds)

    # ------------------------------------------------------------------ errors

    def _report(
        self, code: str, message: str, *, status: int | None = None,
        items: Sequence[tuple[str, str]] = (), level: int = logging.WARNING,
    ) -> None:
        """Log once per code at ``level`` (later at DEBUG) and call ``on_error``."""
        if code in self._warned:
            logger.debug("%s", message)
        else:
            self._warned.add(code)
            logger.log(level, "%s", message)
        callback = self.on_error
        if callback is not None:
            try:
                callback(AgentLoopError(message, code=code, status=status, items=items))
            except Exception:
                logger.exception("agentloop: on_error callback raised")

    def _internal_error(self, where: str) -> None:
        try:
            logger.exception("agentloop: unexpected error in %s (ignored)", where)
            if self.on_error is not None:
                self.on_error(AgentLoopError(f"unexpected error in {where}", code="internal"))
        except Exception:
            pass


# ---------------------------------------------------------------------- helpers


def _turn_id(turn: Turn | str | uuid.UUID) -> str:
    return turn.id if isinstance(turn, Turn) else str(turn)


def _timestamp(value: dt.datetime | str | float) -> str:
    if isinstance(value, dt.datetime):
        return iso_datetime(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, _utc).isoformat()
    return str(value)


def _step(step: Any) -> Any:
    """A step dict without None values (the server wants strings, not nulls) and with an id."""
    if not isinstance(step, Mapping):
        return step
    cleaned = {key: value for key, value in step.items() if value is not None}
    if "id" not in cleaned:
        cleaned["id"] = _uuid4()
    else:
        cleaned["id"] = str(cleaned["id"])
    if "parent_id" in cleaned:
        cleaned["parent_id"] = str(cleaned["parent_id"])
    return cleaned


def _snapshot(value: Any) -> Any:
    """A shallow copy of a dict or list the caller may keep mutating (encoding comes later)."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def _encode(kind: str, item_id: str, body: dict[str, Any]) -> bytes:
    """The item as UTF-8 JSON (on the sender thread). Never raises."""
    timestamp = body.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str):
        try:
            body["timestamp"] = _timestamp(timestamp)
        except (ValueError, OverflowError, OSError):  # e.g. a NaN or out-of-range unix time
            body["timestamp"] = str(timestamp)
    text = dumps({"type": kind, "id": item_id, "body": body})
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the server would refuse the whole request
        return text.encode("utf-8", "replace")


def _refs(items: Sequence[_Item]) -> list[tuple[str, str]]:
    return [(item[0], item[1]) for item in items]


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body.decode("utf-8"))
        return str(data.get("message") or data.get("detail") or data.get("code") or "")[:300]
    except Exception:
        return body[:200].decode("utf-8", "replace")


# ---------------------------------------------------------------------- process lifecycle

_clients: weakref.WeakSet[AgentLoop] = weakref.WeakSet()


def _shutdown_all() -> None:
    for client in list(_clients):
        client.shutdown()


def _after_fork_in_child() -> None:
    for client in list(_clients):
        try:
            client._after_fork()
        except Exception:  # one client's failure must not stop the others
            pass


atexit.register(_shutdown_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
