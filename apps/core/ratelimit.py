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


# A token bucket per key: ``capacity`` tokens, refilled continuously at ``rate`` per second.
# Taking a token is one script run (atomic across workers); an empty bucket answers how long
# until the next token instead of counting the miss.
_TAKE = """
local rate, capacity, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return tostring(wait)
"""


def take_token(bucket: str, *, per_minute: int) -> float:
    """Take one token from ``bucket`` (``per_minute`` tokens a minute, bursts up to that many);
    returns 0 when taken, else the seconds until one will be there (nothing taken).

    Fails *closed* (answers a minute's wait) when Redis is unavailable: this limit protects a
    customer's paid endpoint, so an outage must defer calls rather than let them through.
    """
    import time

    from apps.core.redis import redis_client

    per_minute = max(int(per_minute), 1)
    try:
        wait = redis_client().eval(_TAKE, 1, f"agentloop:tb:{bucket}", per_minute / 60, per_minute, time.time())
    except Exception:  # noqa: BLE001 - reported as a wait, see the docstring
        logger.warning("token bucket unavailable; deferring %s", bucket, exc_info=True)
        return 60.0
    return float(wait)
