from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up is open unless AGENTLOOP_SIGNUP_OPEN is false (self-hosted, invitation-only installs)."""

    def is_open_for_signup(self, request) -> bool:
        return getattr(settings, "SIGNUP_OPEN", True)
