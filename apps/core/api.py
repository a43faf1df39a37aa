"""API base classes: strict JSON, one error format, the URL-resolved tenant, the role map."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import OperationalError
from django.http import Http404
from rest_framework import exceptions, permissions, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import ServiceError
from apps.core.roles import role_at_least
from apps.core.parsers import StrictJSONParser

logger = logging.getLogger(__name__)


_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def error_body(code: str, message: str, field: str | None = None, errors: list | None = None) -> dict:
    body = {"code": code, "message": message, "field": field}
    if errors:
        body["errors"] = errors
    return body


def _flatten(detail, prefix: str = "") -> list[dict]:
    """DRF's nested validation detail as a flat list of {field, code, message}."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            items += _flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                items += _flatten(value, f"{prefix}[{index}]")
            else:
                items += _flatten(value, prefix)
        return items
    return [{"field": prefix or None, "code": getattr(detail, "code", "invalid"), "message": str(detail)}]


def exception_handler(exc, context):
    """Every API error is ``{"code", "message", "field"[, "errors"]}`` with a stable code."""
    if isinstance(exc, ServiceError):
        response = Response(error_body(exc.code, exc.message, exc.field), status=exc.status)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, OperationalError):
        logger.warning("database unavailable: %s", exc)
        response = Response(error_body("unavailable", "The database is unavailable; retry shortly."), status=503)
        response["Retry-After"] = "5"
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = errors[0] if errors else {"field": None, "code": "invalid", "message": "Invalid input."}
        response.data = error_body("invalid", first["message"], first["field"], errors)
        return response
    code = getattr(exc, "default_code", None)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    codes = exc.get_codes() if hasattr(exc, "get_codes") else None
    if isinstance(codes, str) and codes not in {"error", "invalid", code}:
        code = codes
    else:
        code = next((value for klass, value in _CODES.items() if isinstance(exc, klass)), code or "error")
    response.data = error_body(code, detail)
    return response


class RolePermission(permissions.BasePermission):
    """Reads ``view.required_role[action]``; an action missing from the map is denied."""

    def has_permission(self, request, view) -> bool:
        if view.action is None:
            return True  # an unmapped HTTP method: the handler answers 405
        required = getattr(view, "required_role", {}).get(view.action)
        membership = getattr(request, "membership", None)
        if required is None or membership is None:
            return False
        return role_at_least(membership.role, required)


class OrganizationScopedViewSet(viewsets.GenericViewSet):
    """Resolves the organization from ``<org>`` in the URL and the caller's membership.

    A non-member gets 404 (the organization's existence is not disclosed). Subclasses set
    ``model`` and ``required_role`` and narrow with ``scope_queryset``; they never override
    ``get_queryset``.
    """

    model = None
    required_role: dict[str, str] = {}
    permission_classes = [permissions.IsAuthenticated, RolePermission]
    parser_classes = [StrictJSONParser]

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        self.perform_authentication(request)
        if request.user is None or not request.user.is_authenticated:
            self.permission_denied(request)
        self.resolve_tenant(request)
        # Every object the URL names is resolved before roles and input are checked: a foreign
        # id and a missing one are the same 404 whatever the method or body.
        lookup = self.lookup_url_kwarg or self.lookup_field
        if lookup in self.kwargs:
            self.object = self.get_object()
        super().initial(request, *args, **kwargs)

    def resolve_tenant(self, request) -> None:
        from apps.organizations.selectors import organization_membership_get

        self.organization, request.membership = organization_membership_get(
            slug=self.kwargs["org"], user=request.user
        )
        self.membership = request.membership

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


class ProjectScopedViewSet(OrganizationScopedViewSet):
    """Adds ``<project>`` from the URL, resolved through the visibility selector (404 if hidden)."""

    def resolve_tenant(self, request) -> None:
        super().resolve_tenant(request)
        from apps.projects.selectors import project_get_visible

        self.project = project_get_visible(
            organization=self.organization, membership=self.membership, project_id=self.kwargs["project"]
        )

    def base_queryset(self):
        return self.model.objects.for_project(self.project)
