"""The demo organization the README's run command shows: its people, projects and keys. Idempotent."""

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.core.roles import Role
from apps.core.audit import Actor
from apps.demo.prompts import seed_prompts_demo
from apps.demo.redaction import seed_redaction
from apps.organizations.models import Invitation, Membership, Organization
from apps.organizations.services import invitation_create, organization_create, organization_update
from apps.projects.models import ApiKey, Project
from apps.projects.services import api_key_create, api_key_revoke, project_create, project_set_access
from apps.demo.tokens import seed_org_tokens

DEMO_EMAIL = "demo@agentloop.local"
DEMO_PASSWORD = "agentloop-demo"
DEMO_ORG_SLUG = "acme-support"
TEAM = [
    ("alice@acme.test", Role.ADMIN),
    ("riley@acme.test", Role.REVIEWER),
    ("morgan@acme.test", Role.MEMBER),
]


def _user(email: str, password: str):
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, name=email.split("@")[0].title())
    return user


def _demo_key_file():
    from config.embedded import data_dir

    return data_dir("run") / "demo-api-key.txt"


@transaction.atomic
def seed() -> dict:
    demo = _user(DEMO_EMAIL, DEMO_PASSWORD)
    actor = Actor(user=demo, ip_address="127.0.0.1")
    organization = Organization.objects.filter(slug=DEMO_ORG_SLUG).first()
    if organization is None:
        organization = organization_create(name="Acme Support", owner=demo, actor=actor, slug=DEMO_ORG_SLUG)
        organization_update(organization=organization, actor=actor, retention_days=45)
    for email, role in TEAM:
        user = _user(email, DEMO_PASSWORD)
        Membership.objects.for_org(organization).get_or_create(
            organization=organization, user=user, defaults={"role": role}
        )
    owner = Membership.objects.for_org(organization).get(user=demo)
    if not Invitation.objects.for_org(organization).filter(email="new.hire@acme.test").exists():
        invitation_create(organization=organization, acting=owner, email="new.hire@acme.test", role=Role.REVIEWER, actor=actor)

    projects = {}
    for name in ("Support agent", "Billing agent"):
        project = Project.objects.for_org(organization).filter(name=name).first()
        projects[name] = project or project_create(organization=organization, name=name, actor=actor)
    billing = projects["Billing agent"]
    if not billing.is_restricted:
        reviewer = Membership.objects.for_org(organization).get(user__email="riley@acme.test")
        project_set_access(project=billing, is_restricted=True, member_ids=[reviewer.pk], actor=actor)
    seed_redaction(project=billing, actor=actor)

    support = projects["Support agent"]
    seed_prompts_demo(project=support, actor=actor)
    key_file = _demo_key_file()
    secret = key_file.read_text().strip() if key_file.exists() else ""
    key_id = secret.split("_")[2] if secret.count("_") >= 3 else ""
    if not ApiKey.objects.for_project(support).filter(key_id=key_id, revoked_at__isnull=True).exists():
        if not ApiKey.objects.for_project(support).filter(name="old CI key").exists():
            old_key, _ = api_key_create(project=support, name="old CI key", actor=actor)
            api_key_revoke(api_key=old_key, actor=actor)
        _, secret = api_key_create(project=support, name="demo SDK", actor=actor)
        transaction.on_commit(lambda: key_file.write_text(secret + "\n"))

    seed_org_tokens(organization=organization, owner=owner, actor=actor)

    other = Organization.objects.filter(slug="globex-labs").first()
    if other is None:
        other_owner = _user("owner@globex.test", DEMO_PASSWORD)
        other = organization_create(name="Globex Labs", owner=other_owner, actor=Actor(user=other_owner), slug="globex-labs")
        Membership.objects.for_org(other).create(organization=other, user=demo, role=Role.MEMBER)
        project_create(organization=other, name="Research assistant", actor=Actor(user=other_owner))
    return {"organization": organization.slug, "project": str(support.pk), "api_key": secret}
