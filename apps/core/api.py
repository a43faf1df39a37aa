"""API plumbing that knows no domain: one error format and the per-action role map.

The tenant-resolving viewsets live with the models they resolve (apps.organizations.tenancy,
apps.projects.tenancy)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, permissions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import ServiceError
from apps.core.roles import role_at_least

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
    if isinstance(exc, (OperationalError, InterfaceError)):
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
