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


def org_token_with_secret(*, membership, scopes=None, name: str = "test token"):
    """An organization token acting as ``membership`` and its raw secret ``al_ot_<id>_<secret>``.

    Made directly (the service lets only admins create one): a token whose member is below admin
    is one created while they were admin, their role lowered since.
    """
    import secrets

    from apps.organizations.models import OrganizationToken, TokenScope

    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    token = OrganizationToken.objects.create(
        organization=membership.organization, membership=membership, created_by=membership.user, name=name,
        token_id=token_id, secret_hash=sha256_hex(secret), secret_hint=secret[:4],
        scopes=list(scopes if scopes is not None else TokenScope.values),
    )
    return token, f"al_ot_{token_id}_{secret}"
