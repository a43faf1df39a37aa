import secrets

import factory

from apps.projects.models import derive_signing_key
from apps.projects.models import ApiKey, Project
from apps.core.text import sha256_hex
from tests.factories.organizations import OrganizationFactory


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Project {n}")


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """Use ``api_key_with_secret`` when the test needs the full secret key."""

    class Meta:
        model = ApiKey
        exclude = ["secret"]

    project = factory.SubFactory(ProjectFactory)
    key_id = factory.LazyFunction(lambda: secrets.token_hex(6))
    name = factory.Sequence(lambda n: f"key {n}")
    secret = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    secret_hash = factory.LazyAttribute(lambda o: sha256_hex(o.secret))
    secret_hint = factory.LazyAttribute(lambda o: o.secret[:4])
    signing_key = factory.LazyAttribute(
        lambda o: ApiKey.sealed_signing_key(o.key_id, derive_signing_key(f"al_sk_{o.key_id}_{o.secret}"))
    )


def api_key_with_secret(**kwargs) -> tuple[ApiKey, str]:
    secret = secrets.token_urlsafe(32)
    api_key = ApiKeyFactory(secret=secret, **kwargs)
    return api_key, f"al_sk_{api_key.key_id}_{secret}"
