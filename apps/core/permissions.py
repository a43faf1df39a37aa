"""Object permissions inside a tenant (django-guardian, direct foreign-key models).

The one helper for granting and revoking a per-object permission to a member; review-queue
assignment uses it the same way project restriction does.
"""

from __future__ import annotations

from guardian.shortcuts import assign_perm, get_users_with_perms, remove_perm

from apps.core.errors import ValidationFailed


def _check_same_tenant(membership, obj) -> None:
    if membership.organization_id != obj.organization_id:
        raise ValidationFailed("That member does not belong to this organization.", field="member")


def object_permission_grant(*, membership, permission: str, obj) -> None:
    _check_same_tenant(membership, obj)
    assign_perm(permission, membership.user, obj)


def object_permission_revoke(*, membership, permission: str, obj) -> None:
    _check_same_tenant(membership, obj)
    remove_perm(permission, membership.user, obj)


def object_permission_has(*, user, permission: str, obj) -> bool:
    return user.has_perm(permission, obj)


def object_permission_user_ids(*, permission: str, obj) -> set[int]:
    codename = permission.split(".", 1)[1]
    users = get_users_with_perms(obj, only_with_perms_in=[codename], with_group_users=False, with_superusers=False)
    return {user.pk for user in users}
