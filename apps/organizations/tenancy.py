"""The organization-resolving bases of every API viewset and HTML view under ``/orgs/<org>/``.

They resolve ``<org>`` from the URL and the caller's membership (a stranger gets 404) and
enforce the per-action / per-method role map; subclasses only narrow (``scope_queryset``).

The API bases accept a session (with CSRF) or an organization token (``Bearer al_ot_…``,
apps.organizations.authentication). A token acts as its member: the same membership, role map
and 404s, plus its scopes (``token_scope``); a token of another organization is a stranger.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import permissions, viewsets
from rest_framework.authentication import SessionAuthentication

from apps.core.api import RolePermission
from apps.core.parsers import StrictJSONParser
from apps.core.ratelimit import enforce
from apps.core.roles import Role, role_at_least
from apps.organizations.authentication import OrganizationTokenAuthentication, TokenScopePermission, request_token
from apps.organizations.models import TokenScope
from apps.organizations.selectors import organization_membership_get

# The scope an action needs when its viewset does not declare one: by its required role.
_SCOPE_FOR_ROLE = {Role.REVIEWER: TokenScope.REVIEW, Role.ADMIN: TokenScope.ADMIN, Role.OWNER: TokenScope.ADMIN}
AUTHENTICATION_CLASSES = [OrganizationTokenAuthentication, SessionAuthentication]


def org_token_rate_limit(request) -> None:
    """A token's requests per minute (429 ``rate_limited`` with ``Retry-After``); sessions are not
    limited here. Fails open when Redis is down, as every limit (apps.core.ratelimit)."""
    token = request_token(request)
    if token is not None:
        enforce(
            f"org-token:{token.token_id}", limit=settings.ORG_TOKEN_RATE_LIMIT_PER_MINUTE, window=60,
            what="requests with this token",
        )


class OrganizationScopedViewSet(viewsets.GenericViewSet):
    """Resolves the organization from ``<org>`` in the URL and the caller's membership.

    A non-member gets 404 (the organization's existence is not disclosed). Subclasses set
    ``model`` and ``required_role`` and narrow with ``scope_queryset``; they never override
    ``get_queryset``.
    """

    model = None
    required_role: dict[str, str] = {}
    # Per action, the token scope it needs (read, review, datasets, admin); an action missing here
    # needs "read" for a safe method, else the scope of its required role (reviewer → review,
    # admin/owner → admin; a member-level write → admin: a token writes only what it was given).
    token_scope: dict[str, str] = {}
    authentication_classes = AUTHENTICATION_CLASSES
    permission_classes = [permissions.IsAuthenticated, RolePermission]
    parser_classes = [StrictJSONParser]

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        self.perform_authentication(request)
        if request.user is None or not request.user.is_authenticated:
            self.permission_denied(request)
        org_token_rate_limit(request)
        self.resolve_tenant(request)
        # Every object the URL names is resolved before roles and input are checked: a foreign
        # id and a missing one are the same 404 whatever the method or body.
        lookup = self.lookup_url_kwarg or self.lookup_field
        if lookup in self.kwargs:
            self.object = self.get_object()
        super().initial(request, *args, **kwargs)

    def resolve_tenant(self, request) -> None:
        token = request_token(request)
        if token is None:
            self.organization, request.membership = organization_membership_get(
                slug=self.kwargs["org"], user=request.user
            )
        elif token.organization.slug == self.kwargs["org"]:
            # The membership loaded with the token in this request: its role as it is now.
            self.organization, request.membership = token.organization, token.membership
        else:
            # Another organization's URL: the same 404 as a stranger's, even if the token's member
            # also belongs to it (a token is bound to the organization it was made in).
            raise Http404("No such organization.")
        self.membership = request.membership

    def check_permissions(self, request):
        """The role map (and any subclass permission), then the token's scope: every viewset gets
        the scope check, whatever ``permission_classes`` it declares."""
        super().check_permissions(request)
        scope = TokenScopePermission()
        if not scope.has_permission(request, self):
            self.permission_denied(request, message=scope.message, code=scope.code)

    def token_scope_required(self) -> str | None:
        """The scope this request's action needs (None: no scope grants it, the action is unmapped)."""
        if self.action in self.token_scope:
            return self.token_scope[self.action]
        if self.request.method in permissions.SAFE_METHODS:
            return TokenScope.READ
        role = self.required_role.get(self.action)
        if role is None:
            return None
        return _SCOPE_FOR_ROLE.get(role, TokenScope.ADMIN)

    def base_queryset(self):
        return self.model.objects.for_org(self.organization)

    def get_queryset(self):
        return self.scope_queryset(self.base_queryset())

    def scope_queryset(self, queryset):
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["organization"] = self.organization
        return context


class OrganizationViewMixin(LoginRequiredMixin):
    """Resolves ``<org>`` and the membership (404 for strangers) and enforces ``required_role``.

    ``required_role`` maps HTTP methods to the minimum role; a method missing from it is denied.
    """

    required_role: dict[str, str] = {"GET": Role.MEMBER}

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        # Order matters: every object the URL names is resolved (404) before the method (405)
        # and the role (403) are checked, so a foreign object and a missing one look the same.
        self.organization, self.membership = organization_membership_get(slug=kwargs["org"], user=request.user)
        # The page's tenant, for the context processors that draw the navigation.
        request.organization, request.membership = self.organization, self.membership
        self.resolve_tenant(request, **kwargs)
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, "get" if method == "head" else method):
            return self.http_method_not_allowed(request, *args, **kwargs)
        required = self.required_role.get("GET" if method == "head" else method.upper())
        if required is None or not role_at_least(self.membership.role, required):
            raise PermissionDenied("Your role in this organization does not allow that.")
        return super().dispatch(request, *args, **kwargs)

    def resolve_tenant(self, request, **kwargs) -> None:
        """Hook for subclasses that resolve more of the URL (a project, a member, a key): 404s."""

    @property
    def is_admin(self) -> bool:
        return role_at_least(self.membership.role, Role.ADMIN)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs) if hasattr(super(), "get_context_data") else dict(kwargs)
        context.update(organization=self.organization, membership=self.membership, is_admin=self.is_admin)
        # URL kwargs (``project`` is a UUID there) are replaced by the resolved objects.
        context["project"] = getattr(self, "project", None)
        return context
