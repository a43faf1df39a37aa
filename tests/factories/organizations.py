from datetime import timedelta

import factory
from django.utils import timezone

from apps.core.roles import Role
from apps.organizations.models import Invitation, Membership, Organization
from apps.core.text import sha256_hex
from tests.factories.accounts import UserFactory


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class InvitationFactory(factory.django.DjangoModelFactory):
    """Pass ``token=...`` to know the raw token; only its hash is stored."""

    class Meta:
        model = Invitation
        exclude = ["token"]

    organization = factory.SubFactory(OrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Role.MEMBER
    token = factory.Sequence(lambda n: f"invitation-token-{n}")
    token_hash = factory.LazyAttribute(lambda o: sha256_hex(o.token))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
