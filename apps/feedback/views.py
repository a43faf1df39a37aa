"""``/f/<payload>.<signature>``: the no-login feedback widget (HTML form or JSON), iframe-friendly."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from apps.core.body import decode_json
from apps.core.errors import ServiceError
from apps.core.http import client_ip
from apps.core.middleware import csp_update
from apps.core.ratelimit import RateLimited, enforce
from apps.feedback.forms import WidgetForm
from apps.feedback.services import LinkError, link_verify, widget_feedback_current, widget_feedback_submit

# A link that is not a link (malformed, forged, too long-lived) is refused like a forged one: 403.
LINK_STATUS = {
    "link_malformed": 403, "link_invalid_signature": 403, "link_lifetime_too_long": 403,
    "link_revoked": 403, "link_expired": 410,
}
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


def _wants_json(request) -> bool:
    return request.content_type == "application/json" or "application/json" in request.headers.get("Accept", "")


# Customers embed the widget in their pages: any ancestor may frame it (no X-Frame-Options, frame-ancestors *).
@method_decorator([csrf_exempt, xframe_options_exempt, csp_update(frame_ancestors="*")], name="dispatch")
class FeedbackWidgetView(View):
    """The signed link is the only credential: no login, no CSRF token (nothing ambient to forge)."""

    template_name = "feedback/widget.html"

    def _respond(self, request, status: int, *, context: dict | None = None, payload: dict | None = None, headers=None):
        if _wants_json(request):
            response = JsonResponse(payload or {}, status=status)
        else:
            response = render(request, self.template_name, context or {}, status=status)
        for name, value in {**CORS, **(headers or {})}.items():
            response[name] = value
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    def _error(self, request, error: ServiceError, status: int | None = None, headers=None):
        status = status or LINK_STATUS.get(error.code, error.status)
        return self._respond(
            request, status, context={"error": error.message, "error_code": error.code},
            payload={"code": error.code, "message": error.message, "field": error.field}, headers=headers,
        )

    def options(self, request, token):
        return self._respond(request, 204, payload={})

    def get(self, request, token):
        try:
            api_key, claims = link_verify(token)
        except LinkError as error:
            return self._error(request, error)
        current = widget_feedback_current(api_key=api_key, claims=claims)
        initial = {"rating": current.rating, "comment": current.comment, "correction": current.correction} if current else {}
        return self._respond(
            request, 200, context={"form": WidgetForm(initial=initial), "submitted": current is not None},
            payload={"ok": True, "submitted": current is not None, **initial},
        )

    def post(self, request, token):
        try:
            api_key, claims = link_verify(token)
            enforce(f"widget-link:{token.rsplit('.', 1)[-1]}", limit=settings.WIDGET_RATE_LIMIT_PER_LINK, window=60, what="submissions for this link")
            enforce(f"widget-ip:{client_ip(request)}", limit=settings.WIDGET_RATE_LIMIT_PER_IP, window=60, what="submissions from your address")
        except RateLimited as error:
            return self._error(request, error, status=429, headers={"Retry-After": str(error.retry_after)})
        except LinkError as error:
            return self._error(request, error)
        data = request.POST
        if request.content_type == "application/json":
            try:
                data = decode_json(request.body or b"{}")
            except ServiceError as error:
                return self._error(request, error, status=400)
            if not isinstance(data, dict):
                return self._error(request, ServiceError("Send a JSON object.", code="malformed_json"), status=400)
        form = WidgetForm(data)
        if not form.is_valid():
            field, messages = next(iter(form.errors.items()))
            error = ServiceError(messages[0], code="invalid", field=None if field == "__all__" else field)
            return self._respond(
                request, 400, context={"form": form}, payload={"code": error.code, "message": error.message, "field": error.field}
            )
        try:
            outcome = widget_feedback_submit(api_key=api_key, claims=claims, **form.cleaned_data)
        except LinkError as error:
            return self._error(request, error)
        state = "waiting" if outcome.status == 202 else "attached"
        return self._respond(
            request, 200, context={"thanks": True, "form": form, "submitted": True},
            payload={"ok": True, "id": outcome.id, "state": state, "updated": outcome.status == 200},
        )
