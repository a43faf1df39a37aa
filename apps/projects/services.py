from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from functools import lru_cache

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import hooks
from apps.core.errors import Conflict, ValidationFailed
from apps.core.permissions import object_permission_grant, object_permission_revoke, object_permission_user_ids
from apps.core.sql import project_purge_allow, tenant_sql
from apps.core.text import required_name, sha256_hex
from apps.core.audit import Actor, AuditAction, audit_record
from apps.organizations.models import Membership, Organization
from apps.projects.models import ACCESS_PERMISSION, ApiKey, Project, ProjectUserObjectPermission, derive_signing_key

KEY_PREFIX = "al_sk_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _name_taken(organization: Organization, name: str, exclude=None) -> bool:
    projects = Project.objects.for_org(organization).filter(name__iexact=name)
    if exclude is not None:
        projects = projects.exclude(pk=exclude.pk)
    return projects.exists()


# ``(*, project) -> None``, inside the creating transaction: apps.review (a floor above) gives the
# project its catch-all review queue.
PROJECT_CREATED_HOOK = "projects.project_created"


@transaction.atomic
def project_create(*, organization: Organization, name: str, actor: Actor) -> Project:
    name = required_name(name)
    if _name_taken(organization, name):
        raise Conflict(f"A project named {name!r} already exists.", code="name_taken", field="name")
    try:
        with transaction.atomic():
            project = Project.objects.create(organization=organization, name=name, created_by=actor.user)
            hooks.call(PROJECT_CREATED_HOOK, project=project)
    except IntegrityError:
        raise Conflict(f"A project named {name!r} already exists.", code="name_taken", field="name") from None
    audit_record(
        organization=organization, actor=actor, action=AuditAction.PROJECT_CREATED,
        target_type="project", target_id=project.pk, target_label=name, after={"name": name},
    )
    return project


@transaction.atomic
def project_rename(*, project: Project, name: str, actor: Actor) -> Project:
    name = required_name(name)
    if name == project.name:
        return project
    if _name_taken(project.organization, name, exclude=project):
        raise Conflict(f"A project named {name!r} already exists.", code="name_taken", field="name")
    before = project.name
    project.name = name
    try:
        with transaction.atomic():
            project.save(update_fields=["name"])
    except IntegrityError:
        # A concurrent create or rename took the name after the check (projects_project_name_uniq).
        project.name = before
        raise Conflict(f"A project named {name!r} already exists.", code="name_taken", field="name") from None
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.PROJECT_RENAMED,
        target_type="project", target_id=project.pk, target_label=name, before={"name": before}, after={"name": name},
    )
    return project


@transaction.atomic
def project_delete(*, project: Project, actor: Actor) -> None:
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.PROJECT_DELETED,
        target_type="project", target_id=project.pk, target_label=project.name, before={"name": project.name},
    )
    project_purge_allow(project=project)  # append-only tables let this transaction delete its rows
    project.delete()


@transaction.atomic
def project_set_access(*, project: Project, is_restricted: bool, member_ids: list[int], actor: Actor) -> Project:
    """Restrict a project to named members (admins always see it) or open it to the organization.

    ``member_ids`` are Membership ids and are resolved inside the project's organization: an id
    from another organization is rejected, never silently granted.
    """
    memberships = {
        membership.pk: membership
        for membership in Membership.objects.for_org(project.organization_id)
        .filter(pk__in=set(member_ids))
        .select_related("user")
    }
    unknown = sorted(set(member_ids) - set(memberships))
    if unknown:
        raise ValidationFailed(f"Unknown member id(s): {unknown}.", code="unknown_member", field="member_ids")
    before_users = object_permission_user_ids(permission=ACCESS_PERMISSION, obj=project)
    wanted_users = {membership.user_id for membership in memberships.values()} if is_restricted else set()
    all_members = Membership.objects.for_org(project.organization_id).select_related("user")
    for membership in all_members:
        if membership.user_id in wanted_users and membership.user_id not in before_users:
            object_permission_grant(membership=membership, permission=ACCESS_PERMISSION, obj=project)
        elif membership.user_id in before_users and membership.user_id not in wanted_users:
            object_permission_revoke(membership=membership, permission=ACCESS_PERMISSION, obj=project)
    before = {"is_restricted": project.is_restricted, "user_ids": sorted(before_users)}
    project.is_restricted = is_restricted
    project.save(update_fields=["is_restricted"])
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.PROJECT_ACCESS_CHANGED,
        target_type="project", target_id=project.pk, target_label=project.name,
        before=before, after={"is_restricted": is_restricted, "user_ids": sorted(wanted_users)},
    )
    return project


def project_access_revoke_all(*, membership: Membership) -> None:
    """Drop a departing member's grants on every project of the organization."""
    ProjectUserObjectPermission.objects.filter(
        user_id=membership.user_id, content_object__organization_id=membership.organization_id
    ).delete()


@transaction.atomic
def api_key_create(*, project: Project, name: str, actor: Actor) -> tuple[ApiKey, str]:
    """Create a key and return it with the full secret, which is never retrievable again."""
    name = required_name(name)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        project=project, key_id=key_id, name=name, secret_hash=sha256_hex(secret),
        secret_hint=secret[:4], created_by=actor.user, signing_key=ApiKey.sealed_signing_key(key_id, derive_signing_key(f"{KEY_PREFIX}{key_id}_{secret}")),
    )
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.API_KEY_CREATED,
        target_type="api_key", target_id=key_id, target_label=f"{name} ({project.name})",
        after={"name": name, "project": str(project.pk)},
    )
    return api_key, f"{KEY_PREFIX}{key_id}_{secret}"


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    api_key = ApiKey.objects.for_project(api_key.project_id).select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        raise Conflict("This key is already revoked.", code="already_revoked")
    api_key.revoked_at = timezone.now()
    api_key.revoked_by = actor.user
    api_key.save(update_fields=["revoked_at", "revoked_by"])
    project = api_key.project
    audit_record(
        organization=project.organization, actor=actor, action=AuditAction.API_KEY_REVOKED,
        target_type="api_key", target_id=api_key.key_id, target_label=f"{api_key.name} ({project.name})",
        before={"is_active": True}, after={"is_active": False},
    )
    return api_key


def parse_secret_key(raw: str) -> tuple[str, str] | None:
    if not raw or not raw.startswith(KEY_PREFIX):
        return None
    key_id, separator, secret = raw[len(KEY_PREFIX):].partition("_")
    if not separator or not key_id or not secret:
        return None
    return key_id, secret


def _columns(model, alias: str) -> tuple[list[str], str]:
    names = [field.attname for field in model._meta.concrete_fields]
    return names, ", ".join(f'{alias}."{model._meta.get_field(name).column}"' for name in names)


@lru_cache(maxsize=1)
def _authenticate_query():
    """One hand-written join (the hot path of every ingestion request): the ORM's compile and
    select_related cost five times the query itself."""
    key_names, key_sql = _columns(ApiKey, "k")
    project_names, project_sql = _columns(Project, "p")
    org_names, org_sql = _columns(Organization, "o")
    sql = (
        f"SELECT {key_sql}, {project_sql}, {org_sql} FROM projects_apikey k "
        "JOIN projects_project p ON p.id = k.project_id "
        f"JOIN {Organization._meta.db_table} o ON o.id = p.organization_id "
        "WHERE k.key_id = %(key_id)s AND k.revoked_at IS NULL"
    )
    return sql, key_names, project_names, org_names


def api_key_authenticate(*, raw: str) -> ApiKey | None:
    """The active key for a secret (with its project and organization loaded), or None.

    Constant-time compare; revocation applies at once (nothing is cached). ``last_used_at`` is
    written at most once a minute per key so authentication stays a read.
    """
    parsed = parse_secret_key(raw)
    if parsed is None:
        return None
    key_id, secret = parsed
    sql, key_names, project_names, org_names = _authenticate_query()
    with tenant_sql(unscoped="an API key names its project: the key is looked up before any tenant is known") as cursor:
        cursor.execute(sql, {"key_id": key_id})
        row = cursor.fetchone()
    if row is None:
        return None
    split, tail = len(key_names), len(key_names) + len(project_names)
    api_key = ApiKey.from_db("default", key_names, row[:split])
    if not hmac.compare_digest(api_key.secret_hash, sha256_hex(secret)):
        return None
    project = Project.from_db("default", project_names, row[split:tail])
    project.organization = Organization.from_db("default", org_names, row[tail:])
    api_key.project = project
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.all_tenants.filter(pk=api_key.pk).update(last_used_at=now)  # unscoped: the row just authenticated
        api_key.last_used_at = now
    return api_key
