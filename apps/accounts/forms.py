from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.db import transaction

from apps.core.errors import ServiceError
from apps.core.http import client_ip
from apps.core.text import required_name, single_line
from apps.core.audit import Actor
from apps.organizations.services import invitation_check_open, invitation_lookup


class SignupForm(AllauthSignupForm):
    """Sign-up creates an organization with the new user as its owner.

    Someone signing up from an invitation link joins that organization instead (after
    accepting), so the organization name is optional then.
    """

    organization_name = forms.CharField(
        max_length=100,
        required=False,
        label="Organization name",
        help_text="Your team's workspace. Leave empty if you are joining through an invitation.",
    )
    field_order = ["organization_name", "email", "password1", "password2"]

    def clean_organization_name(self) -> str:
        """Checked here, with the other fields, so a refused name never leaves a user without
        the organization sign-up promised (``custom_signup`` runs after the user is saved)."""
        name = self.cleaned_data.get("organization_name") or ""
        if not name.strip():
            return ""
        try:
            return required_name(name, field="organization_name")
        except ServiceError as error:
            raise forms.ValidationError(error.message, code=error.code) from None

    def _pending_invitation(self, request):
        """The open invitation whose link brought this visitor here, if any.

        A used, revoked or expired one does not count: its holder could never accept it and
        would otherwise end up signed up with no organization at all.
        """
        token = request.session.get("pending_invitation") if request is not None else None
        if not token:
            return None
        try:
            invitation = invitation_lookup(token=token)
            invitation_check_open(invitation=invitation)
        except ServiceError:
            return None
        return invitation

    @transaction.atomic
    def custom_signup(self, request, user) -> None:
        from apps.organizations.services import organization_create

        invitation = self._pending_invitation(request)
        name = self.cleaned_data.get("organization_name") or ""
        if invitation is not None and invitation.email.lower() == user.email.lower() and not name:
            return
        # A quoted local part may hold control characters an e-mail validator lets through.
        default = f"{single_line(user.email.rsplit('@', 1)[0]) or 'My'}'s team"
        organization_create(name=name or default, owner=user, actor=Actor(user=user, ip_address=client_ip(request)))
