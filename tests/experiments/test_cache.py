"""The resolved-prompt cache in Redis: used while current, invalidated by a committed label move or
version, never filled from inside a transaction, bypassed when Redis is unreachable."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from apps.core.redis import redis_client
from apps.experiments import cache
from apps.experiments.selectors.prompts import prompt_resolve
from apps.experiments.services.labels import prompt_label_move
from tests.factories.experiments import AUTHOR, prompt_version, prompt_with_versions


def _cached_keys(project) -> list[bytes]:
    return sorted(redis_client().keys(f"agentloop:prompt:{project.pk}:*"))


def _answers(project) -> list[bytes]:
    return [key for key in _cached_keys(project) if not key.endswith(b":gen")]


@pytest.fixture(autouse=True)
def clean(project):
    yield
    keys = _cached_keys(project)
    if keys:
        redis_client().delete(*keys)
    cache.BREAKER.reset()


@pytest.mark.django_db(transaction=True)
def test_an_answer_is_cached_and_a_committed_label_move_invalidates_it(project):
    prompt = prompt_with_versions(project=project, count=2, labels={"production": 1})

    first = prompt_resolve(project=project, name="support-agent", label="production")
    cached = redis_client().get(f"agentloop:prompt:{project.pk}:support-agent:l:production")
    prompt_label_move(prompt=prompt, name="production", version=2, author=AUTHOR, role=None)
    moved = prompt_resolve(project=project, name="support-agent", label="production")

    assert cached is not None and cached.endswith(first.body)
    assert json.loads(first.body)["version"] == 1
    assert json.loads(moved.body)["version"] == 2
    assert moved.etag != first.etag


@pytest.mark.django_db(transaction=True)
def test_a_new_version_invalidates_latest_and_version_answers(project):
    prompt_with_versions(project=project, count=1, labels={"production": 1})
    before = json.loads(prompt_resolve(project=project, name="support-agent").body)

    prompt_version(project=project)
    after = json.loads(prompt_resolve(project=project, name="support-agent").body)

    assert (before["version"], after["version"]) == (1, 2)


@pytest.mark.django_db(transaction=True)
def test_nothing_is_cached_from_inside_a_transaction(project):
    prompt_with_versions(project=project, count=1, labels={"production": 1})

    with transaction.atomic():
        prompt_resolve(project=project, name="support-agent", label="production")

    assert _answers(project) == []


@pytest.mark.django_db(transaction=True)
def test_with_redis_unreachable_the_database_answers(project, settings):
    prompt_with_versions(project=project, count=1, labels={"production": 1})
    cache.BREAKER.fail(ConnectionError("redis down"))

    answer = prompt_resolve(project=project, name="support-agent", label="production")

    assert json.loads(answer.body)["version"] == 1
    assert _answers(project) == []
