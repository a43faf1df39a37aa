"""The resolved-prompt cache behind ``GET /api/v1/prompts/{name}``: correct across processes.

Each prompt has a **generation** counter in Redis (``…:gen``); a cached answer (for a label, a
version or "latest") is stored with the generation that was current *before* the database was
read. A read fetches both keys in one ``MGET`` and uses the answer only if its generation is the
current one. Every write that changes an answer (a new version, a label move) increments the
generation **after its transaction commits**, so:

- a reader that started before the commit may store an old answer, but under the old
  generation, which no reader uses any more;
- a reader that sees the new generation reads the database after the commit.

Answers are never stored from inside a transaction (what it reads may still roll back), and
expire after ``TTL_SECONDS`` anyway. Redis is not the record: when it is unreachable the
breaker skips it for a few seconds and the database answers every request.
"""

from __future__ import annotations

import logging

from django.db import connection, transaction

from apps.core.redis import Breaker, redis_client

logger = logging.getLogger(__name__)

TTL_SECONDS = 300
BREAKER = Breaker()


def _base(project_id, name: str) -> str:
    return f"agentloop:prompt:{project_id}:{name}"


def get(project_id, name: str, selector: str) -> tuple[bytes | None, tuple[str, bytes] | None]:
    """(current generation, cached (etag, body) or None). A generation of None: Redis skipped."""
    if not BREAKER.allows():
        return None, None
    base = _base(project_id, name)
    try:
        generation, entry = redis_client().mget([f"{base}:gen", f"{base}:{selector}"])
    except Exception as error:  # noqa: BLE001 - Redis down or slow: the database answers
        BREAKER.fail(error)
        logger.warning("prompt cache unavailable: %s", error)
        return None, None
    generation = generation or b"0"
    if entry:
        stored, _, rest = entry.partition(b"\n")
        if stored == generation:
            etag, _, body = rest.partition(b"\n")
            return generation, (etag.decode(), body)
    return generation, None


def put(project_id, name: str, selector: str, generation: bytes | None, etag: str, body: bytes) -> None:
    """Store an answer read under ``generation`` (never from inside a transaction)."""
    if generation is None or connection.in_atomic_block or not BREAKER.allows():
        return
    try:
        redis_client().set(f"{_base(project_id, name)}:{selector}", generation + b"\n" + etag.encode() + b"\n" + body, ex=TTL_SECONDS)
    except Exception as error:  # noqa: BLE001
        BREAKER.fail(error)


def _bump(project_id, name: str) -> None:
    try:
        redis_client().incr(f"{_base(project_id, name)}:gen")
    except Exception as error:  # noqa: BLE001 - answers stored before expire within TTL_SECONDS
        BREAKER.fail(error)
        logger.warning("prompt cache generation not bumped for %s/%s: %s", project_id, name, error)


def invalidate_on_commit(project_id, name: str) -> None:
    """Every cached answer of this prompt is stale once the current transaction commits."""
    transaction.on_commit(lambda: _bump(project_id, name))
