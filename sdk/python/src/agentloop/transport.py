"""HTTP for the sender thread: urllib (proxies from the environment, TLS), no redirects.

A redirect is not followed: urllib would turn a redirected POST into a GET and a 200 page would
look like a delivery. The sender reports it instead (point ``host`` at the final URL).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, NamedTuple

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_RETRY_AFTER = 600.0


class Response(NamedTuple):
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: Any) -> None:
        return None


class Transport:
    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(_NoRedirect())

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None, timeout: float
    ) -> Response:
        """Any HTTP status is a Response; network failures raise (OSError, HTTPException…)."""
        request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return Response(response.status, _headers(response.headers), response.read(MAX_RESPONSE_BYTES))
        except urllib.error.HTTPError as error:
            try:
                content = error.read(MAX_RESPONSE_BYTES)
            except Exception:  # the status is what matters
                content = b""
            finally:
                error.close()
            return Response(error.code, _headers(error.headers), content)


def _headers(message: Any) -> dict[str, str]:
    return {} if message is None else {str(name).lower(): str(value) for name, value in message.items()}


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def full_jitter(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""
    return random.uniform(0.0, min(cap, base * (2 ** max(attempt - 1, 0))))
