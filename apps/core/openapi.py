"""The OpenAPI schema's one AutoSchema: every operation documents the errors it can answer.

The errors follow from how a view is built, so they are derived here once instead of being
repeated in every ``@extend_schema``:

- 401 for a view that authenticates with a project key (``ApiKeyAuthentication`` sends a
  ``WWW-Authenticate`` challenge); 403 for a session view, where DRF answers an anonymous or
  CSRF-less request 403 (no challenge to send), and for a role below the view's map.
- 404 for an operation with a path parameter: the tenant (organization, project) and the object
  the URL names are looked up, and a foreign id is the same 404 as a missing one.
- 400 for an operation that reads a body or query parameters; 413 and 415 for one that reads a
  body.
- Any status a view declares in ``error_statuses`` (the ingestion views: 429).

Every error response has the body of ``apps.core.api.exception_handler``: the ``Error``
component. An error an ``@extend_schema`` lists without a body (a 409, say) gets it too.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication


_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, a wrong type or value (`field` names it).",
    401: "No valid project API key (`not_authenticated`, `invalid_api_key`, `invalid_authorization`).",
    403: "Not signed in or no CSRF token (`not_authenticated`, `permission_denied`), or a role below the operation's.",
    404: "No such organization, project or object, or not visible to the caller (`not_found`).",
    409: "Conflicts with the stored state (see `code`).",
    413: "The body is larger than the limit (`payload_too_large`).",
    415: "Unsupported Content-Type or Content-Encoding (`unsupported_media_type`).",
    429: "Rate limited (`rate_limited`); retry after `Retry-After` seconds.",
}


class ErrorItemOut(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="The input at fault, as a dotted path")
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorOut(serializers.Serializer):
    """Every API error: a stable ``code``, a readable ``message`` and the ``field`` at fault."""

    code = serializers.CharField(help_text="Stable, documented error code")
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True, help_text="The input at fault, if any")
    errors = ErrorItemOut(many=True, required=False, help_text="Every validation error, when there are several")

    class Meta:
        ref_name = "Error"


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            responses.setdefault(str(status), {})
        for code, response in responses.items():
            if code >= "400" and "content" not in response:
                description = response.get("description") or self._error_description(int(code))
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(response=ErrorOut, description=description), code, direction=direction
                )
        return responses

    def get_description(self):
        """The view's description, plus the organization-token scope the operation needs (from
        the view's ``token_scope_required``, so the schema says what the server enforces)."""
        description = super().get_description() or ""
        scope_of = getattr(self.view, "token_scope_required", None)
        if scope_of is None or getattr(self.view, "request", None) is None:
            return description
        scope = scope_of()
        note = f"Organization token scope: `{scope}`." if scope else "Not available to organization tokens."
        return f"{description}\n\n{note}" if description else note

    def _error_description(self, status: int) -> str:
        """The generic description, or the authenticators' own words for 401 and 403."""
        authenticators = self.view.get_authenticators()
        token = next((a for a in authenticators if getattr(a, "unauthorized_description", None)), None)
        if token is not None and status == 401:
            return token.unauthorized_description
        if token is not None and status == 403:
            return _DESCRIPTIONS[403] + " With a token: a scope below the operation's (`token_scope`)."
        return _DESCRIPTIONS.get(status, "Error")

    def _error_statuses(self) -> set[int]:
        statuses = set()
        authenticators = self.view.get_authenticators()
        # DRF's rule: a challenge from the first authenticator makes "not authenticated" a 401.
        statuses.add(401 if authenticators and authenticators[0].authenticate_header(None) else 403)
        # A session beside it still answers 403 (no challenge to send); an authenticator may add
        # statuses of its own (an organization token: 401 for a bad one, 429 past its rate limit).
        if any(isinstance(authenticator, SessionAuthentication) for authenticator in authenticators):
            statuses.add(403)
        for authenticator in authenticators:
            statuses.update(getattr(authenticator, "error_statuses", ()))
        if "{" in self.path:
            statuses.add(404)
        if self._get_request_body() is not None:
            statuses |= {400, 413, 415}
        if any(parameter["in"] == "query" for parameter in self._get_parameters()):
            statuses.add(400)
        statuses.update(getattr(self.view, "error_statuses", ()))
        return statuses

    def _get_request_body(self, direction="request"):
        """A view without parsers reads the raw body itself (``apps.core.body.read_json``), which
        refuses an empty one: its body is required. So is a body given as a literal schema with
        required properties (``@extend_schema(request={"application/json": {...}})``)."""
        body = super()._get_request_body(direction)
        if body is None:
            return body
        literal_required = any(
            isinstance(media.get("schema"), dict) and media["schema"].get("required")
            for media in body.get("content", {}).values()
        )
        if not self.view.get_parsers() or literal_required:
            body["required"] = True
        return body

    def _get_request_for_media_type(self, serializer, direction="request"):
        """A PATCH is documented with its serializer as the view uses it: partial only when the
        ``@extend_schema`` says so (``QueueIn(partial=True)``), since the views validate with the
        serializer as given, not DRF's implicit partial update."""
        method = self.method
        if method == "PATCH" and not getattr(serializer, "partial", False):
            self.method = "PUT"
        try:
            return super()._get_request_for_media_type(serializer, direction)
        finally:
            self.method = method

