"""Link signing keys are sealed at rest: a database dump alone cannot sign feedback links."""

import time

import pytest
from django.db import connection
from django.test import Client

from apps.core.sealing import Unsealable, seal, unseal
from apps.feedback.signing import make_token
from apps.projects.models import derive_signing_key
from apps.core.audit import Actor
from apps.projects.models import ApiKey
from apps.projects.services import api_key_create
from apps.traces.models import Feedback
from tests.factories.accounts import UserFactory
from tests.factories.projects import api_key_with_secret


def _link(api_key, signing_key) -> str:
    token = make_token(signing_key=signing_key, exp=int(time.time()) + 600, key_id=api_key.key_id,
                       project_id=str(api_key.project_id), turn_id="11111111-1111-4111-8111-111111111111", user_id="u1")
    return f"/f/{token}"


@pytest.mark.django_db
def test_a_new_key_stores_its_signing_key_sealed(project):
    # When a key is created through the service
    api_key, secret = api_key_create(project=project, name="prod", actor=Actor(user=UserFactory()))

    # Then the row does not hold the derived key, and the model opens it
    with connection.cursor() as cursor:
        cursor.execute("SELECT signing_key FROM projects_apikey WHERE id = %s", [api_key.pk])
        stored = bytes(cursor.fetchone()[0])
    assert derive_signing_key(secret) not in stored
    assert len(stored) == 61
    assert ApiKey.all_tenants.get(pk=api_key.pk).link_signing_key() == derive_signing_key(secret)


@pytest.mark.django_db
def test_a_sealed_key_copied_onto_another_key_does_not_open_there(project):
    # Given two keys, the second row given the first row's sealed value
    (first, _), (second, _) = api_key_with_secret(project=project), api_key_with_secret(project=project)
    ApiKey.all_tenants.filter(pk=second.pk).update(signing_key=first.signing_key)
    second.refresh_from_db()

    # Then it does not unseal, and links signed with the first key's signing key fail for the second
    with pytest.raises(Unsealable):
        second.link_signing_key()
    response = Client().get(_link(second, first.link_signing_key()), HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "link_invalid_signature"


@pytest.mark.django_db
def test_rotating_the_secret_key_keeps_links_working_through_the_fallbacks(project, settings):
    # Given a key sealed under the current secret key, and a valid link for it
    api_key, secret = api_key_with_secret(project=project)
    url = _link(api_key, derive_signing_key(secret))

    # When the secret key is rotated with the old one kept as a fallback
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40

    # Then the link still works and feedback is stored
    response = Client().post(url, {"rating": "down"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert Feedback.objects.for_project(project).count() == 1

    # And without the fallback the link is refused (never a server error), storing nothing more
    settings.SECRET_KEY_FALLBACKS = []
    refused = Client().post(url, {"rating": "up"}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "link_invalid_signature"
    assert Feedback.objects.for_project(project).count() == 1


def test_sealing_is_bound_to_its_context_and_rejects_anything_else(settings):
    sealed = seal(b"k" * 32, context="api-key-signing:a")

    assert unseal(sealed, context="api-key-signing:a") == b"k" * 32
    assert seal(b"k" * 32, context="api-key-signing:a") != sealed  # a fresh nonce each time
    for bad, context in [(sealed, "api-key-signing:b"), (b"k" * 32, "api-key-signing:a"), (sealed[:-1] + b"!", "api-key-signing:a")]:
        with pytest.raises(Unsealable):
            unseal(bad, context=context)


@pytest.mark.django_db
def test_the_migration_seals_raw_keys_once(project):
    # Given a key stored raw, as before sealing
    from importlib import import_module

    from django.apps import apps

    migration = import_module("apps.projects.migrations.0002_seal_signing_keys")
    api_key, secret = api_key_with_secret(project=project)
    ApiKey.all_tenants.filter(pk=api_key.pk).update(signing_key=derive_signing_key(secret))

    # When the migration's step runs, twice
    migration.seal_keys(apps, None)
    migration.seal_keys(apps, None)

    # Then the key is sealed once and opens to the derived key
    api_key.refresh_from_db()
    assert len(bytes(api_key.signing_key)) == 61
    assert api_key.link_signing_key() == derive_signing_key(secret)


@pytest.mark.django_db
def test_a_key_that_no_longer_unseals_still_ingests_and_returns_no_feedback_url(project, settings):
    # Given a key sealed under a secret key that was then replaced with no fallback
    from rest_framework.test import APIClient

    from apps.traces.models import Turn

    api_key, secret = api_key_with_secret(project=project)
    settings.SECRET_KEY = "a-new-secret-key-" + "y" * 40
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    # When the agent logs a turn
    response = client.post("/api/v1/turns", {"question": "Hi", "agent_response": "Hello"}, format="json")

    # Then the turn is stored and the response says there is no server-signed link
    assert response.status_code == 201
    assert response.json()["feedback_url"] is None
    assert Turn.objects.for_project(project).filter(id=response.json()["id"]).exists()
