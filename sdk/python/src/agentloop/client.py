"""The AgentLoop client: log turns, feedback and signals; a background thread delivers them.

Contract (DESIGN.md, "SDK contract" and "HTTP contract"):

* ``log_turn``/``feedback``/``signal`` build the item's body and append it to a bounded
  in-memory queue. They never block on the network and never raise: errors are logged on the
  ``agentloop`` logger and passed to ``on_error``. A full queue drops the new item and counts it
  in ``stats["dropped"]``. JSON encoding happens on the sender thread, one item at a time (it
  is most of the cost); the top-level lists and dicts you pass (``history``, ``metadata``…) are
  copied at call time, so appending to your ``history`` afterwards does not change the logged
  turn, but objects nested inside them must not be mutated after logging.
* One daemon thread per client (``agentloop.sender``) batches the queue into
  ``POST {host}/api/v1/ingest`` (gzip JSON), at most ``max_batch`` items or about 4 MiB a
  request, every ``flush_interval`` seconds or as soon as a batch is full. A network error, 408, 429 or 5xx retries the whole request
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
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Callable, TypeVar, Union

from agentloop.errors import AgentLoopError
from agentloop.items import new_id, snapshot, step
from agentloop.prompts import Prompt, prompt_for
from agentloop.sender import Sender
from agentloop.signing import derive_signing_key, feedback_url, parse_api_key
from agentloop.transport import Transport
from agentloop.version import __version__

logger = logging.getLogger("agentloop")

DEFAULT_HOST = "http://localhost:8000"
AUTH_CHECK_PATH = "/api/v1/auth/check"
SERVER_MAX_BATCH = 1000  # items per request the server accepts (apps/traces/schemas.py)
USER_AGENT = f"agentloop-python/{__version__}"
AUTH_RETRY_SECONDS = 30.0
AUTH_REJECTED_RETRY_SECONDS = 300.0
TRUTHY = ("1", "true", "yes", "on")

ErrorCallback = Callable[[AgentLoopError], Any]
Rating = Union[str, int]

_time = time.time
_Client = TypeVar("_Client", bound="AgentLoop")


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
    #: Seconds a fetched prompt is served from memory before it is revalidated (agentloop.prompts).
    prompt_ttl = 60.0

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
        self._auth_retry_at = 0.0
        self._auth_lock = threading.Lock()
        self._sender = Sender(self)

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
            self._sender.start()

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
            turn_id = new_id() if id is None else str(id)
        except Exception:  # a broken id object must not raise into the app
            turn_id = new_id()
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
                body["signals"] = snapshot(signals)
            if history is not None:
                body["history"] = snapshot(history)
            if prompt_version is not None:
                body["prompt_version"] = str(prompt_version)
            if model is not None:
                body["model"] = str(model)
            if retrieved is not None:
                body["retrieved"] = snapshot(retrieved)
            if tool_calls is not None:
                body["tool_calls"] = snapshot(tool_calls)
            if extra:
                metadata = self._merge_extra(metadata, extra)
            if metadata is not None:
                body["metadata"] = snapshot(metadata)
            if variant is not None:
                body["variant"] = str(variant)
            body["timestamp"] = _time() if timestamp is None else timestamp  # made ISO 8601 when encoded
            if steps is not None:
                body["steps"] = [step(value) for value in steps]
            self._sender.enqueue("turn", turn_id, body)
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
            feedback_id = new_id() if id is None else str(id)
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
                body["signals"] = snapshot(signals)
            if user_id is not None:
                body["user_id"] = str(user_id)
            if metadata is not None:
                body["metadata"] = snapshot(metadata)
            self._sender.enqueue("feedback", feedback_id, body)
        except Exception:
            self._internal_error("feedback")
        return feedback_id

    def prompt(self, name: str, *, label: str | None = None, version: int | None = None,
               ttl: float | None = None) -> Prompt:
        """The prompt version ``label`` (default ``production``) or ``version`` names, cached (agentloop.prompts)."""
        return prompt_for(self, name, label, version, ttl)

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
            item_id = new_id()
            body = {"turn_id": _turn_id(turn_id), "kind": str(kind), "value": snapshot(value),
                    "dedupe_key": str(dedupe_key or "")}
            self._sender.enqueue("signal", item_id, body)
        except Exception:
            self._internal_error("signal")

    # Eval datasets (agentloop.datasets): synchronous calls that raise AgentLoopError on failure.
    def dataset(self, name: str, version: int | None = None):
        from agentloop import datasets

        return datasets.dataset(self, name, version)

    def add_cases(self, name: str, cases, *, message: str = "") -> dict:
        from agentloop import datasets

        return datasets.add_cases(self, name, cases, message=message)

    def create_dataset(self, name: str, description: str = "") -> dict:
        from agentloop import datasets

        return datasets.create_dataset(self, name, description)

    # Offline experiments (agentloop.experiments): synchronous, raise AgentLoopError on failure.
    def run_experiment(self, dataset: str, *, task, version: int | None = None, prompt=None, scorers=None,
                       concurrency: int = 8, experiment_id: int | None = None, name: str | None = None,
                       batch_size: int = 100, progress: bool = True, wait: float = 60.0) -> dict:
        from agentloop import experiments

        return experiments.run_experiment(self, dataset, task=task, version=version, prompt=prompt, scorers=scorers,
                                          concurrency=concurrency, experiment_id=experiment_id, name=name,
                                          batch_size=batch_size, progress=progress, wait=wait)

    def experiment(self, experiment_id: int) -> dict:
        from agentloop import experiments

        return experiments.experiment(self, experiment_id)

    # Validations (agentloop.validations): start one and wait for its verdict, or read one.
    def validate(self, **body: Any) -> dict:
        from agentloop import validations

        return validations.validate(self, **body)

    def validation(self, validation_id: int) -> dict:
        from agentloop import validations

        return validations.validation(self, validation_id)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued before this call is delivered, rejected or dropped.

        Returns ``True`` when it all was, ``False`` if ``timeout`` (seconds) ran out first or the
        client cannot send (shut down, or called from an ``on_error`` callback). Never raises.
        """
        if not self.enabled:
            return True
        try:
            return self._sender.flush(timeout)
        except Exception:
            self._internal_error("flush")
            return False

    def shutdown(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (for up to ``timeout`` seconds) and stop the sender thread.

        Items still undelivered then are counted as dropped; calls after this drop their items.
        Runs automatically at interpreter exit. Idempotent; never raises.
        """
        try:
            if self._sender.closed:
                return
            if not self.enabled:
                self._sender.closed = True
                return
            self._sender.close(timeout)
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
        return self._sender.stats()

    # ------------------------------------------------------------------ internals

    def _after_fork(self) -> None:
        self._auth_lock = threading.Lock()
        self._sender.reset()

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
