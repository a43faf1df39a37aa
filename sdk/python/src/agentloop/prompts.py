"""Versioned prompts fetched at run time: ``loop.prompt("support-agent", label="production")``.

``GET {host}/api/v1/prompts/{name}?label=…`` (or ``?version=N``) answers the version with a
strong ``ETag``. Each client keeps the answers it fetched, per (name, label | version):

* **Fresh** (fetched or revalidated less than ``ttl`` seconds ago, default
  ``AgentLoop.prompt_ttl`` = 60, or ``AGENTLOOP_PROMPT_TTL``): returned from memory. A fresh hit
  takes no lock and makes no request: a dict lookup and a clock read on the caller's thread.
* **Stale**: the calling thread revalidates with ``If-None-Match`` (a 304 costs no body); other
  threads asking for the same prompt meanwhile wait for that one request rather than send their own.
  A label moved on the server therefore reaches every agent within ``ttl`` seconds.
* **Server unreachable** (network error, timeout, 429, 5xx): the last good copy is served and
  retried after ``retry_seconds`` (5 s); with no copy yet, ``PromptUnavailable`` is raised.
* The server's refusals are raised: ``PromptNotFound`` (404: no such prompt, label or version),
  ``PromptError`` with the server's code otherwise (401 bad key, 400 bad name…).

Unlike logging, fetching a prompt raises: an agent cannot run without its prompt, and a clear
error beats an empty template.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from agentloop.errors import AgentLoopError

DEFAULT_TTL = 60.0
RETRY_SECONDS = 5.0
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_monotonic = time.monotonic


class PromptError(AgentLoopError):
    """A prompt could not be fetched or rendered; ``code`` says why."""


class PromptNotFound(PromptError):
    """The server has no such prompt, label or version (404)."""


class PromptUnavailable(PromptError):
    """The server could not be reached and no earlier copy of this prompt is cached."""


class PromptRenderError(PromptError, KeyError):
    """``render`` was called without a value for every ``{{variable}}`` of the template."""

    def __str__(self) -> str:
        return self.message


class Prompt:
    """One prompt version as the server answered it (read-only)."""

    __slots__ = ("name", "version", "labels", "template", "variables", "tools", "settings", "message", "created_at", "etag")

    def __init__(self, body: Mapping[str, Any], etag: str) -> None:
        self.name: str = body["name"]
        self.version: int = body["version"]
        self.labels: list = list(body.get("labels") or [])
        self.template: str = body["template"]
        self.variables: list = list(body.get("variables") or [])
        self.tools: list = body.get("tools") or []
        self.settings: dict = body.get("settings") or {}
        self.message: str = body.get("message") or ""
        self.created_at: str = body.get("created_at") or ""
        self.etag = etag

    @property
    def reference(self) -> str:
        """What to log as ``prompt_version`` for turns that used this version: ``<name>@<n>``."""
        return f"{self.name}@{self.version}"

    def render(self, **variables: Any) -> str:
        """The template with every ``{{name}}`` replaced by ``str(variables[name])``.

        A variable missing from ``variables`` raises ``PromptRenderError`` naming all of them;
        extra keyword arguments are ignored.
        """
        missing = [name for name in self.variables if name not in variables]
        if not missing:
            missing = [name for name in dict.fromkeys(_VARIABLE.findall(self.template)) if name not in variables]
        if missing:
            raise PromptRenderError(
                f"{self.reference} needs {', '.join(missing)}: pass {', '.join(f'{m}=…' for m in missing)} to render()",
                code="missing_variables",
            )
        return _VARIABLE.sub(lambda match: str(variables[match.group(1)]), self.template)

    def __repr__(self) -> str:
        return f"Prompt({self.reference!r}, labels={self.labels!r})"


class _Entry:
    """A cached answer: when it was last confirmed by the server, and (after a failed
    revalidation) until when it is served without trying again."""

    __slots__ = ("prompt", "checked_at", "hold_until")

    def __init__(self, prompt: Prompt, checked_at: float, hold_until: float = 0.0) -> None:
        self.prompt = prompt
        self.checked_at = checked_at
        self.hold_until = hold_until


class PromptCache:
    """The per-client cache (see the module doc). Entries are replaced, never mutated, so a reader
    without the lock always sees a whole entry."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._env_ttl = _env_ttl()
        self._entries: dict[tuple, _Entry] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lifetime(self, ttl: float | None) -> float:
        if ttl is not None:
            return ttl
        return self._env_ttl if self._env_ttl is not None else self._client.prompt_ttl

    def _fresh(self, entry: _Entry | None, ttl: float | None) -> bool:
        if entry is None:
            return False
        now = _monotonic()
        return now < entry.hold_until or now - entry.checked_at < self._lifetime(ttl)

    def get(self, name: str, label: str | None, version: int | None, ttl: float | None) -> Prompt:
        key = (name, label, version)
        entry = self._entries.get(key)
        if entry is not None:
            now = _monotonic()
            lifetime = ttl if ttl is not None else (self._env_ttl if self._env_ttl is not None else self._client.prompt_ttl)
            if now - entry.checked_at < lifetime or now < entry.hold_until:
                return entry.prompt
        return self._refresh(key, ttl)

    def _lock(self, key: tuple) -> threading.Lock:
        lock = self._locks.get(key)
        if lock is None:
            with self._locks_lock:
                lock = self._locks.setdefault(key, threading.Lock())
        return lock

    def _refresh(self, key: tuple, ttl: float | None) -> Prompt:
        with self._lock(key):
            entry = self._entries.get(key)
            if self._fresh(entry, ttl):
                return entry.prompt  # another thread revalidated it while this one waited
            try:
                status, headers, body = self._fetch(key, entry.prompt.etag if entry else None)
            except Exception as error:  # noqa: BLE001 - any network failure: serve the last good copy
                return self._fallback(key, entry, f"could not reach {self._client.host}: {error}", "unreachable")
            if status == 304 and entry is not None:
                self._entries[key] = _Entry(entry.prompt, _monotonic())
                return entry.prompt
            if status == 200:
                try:
                    prompt = Prompt(json.loads(body.decode("utf-8")), headers.get("etag", ""))
                except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
                    return self._fallback(key, entry, f"unreadable answer: {error}", "bad_response")
                self._entries[key] = _Entry(prompt, _monotonic())
                return prompt
            if status == 429 or status >= 500 or status == 304:
                return self._fallback(key, entry, f"the server answered {status}", f"http_{status}")
            raise self._refusal(key, status, body)

    def _fallback(self, key: tuple, entry: _Entry | None, reason: str, code: str) -> Prompt:
        name, label, version = key
        if entry is None:
            raise PromptUnavailable(f"Prompt {_describe(name, label, version)} is not cached and {reason}", code=code)
        self._entries[key] = _Entry(entry.prompt, entry.checked_at, _monotonic() + RETRY_SECONDS)
        self._client._report("prompt_stale", f"Serving the cached {entry.prompt.reference}: {reason}")
        return entry.prompt

    def _refusal(self, key: tuple, status: int, body: bytes) -> PromptError:
        name, label, version = key
        try:
            error = json.loads(body.decode("utf-8"))
            code, message = str(error.get("code") or f"http_{status}"), str(error.get("message") or "")
        except (ValueError, AttributeError, UnicodeDecodeError):
            code, message = f"http_{status}", ""
        kind = PromptNotFound if status == 404 else PromptError
        return kind(f"Prompt {_describe(name, label, version)}: {message or f'HTTP {status}'}", code=code, status=status)

    def _fetch(self, key: tuple, etag: str | None):
        name, label, version = key
        client = self._client
        query = urllib.parse.urlencode({"label": label} if label is not None else {"version": version})
        headers = {"Authorization": f"Bearer {client._api_key}", "Accept": "application/json",
                   "User-Agent": client._headers.get("User-Agent", "agentloop-python")}
        if etag:
            headers["If-None-Match"] = etag
        url = f"{client.host}/api/v1/prompts/{urllib.parse.quote(name, safe='')}?{query}"
        response = client._transport.request("GET", url, headers=headers, timeout=min(client.timeout, 10.0))
        return response.status, response.headers, response.body


def _env_ttl() -> float | None:
    value = os.environ.get("AGENTLOOP_PROMPT_TTL")
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _describe(name: str, label: str | None, version: int | None) -> str:
    return f"{name!r} (label {label!r})" if label is not None else f"{name!r} (version {version})"


_create_lock = threading.Lock()


def prompt_for(client: Any, name: str, label: str | None = None, version: int | None = None, ttl: float | None = None) -> Prompt:
    """``AgentLoop.prompt``: the client's cache (made on first use), asked for one prompt."""
    cache = client.__dict__.get("_prompt_cache")
    if cache is None:
        if not isinstance(name, str) or not name:
            raise ValueError("name is the prompt's name")
        with _create_lock:
            cache = client.__dict__.setdefault("_prompt_cache", PromptCache(client))
    if version is None and label is None:
        label = "production"
    elif version is not None and label is not None:
        raise ValueError("Ask for a label or a version, not both")
    elif version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise ValueError("version is a positive whole number")
    return cache.get(name, label, version, ttl)
