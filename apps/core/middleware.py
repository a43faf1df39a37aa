"""The Content-Security-Policy of every HTML response.

The policy is ``settings.CONTENT_SECURITY_POLICY`` (directive → sources). It allows no inline
script, handler or style and no eval: the templates keep behaviour in static/js and styles in
static/css, so an HTML injection that slipped past autoescaping still cannot run. A view that
needs one directive to differ (the feedback widget is framed by customers' pages) says so with
``csp_update``; nothing else loosens the policy.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings

HEADER = "Content-Security-Policy"


def policy_header(directives: dict[str, str]) -> str:
    """``default-src 'self'; script-src 'self'; …`` in the settings' order."""
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


def csp_update(**directives: str) -> Callable:
    """View decorator: these directives replace the site's for this view's responses.

    Keyword names use underscores (``frame_ancestors="*"`` sets ``frame-ancestors *``).
    """
    update = {name.replace("_", "-"): sources for name, sources in directives.items()}

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            response = view(*args, **kwargs)
            response.csp_update = {**getattr(response, "csp_update", {}), **update}
            return response

        return wrapped

    return decorator


class ContentSecurityPolicyMiddleware:
    """Sets the policy on HTML responses that do not carry one already.

    Only HTML is covered: a JSON or JavaScript body is never parsed as a document, so a policy
    there protects nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if HEADER in response or not response.get("Content-Type", "").startswith("text/html"):
            return response
        directives = {**settings.CONTENT_SECURITY_POLICY, **getattr(response, "csp_update", {})}
        response[HEADER] = policy_header(directives)
        return response
