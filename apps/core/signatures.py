"""Signed calls to customer endpoints: ``AgentLoop-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256 over ``"<t>." + body`` (the raw request body bytes) keyed by the endpoint's
secret; the receiver recomputes it, compares in constant time and refuses a ``t`` older than its
tolerance (a replayed request). Experiments' task endpoints use it now; webhooks will share it.

``post_signed`` is the caller: HTTPS only, a per-call timeout, retries with exponential backoff
on connection errors, timeouts, 429 and 5xx (never on other 4xx), and a refusal of endpoints
that resolve to loopback, private, link-local or reserved addresses (the worker must not be
turned into a probe of its own network) unless ``AGENTLOOP_ALLOW_PRIVATE_ENDPOINTS`` is set —
for self-hosted agents on the same network and for tests.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings

SIGNATURE_HEADER = "AgentLoop-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value for ``body`` sent at ``timestamp`` (now by default)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = DEFAULT_TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of ``now``."""
    parts = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class EndpointRefused(ValueError):
    """The URL may not be called (scheme or address); the message says why."""


def check_endpoint(url: str) -> str:
    """``url`` if the worker may call it (module doc), else ``EndpointRefused``."""
    allow_private = getattr(settings, "ALLOW_PRIVATE_ENDPOINTS", False)
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise EndpointRefused("The endpoint must be an https:// URL.")
    if not parts.hostname:
        raise EndpointRefused("The endpoint URL has no host.")
    if parts.username or parts.password:
        raise EndpointRefused("Put credentials in the endpoint's secret, not in its URL.")
    if allow_private:
        return url
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)}
    except socket.gaierror:
        raise EndpointRefused(f"The endpoint's host {parts.hostname!r} does not resolve.") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global:
            raise EndpointRefused(f"The endpoint's host resolves to a non-public address ({ip}).")
    return url


@dataclass(frozen=True)
class SignedResponse:
    status: int
    body: bytes
    attempts: int


class EndpointFailed(RuntimeError):
    def __init__(self, message: str, attempts: int):
        super().__init__(message)
        self.attempts = attempts


def post_signed(url: str, body: bytes, *, secret: str, timeout: float = 10.0, attempts: int = 3,
                backoff: float = 0.5, session: requests.Session | None = None) -> SignedResponse:
    """POST ``body`` (JSON) signed with ``secret``; retried as the module doc says."""
    return post_json(url, body, headers=lambda: {SIGNATURE_HEADER: sign(secret, body)}, timeout=timeout,
                     attempts=attempts, backoff=backoff, session=session)


def post_json(url: str, body: bytes, *, headers, timeout: float = 10.0, attempts: int = 3,
              backoff: float = 0.5, session: requests.Session | None = None) -> SignedResponse:
    """POST ``body`` (JSON) to a checked endpoint with the module doc's retries; ``headers()`` is
    called per attempt (a signature carries the time it was made)."""
    check_endpoint(url)
    http = session or requests
    last = ""
    for attempt in range(1, attempts + 1):
        sent = {"Content-Type": "application/json", "User-Agent": "AgentLoop-Worker", **headers()}
        try:
            response = http.post(url, data=body, headers=sent, timeout=timeout, allow_redirects=False)
        except requests.Timeout:
            last = f"no answer within {timeout:g} s"
        except requests.RequestException as error:
            last = f"connection failed: {error.__class__.__name__}"
        else:
            content = response.content[:1_000_000]
            if response.status_code < 400 or (response.status_code < 500 and response.status_code != 429):
                return SignedResponse(response.status_code, content, attempt)
            last = f"answered {response.status_code}"
        if attempt < attempts:
            time.sleep(backoff * 2 ** (attempt - 1))
    raise EndpointFailed(f"The endpoint {last} (after {attempts} attempts).", attempts)
