"""Redis for the web tier: the client (rate limiter, heartbeat, /healthz) and the breakers that
keep a hung or dead Redis from holding up a request.

Redis is never the record here (PostgreSQL is): a request that cannot reach it goes on without
it. Two things bound what an outage costs a request. Every Redis socket (this client, the cache,
the Celery broker transport) gives up after ``settings.REDIS_TIMEOUT_SECONDS``. And after one
failure, a ``Breaker`` skips Redis for ``PAUSE_SECONDS`` in this process, so a dead or frozen
Redis costs one request one timeout per pause, not every request a timeout. Failures are counted
in the process (not in Redis, which is what is down) and shown on ``/healthz``.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

import redis
from django.conf import settings
from django.utils import timezone

PAUSE_SECONDS = 10.0


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    timeout = settings.REDIS_TIMEOUT_SECONDS
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)


class Breaker:
    """A circuit breaker over one use of Redis, for this process.

    ``allows()`` is false for ``pause_seconds`` after ``fail()``; the first call after the pause
    tries Redis again (one failure pauses it again). Callers must have a fallback for what they
    skip: the limiter fails open, a task publish leaves its work to a sweep.
    """

    def __init__(self, *, pause_seconds: float = PAUSE_SECONDS):
        self.pause_seconds = pause_seconds
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self.failures = 0
        self.skipped = 0
        self.last_failure = None
        self.last_error = None

    def allows(self) -> bool:
        if time.monotonic() >= self._paused_until:
            return True
        with self._lock:
            self.skipped += 1
        return False

    def fail(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            self.last_failure = timezone.now()
            self.last_error = f"{type(error).__name__}: {error}"[:300]
            self._paused_until = time.monotonic() + self.pause_seconds

    def reset(self) -> None:
        """Forget the failures and close the breaker (tests)."""
        with self._lock:
            self._paused_until, self.failures, self.skipped = 0.0, 0, 0
            self.last_failure = self.last_error = None

    def as_dict(self) -> dict:
        return {
            "failures": self.failures,
            "skipped": self.skipped,
            "last_failure": self.last_failure.isoformat() if self.last_failure else None,
            "last_error": self.last_error,
            "paused": time.monotonic() < self._paused_until,
        }


# The rate limiter's breaker (``apps.core.ratelimit``); the broker's is ``apps.core.tasks.BROKER``.
LIMITER = Breaker()
