from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View
from django.utils import timezone
from django.views.generic import TemplateView
from django.views.generic.base import TemplateResponseMixin

from apps.core import hooks
from apps.core.errors import ServiceError
from apps.core.roles import Role
from apps.core.views import service_error_to_form
from apps.core.audit import Actor
from apps.organizations import selectors, services
from apps.organizations.forms import InvitationForm, OrganizationForm, OrganizationSettingsForm, RoleForm
from apps.organizations.tenancy import OrganizationViewMixin
from apps.organizations.token_views import SettingsPageMixin, take_shown_token


def home(request):
    if not request.user.is_authenticated:
        return redirect("account_login")
    memberships = selectors.organization_list_for_user(user=request.user)
    if len(memberships) == 1:
        return redirect("organization_detail", org=memberships[0].organization.slug)
    return redirect("organization_list")


class OrganizationListView(LoginRequiredMixin, TemplateView):
    template_name = "organizations/organization_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["memberships"] = selectors.organization_list_for_user(user=self.request.user)
        context.setdefault("form", OrganizationForm())
        return context

    def post(self, request):
        form = OrganizationForm(request.POST)
        if form.is_valid():
            try:
                organization = services.organization_create(
                    name=form.cleaned_data["name"], owner=request.user, actor=Actor.from_request(request)
                )
            except ServiceError as error:
                service_error_to_form(form, error)
            else:
                messages.success(request, f"Created {organization.name}.")
                return redirect("organization_detail", org=organization.slug)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class MembersPageMixin(TemplateResponseMixin):
    """The members page; the inline actions posted from it re-render it when they are refused."""

    template_name = "organizations/members.html"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", InvitationForm())
        context = super().get_context_data(**kwargs)
        context["members"] = selectors.membership_list(organization=self.organization)
        if self.is_admin:
            context["invitations"] = selectors.invitation_list_open(organization=self.organization)
        context["roles"] = Role.choices
        context["now"] = timezone.now()
        context["invitation_ttl_days"] = settings.INVITATION_TTL_DAYS
        return context

    def refuse(self, request, message: str, status: int):
        """Show the refusal on the members page with the status the API would give (400/403/409)."""
        messages.error(request, message)
        return self.render_to_response(self.get_context_data(), status=status)


class MemberListView(MembersPageMixin, OrganizationViewMixin, TemplateView):
    required_role = {"GET": Role.MEMBER, "POST": Role.ADMIN}

    def post(self, request, org):
        """Invite someone by e-mail."""
        form = InvitationForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                invitation, token = services.invitation_create(
                    organization=self.organization, acting=self.membership, actor=Actor.from_request(request),
                    email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                )
            except ServiceError as error:
                service_error_to_form(form, error)
                status = error.status
            else:
                messages.success(
                    request, f"Invitation sent to {invitation.email}. Link: {services.invitation_url(token)}"
                )
                return redirect("member_list", org=org)
        return self.render_to_response(self.get_context_data(form=form), status=status)


class MemberRoleView(MembersPageMixin, OrganizationViewMixin, View):
    required_role = {"POST": Role.ADMIN}

    def resolve_tenant(self, request, **kwargs) -> None:
        self.target = selectors.membership_get(organization=self.organization, membership_id=kwargs["member"])

    def post(self, request, org, member):
        target = self.target
        form = RoleForm(request.POST)
        if not form.is_valid():
            return self.refuse(request, "Choose one of the listed roles.", status=400)
        try:
            services.membership_change_role(
                membership=target, acting=self.membership, role=form.cleaned_data["role"],
                actor=Actor.from_request(request),
            )
        except ServiceError as error:
            return self.refuse(request, error.message, status=error.status)
        messages.success(request, f"{target.user.email} is now {form.cleaned_data['role']}.")
        return redirect("member_list", org=org)


class MemberRemoveView(MembersPageMixin, OrganizationViewMixin, View):
    """Admins remove members; any member may remove themselves (leave)."""

    required_role = {"POST": Role.MEMBER}

    def resolve_tenant(self, request, **kwargs) -> None:
        self.target = selectors.membership_get(organization=self.organization, membership_id=kwargs["member"])

    def post(self, request, org, member):
        target = self.target
        try:
            services.membership_remove(membership=target, acting=self.membership, actor=Actor.from_request(request))
        except ServiceError as error:
            return self.refuse(request, error.message, status=error.status)
        if target.pk == self.membership.pk:
            messages.success(request, f"You left {self.organization.name}.")
            return redirect("home")
        messages.success(request, f"Removed {target.user.email}.")
        return redirect("member_list", org=org)


class InvitationRevokeView(MembersPageMixin, OrganizationViewMixin, View):
    required_role = {"POST": Role.ADMIN}

    def resolve_tenant(self, request, **kwargs) -> None:
        self.target = selectors.invitation_get(organization=self.organization, invitation_id=kwargs["invitation"])

    def post(self, request, org, invitation):
        target = self.target
        try:
            services.invitation_revoke(invitation=target, actor=Actor.from_request(request))
        except ServiceError as error:
            return self.refuse(request, error.message, status=error.status)
        messages.success(request, f"Revoked the invitation for {target.email}.")
        return redirect("member_list", org=org)


class InvitationAcceptView(View):
    """The e-mailed link. Anonymous visitors are asked to sign up or log in, then come back."""

    template_name = "organizations/invitation_accept.html"

    def _render(self, request, token, **context):
        status = context.pop("status", 200)
        return render(request, self.template_name, {"token": token, **context}, status=status)

    def get(self, request, token):
        try:
            invitation = services.invitation_lookup(token=token)
            services.invitation_check_open(invitation=invitation)
        except ServiceError as error:
            return self._render(request, token, error=error.message, status=error.status)
        if not request.user.is_authenticated:
            request.session["pending_invitation"] = token
        return self._render(request, token, invitation=invitation)

    def post(self, request, token):
        if not request.user.is_authenticated:
            return redirect(f"/accounts/login/?next={request.path}")
        try:
            membership = services.invitation_accept(token=token, user=request.user, actor=Actor.from_request(request))
        except ServiceError as error:
            return self._render(request, token, error=error.message, status=error.status)
        request.session.pop("pending_invitation", None)
        messages.success(request, f"Welcome to {membership.organization.name}.")
        return redirect("organization_detail", org=membership.organization.slug)


class OrganizationSettingsView(SettingsPageMixin, OrganizationViewMixin, TemplateView):
    """Name and retention, and the organization's API tokens (apps.organizations.token_views)."""

    required_role = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def get(self, request, org):
        shown = take_shown_token(request, self.organization)
        if shown is None:
            return self.render_to_response(self.get_context_data())
        token = selectors.org_token_get(organization=self.organization, token_id=shown["token_id"])
        return self.show_secret(token, shown["secret"])

    def post(self, request, org):
        form = OrganizationSettingsForm(request.POST)
        days = form.cleaned_data["retention_days"] if form.is_valid() else None
        unconfirmed = days is not None and days != self.organization.retention_days and request.POST.get("confirm_retention") != str(days)
        if days is not None and (request.POST.get("action") == "preview" or unconfirmed):
            # A retention change is shown first with what it would delete on the next expire run
            # (nothing is saved); "Confirm and save" posts it again with ``confirm_retention``.
            preview = hooks.call("governance.retention_preview", organization=self.organization, retention_days=days)
            return self.render_to_response(self.get_context_data(form=form, retention_preview=preview))
        if form.is_valid():
            try:
                services.organization_update(
                    organization=self.organization, actor=Actor.from_request(request), **form.cleaned_data
                )
            except ServiceError as error:
                service_error_to_form(form, error)
            else:
                messages.success(request, "Settings saved.")
                return redirect("organization_settings", org=org)
        return self.render_to_response(self.get_context_data(form=form), status=400)
