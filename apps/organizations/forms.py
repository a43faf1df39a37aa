from django import forms

from apps.core.roles import Role
from apps.organizations.models import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=100, label="Organization name")


class OrganizationSettingsForm(forms.Form):
    name = forms.CharField(max_length=100, label="Organization name")
    retention_days = forms.IntegerField(
        min_value=RETENTION_DAYS_MIN,
        max_value=RETENTION_DAYS_MAX,
        label="Keep unreviewed turns for (days)",
        help_text=f"Between {RETENTION_DAYS_MIN} and {RETENTION_DAYS_MAX}. Reviewed turns and eval cases are kept.",
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=254, label="E-mail address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class OrgTokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Token name", help_text="Where it is used, e.g. 'CI review bot'.")
    scopes = forms.MultipleChoiceField(
        choices=[
            ("read", "read — every read (GET) of the management API"),
            ("review", "review — claim and decide in the queues you work"),
            ("datasets", "datasets — write dataset cases and prompt versions"),
            ("admin", "admin — everything your role allows"),
        ],
        widget=forms.CheckboxSelectMultiple,
        initial=["read"],
        label="Scopes",
        help_text="The token acts as you: never above your role, and it stops working if you leave.",
    )
