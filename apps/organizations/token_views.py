"""The organization settings page's tokens: create (the secret shown once) and revoke (admins)."""

from __future__ import annotations

import logging
import secrets

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic.base import TemplateResponseMixin

from apps.core import hooks
from apps.core.audit import Actor
from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.core.views import service_error_to_form
from apps.organizations import selectors, tokens
from apps.organizations.forms import OrganizationSettingsForm, OrgTokenForm
from apps.organizations.tenancy import OrganizationViewMixin

logger = logging.getLogger(__name__)
SECRET_TTL_SECONDS = 120


def new_token_cache_key(request, organization, nonce: str) -> str:
    return f"agentloop:new-org-token:{request.session.session_key}:{organization.pk}:{nonce}"


def take_shown_token(request, organization) -> dict | None:
    """The token just created for this page (``?created=<nonce>``), removed as it is read; None
    when there is none or Redis cannot say."""
    nonce = request.GET.get("created", "")
    if not nonce or not request.session.session_key:
        return None
    key = new_token_cache_key(request, organization, nonce)
    try:
        shown = cache.get(key)
        if shown is not None:
            cache.delete(key)
    except Exception:  # noqa: BLE001 - the cache is Redis; a dead one only means nothing to show
        logger.warning("new organization token: cache unavailable", exc_info=True)
        return None
    return shown


class SettingsPageMixin(TemplateResponseMixin):
    """The settings page (retention + tokens); the token views re-render it on a refusal."""

    template_name = "organizations/settings.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault(
            "form",
            OrganizationSettingsForm(
                initial={"name": self.organization.name, "retention_days": self.organization.retention_days}
            ),
        )
        kwargs.setdefault("token_form", OrgTokenForm())
        context = super().get_context_data(**kwargs)
        context["org_tokens"] = selectors.org_token_list(organization=self.organization)
        context["retention_panel"] = hooks.call("governance.retention_panel", organization=self.organization)
        return context

    def show_secret(self, token, secret: str, status: int = 200):
        response = self.render_to_response(self.get_context_data(new_token=token, new_secret=secret), status=status)
        response["Cache-Control"] = "no-store"
        return response


class OrgTokenCreateView(SettingsPageMixin, OrganizationViewMixin, View):
    """Create-then-redirect (POST/303/GET): a reload never makes a second token. The secret
    crosses the redirect through the cache for two minutes, keyed by a nonce bound to the
    session; with Redis down it is shown in the POST's answer rather than lost."""

    required_role = {"POST": Role.ADMIN}

    def post(self, request, org):
        form = OrgTokenForm(request.POST)
        if form.is_valid():
            try:
                token, secret = tokens.org_token_create(
                    organization=self.organization, acting=self.membership, actor=Actor.from_request(request),
                    name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"],
                )
            except ServiceError as error:
                service_error_to_form(form, error)
            else:
                if not request.session.session_key:
                    request.session.save()
                nonce = secrets.token_urlsafe(16)
                try:
                    cache.set(
                        new_token_cache_key(request, self.organization, nonce),
                        {"token_id": token.token_id, "secret": secret}, SECRET_TTL_SECONDS,
                    )
                except Exception:  # noqa: BLE001 - Redis is down: show the secret now rather than lose it
                    logger.warning("new organization token: cache unavailable; showing it in the answer", exc_info=True)
                    return self.show_secret(token, secret, status=201)
                url = reverse("organization_settings", kwargs={"org": org})
                return HttpResponseRedirect(f"{url}?created={nonce}#tokens", status=303)
        return self.render_to_response(self.get_context_data(token_form=form), status=400)


class OrgTokenRevokeView(SettingsPageMixin, OrganizationViewMixin, View):
    required_role = {"POST": Role.ADMIN}

    def resolve_tenant(self, request, **kwargs) -> None:
        self.token = selectors.org_token_get(organization=self.organization, token_id=kwargs["token_id"])

    def post(self, request, org, token_id):
        try:
            tokens.org_token_revoke(token=self.token, actor=Actor.from_request(request))
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_to_response(self.get_context_data(), status=error.status)
        messages.success(request, f"Revoked {self.token.name}. It stopped working immediately.")
        return redirect("organization_settings", org=org)
