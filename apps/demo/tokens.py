"""Demo organization tokens: one active (read + review, acting as the demo owner) and one revoked.

The active token's secret is shown once, like any token: the demo keeps it only in the local data
folder (``.data/run/demo-org-token.txt``, beside the demo SDK key) so the README's curl example
runs against the demo; it is never printed. Idempotent: a token whose secret file is gone or no
longer valid is replaced.
"""

from __future__ import annotations

from django.db import transaction

from apps.core.audit import Actor
from apps.organizations.models import Membership, OrganizationToken
from apps.organizations.tokens import org_token_authenticate, org_token_create, org_token_revoke

DEMO_TOKEN_NAME = "CI review bot"
OLD_TOKEN_NAME = "old backlog script"


def demo_token_file():
    from config.embedded import data_dir

    return data_dir("run") / "demo-org-token.txt"


def seed_org_tokens(*, organization, owner: Membership, actor: Actor) -> None:
    tokens = OrganizationToken.objects.for_org(organization)
    if not tokens.filter(name=OLD_TOKEN_NAME).exists():
        old, _ = org_token_create(organization=organization, acting=owner, name=OLD_TOKEN_NAME, scopes=["read"], actor=actor)
        org_token_revoke(token=old, actor=actor)
    token_file = demo_token_file()
    secret = token_file.read_text().strip() if token_file.exists() else ""
    current = org_token_authenticate(raw=secret) if secret else None
    if current is not None and current.organization_id == organization.pk:
        return
    for stale in tokens.filter(name=DEMO_TOKEN_NAME, revoked_at__isnull=True):
        org_token_revoke(token=stale, actor=actor)
    _, secret = org_token_create(
        organization=organization, acting=owner, name=DEMO_TOKEN_NAME, scopes=["read", "review"], actor=actor
    )
    transaction.on_commit(lambda: token_file.write_text(secret + "\n"))
