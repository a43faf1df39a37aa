"""Fixed-window rate limits in Redis (one INCR per check). Fails open if Redis is down or hung:
the database is the source of truth, and ingestion must not stop because the limiter did. A check
waits at most ``settings.REDIS_TIMEOUT_SECONDS``, and after a failure the limiter is skipped for a
pause (``apps.core.redis.LIMITER``), so an outage costs one request per pause that timeout."""

from __future__ import annotations

import logging

from apps.core.errors import ServiceError

logger = logging.getLogger(__name__)


class RateLimited(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def hit(bucket: str, *, limit: int, window: int) -> tuple[bool, int]:
    """Count one hit; returns (allowed, seconds until the window resets).

    The window opens at a bucket's first hit (SET NX with a TTL), so a burst is never split
    across two windows by the clock.
    """
    from apps.core.redis import LIMITER, redis_client

    if not LIMITER.allows():
        return True, 0
    key = f"agentloop:rl:{bucket}"
    try:
        pipe = redis_client().pipeline()
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
    except Exception as error:  # noqa: BLE001 - a limiter outage must not become an ingestion outage
        LIMITER.fail(error)
        logger.warning("rate limiter unavailable; allowing %s", bucket, exc_info=True)
        return True, 0
    return count <= limit, max(int(ttl), 1)


def enforce(bucket: str, *, limit: int, window: int, what: str = "requests") -> None:
    allowed, reset = hit(bucket, limit=limit, window=window)
    if not allowed:
        raise RateLimited(f"Too many {what}; retry in {max(reset, 1)} s.", retry_after=max(reset, 1))


def retry_after(bucket: str, *, limit: int) -> int:
    """Seconds until ``bucket`` (counted by ``hit``) is under ``limit`` again; 0 if it is now.

    Reads without counting, for limits on outcomes (a failed sign-in counts, a successful one
    does not): check before acting, ``hit`` after a failure. Fails open like ``hit``.
    """
    from apps.core.redis import redis_client

    key = f"agentloop:rl:{bucket}"
    try:
        count, ttl = redis_client().pipeline().get(key).ttl(key).execute()
    except Exception:  # noqa: BLE001 - a limiter outage must not become a sign-in outage
        logger.warning("rate limiter unavailable; allowing %s", bucket, exc_info=True)
        return 0
    if count is None or int(count) < limit:
        return 0
    return max(int(ttl), 1)
