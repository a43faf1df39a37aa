"""Finding 4 of issue 9: a request never waits on a hung or dead broker.

A real ``redis-server`` is frozen with SIGSTOP (the kernel still accepts connections, nothing
answers) or killed; a Celery app configured from the project's settings publishes to it.
"""

import threading
import time

import pytest
import redis
from celery import Celery

from apps.core import ratelimit
from apps.core.redis import LIMITER, redis_client
from apps.core.tasks import BROKER, publish
from config.celery_app import app as product_app
from config.embedded import free_port
from tests.faults.processes import Redis



@pytest.fixture
def frozen_redis(tmp_path):
    server = Redis(tmp_path)
    server.start()
    server.freeze()
    yield server
    server.kill()


def _app_on(url: str):
    """A Celery app with the project's broker settings, on ``url``."""
    app = Celery("probe", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = url
    app.conf.task_queues = product_app.conf.task_queues  # the product's queues and routes
    app.conf.task_routes = product_app.conf.task_routes
    return app


def _timed_publish(via, **kwargs) -> tuple[bool | None, float]:
    """Publish on a thread so a publish that hangs fails the test instead of hanging it."""
    outcome = {}
    started = time.perf_counter()
    thread = threading.Thread(target=lambda: outcome.update(sent=publish("detection.detect_turns", kwargs, via=via)), daemon=True)
    thread.start()
    thread.join(timeout=5)
    return outcome.get("sent"), time.perf_counter() - started


def test_a_publish_to_a_frozen_broker_gives_up_within_the_timeout_then_pauses(frozen_redis):
    via = _app_on(frozen_redis.url)

    first, first_seconds = _timed_publish(via, project_id="p", turn_ids=["t"])
    second, second_seconds = _timed_publish(via, project_id="p", turn_ids=["t"])

    assert first is False and first_seconds < 1.5
    assert second is False and second_seconds < 0.05
    assert (BROKER.failures, BROKER.skipped) == (1, 1)
    assert BROKER.last_error.startswith("OperationalError")


def test_a_publish_to_a_dead_broker_fails_at_once_and_is_counted():
    via = _app_on(f"redis://127.0.0.1:{free_port()}/0")

    sent, seconds = _timed_publish(via, project_id="p", turn_ids=["t"])
    BROKER._paused_until = 0.0  # the pause over: the next publish tries the broker again
    again, again_seconds = _timed_publish(via, project_id="p", turn_ids=["t"])

    assert (sent, again) == (False, False)
    assert seconds < 0.5 and again_seconds < 0.5
    assert (BROKER.failures, BROKER.skipped) == (2, 0)


def test_a_publish_to_a_live_broker_is_sent(tmp_path):
    server = Redis(tmp_path)
    server.start()
    try:
        sent, _ = _timed_publish(_app_on(server.url), project_id="p", turn_ids=["t"])
        queued = redis.Redis.from_url(server.url).llen("detect")  # detection.* goes to the detect queue
    finally:
        server.kill()

    assert sent is True
    assert queued == 1
    assert (BROKER.failures, BROKER.skipped) == (0, 0)


def test_the_rate_limiter_fails_open_within_the_timeout_on_a_frozen_redis_then_skips_it(frozen_redis, settings):
    settings.REDIS_URL = frozen_redis.url
    redis_client.cache_clear()
    try:
        started = time.perf_counter()
        first = ratelimit.hit("key:frozen", limit=1, window=1)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        second = ratelimit.hit("key:frozen", limit=1, window=1)
        second_seconds = time.perf_counter() - started
    finally:
        redis_client.cache_clear()

    assert (first, second) == ((True, 0), (True, 0))
    assert first_seconds < 1.5
    assert second_seconds < 0.05
    assert (LIMITER.failures, LIMITER.skipped) == (1, 1)
