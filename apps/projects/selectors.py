from __future__ import annotations

import uuid

from django.db.models import Q
from django.http import Http404

from apps.core.roles import Role, role_at_least
from apps.projects.models import ApiKey, Project, ProjectUserObjectPermission


def _visible(queryset, membership):
    """Admins see every project; others see open projects and restricted ones granted to them."""
    if role_at_least(membership.role, Role.ADMIN):
        return queryset
    granted = ProjectUserObjectPermission.objects.filter(
        user_id=membership.user_id, permission__codename="access_project"
    ).values("content_object_id")
    return queryset.filter(Q(is_restricted=False) | Q(pk__in=granted))


def project_list_visible(*, organization, membership):
    return _visible(Project.objects.for_org(organization), membership).order_by("name")


def project_get_visible(*, organization, membership, project_id) -> Project:
    """A project the member may see; unknown, foreign, hidden and malformed ids are the same 404."""
    try:
        project_id = project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id))
    except ValueError:
        raise Http404("No such project.") from None
    project = project_list_visible(organization=organization, membership=membership).filter(pk=project_id).first()
    if project is None:
        raise Http404("No such project.")
    return project


def api_key_list(*, project: Project):
    return ApiKey.objects.for_project(project).select_related("created_by", "revoked_by").order_by("-created_at")


def api_key_get(*, project: Project, key_id: str) -> ApiKey:
    api_key = api_key_list(project=project).filter(key_id=key_id).first()
    if api_key is None:
        raise Http404("No such API key.")
    return api_key
