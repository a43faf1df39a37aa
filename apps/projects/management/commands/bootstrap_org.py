"""Provision a headless install: organization, owner, project, and a new API key.

Safe to run twice: the organization (by slug of its name), the owner (by e-mail) and the
project (by name) are reused; each run issues a new key.
"""

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.core.text import required_name
from apps.core.audit import SYSTEM
from apps.organizations.models import Membership, Organization
from apps.organizations.services import organization_create
from apps.projects.models import Project
from apps.projects.services import api_key_create, project_create


def bootstrap(*, org_name: str, owner_email: str, owner_password: str, project_name: str) -> dict:
    User = get_user_model()
    email = owner_email.strip().lower()
    # Checked up front: an existing organization or project found by these names is reused
    # without passing through the services that would otherwise check them.
    org_name, project_name = required_name(org_name, field="org"), required_name(project_name, field="project")
    with transaction.atomic():
        owner = User.objects.filter(email__iexact=email).first()
        if owner is None:
            try:
                validate_password(owner_password)
            except ValidationError as exc:
                raise CommandError("Owner password rejected: " + " ".join(exc.messages)) from exc
            owner = User.objects.create_user(email=email, password=owner_password)
        slug = slugify(org_name)[:50]
        if not slug:
            raise CommandError("--org must contain letters or digits.")
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            organization = organization_create(name=org_name, owner=owner, actor=SYSTEM, slug=slug)
        else:
            Membership.objects.for_org(organization).get_or_create(
                organization=organization, user=owner, defaults={"role": Role.OWNER}
            )
        project = Project.objects.for_org(organization).filter(name__iexact=project_name.strip()).first()
        if project is None:
            project = project_create(organization=organization, name=project_name, actor=SYSTEM)
        _, secret = api_key_create(project=project, name="bootstrap", actor=SYSTEM)
    return {"organization": organization.slug, "project": str(project.pk), "api_key": secret}


class Command(BaseCommand):
    help = "Create (or reuse) an organization, its owner and a project, and issue a new API key."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization name")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--project", required=True, help="Project name")
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(self, *args, **options):
        try:
            result = bootstrap(
                org_name=options["org"], owner_email=options["owner_email"],
                owner_password=options["owner_password"], project_name=options["project"],
            )
        except ServiceError as error:
            raise CommandError(error.message) from error
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"organization: {result['organization']}\nproject: {result['project']}\napi key: {result['api_key']}"
            )
