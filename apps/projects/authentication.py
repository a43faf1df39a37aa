"""Bearer secret-key authentication for ingestion: the key names its project."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from apps.projects.services import api_key_authenticate


class ApiKeyPrincipal:
    """The caller behind an API key: a project, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, api_key):
        self.api_key = api_key
        self.project = api_key.project

    def __str__(self) -> str:
        return f"api-key:{self.api_key.key_id}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <secret API key>'.", code="invalid_authorization")
        api_key = api_key_authenticate(raw=raw.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.", code="invalid_api_key")
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="agentloop"'


class IsProjectKey:
    """Permission: the request authenticated with a project API key."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, ApiKeyPrincipal)

    def has_object_permission(self, request, view, obj) -> bool:
        return True
