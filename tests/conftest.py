"""Shared fixtures: two organizations with a project each, and one user per role in the first.

Real PostgreSQL and Redis (embedded under .data/test unless DATABASE_URL/REDIS_URL are set).
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from apps.core.roles import Role
from tests.factories.accounts import UserFactory
from tests.factories.organizations import MembershipFactory, OrganizationFactory
from tests.factories.projects import ProjectFactory, api_key_with_secret

ROLES = [Role.OWNER, Role.ADMIN, Role.REVIEWER, Role.MEMBER]


@pytest.fixture
def organization(db):
    return OrganizationFactory(name="Acme", slug="acme")


@pytest.fixture
def other_organization(db):
    return OrganizationFactory(name="Globex", slug="globex")


@pytest.fixture
def project(organization):
    return ProjectFactory(organization=organization, name="Support agent")


@pytest.fixture
def other_project(other_organization):
    return ProjectFactory(organization=other_organization, name="Other agent")


@pytest.fixture
def members(organization) -> dict[str, object]:
    """One membership per role in ``organization``, keyed by role."""
    return {role: MembershipFactory(organization=organization, role=role, user__email=f"{role}@acme.test") for role in ROLES}


@pytest.fixture
def owner(members):
    return members[Role.OWNER].user


@pytest.fixture
def outsider(other_organization):
    """A user who belongs only to the other organization."""
    return MembershipFactory(organization=other_organization, role=Role.OWNER, user__email="owner@globex.test").user


@pytest.fixture
def user_factory(db):
    return UserFactory


@pytest.fixture
def api_client():
    return APIClient()


def client_for(user, api: bool = False):
    """A logged-in test client (Django's for HTML, DRF's for the API); None means anonymous."""
    from django.test import Client

    client = APIClient() if api else Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def login():
    return client_for


@pytest.fixture(autouse=True)
def closed_redis_breakers():
    """Every test starts with Redis trusted again: a failure a test provoked (a refused publish)
    pauses the process's breakers (apps.core.redis.Breaker), which must not leak into the next."""
    from apps.core.redis import LIMITER
    from apps.core.tasks import BROKER

    BROKER.reset()
    LIMITER.reset()
    yield
    BROKER.reset()
    LIMITER.reset()


def key_client_for(project) -> APIClient:
    """A client holding a fresh secret API key of ``project`` (the key routes)."""
    _, secret = api_key_with_secret(project=project, name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def key_client(project) -> APIClient:
    return key_client_for(project)


def post_json(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")
