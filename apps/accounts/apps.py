from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from allauth.mfa.models import Authenticator

        from apps.accounts.adapters import mfa_data_reseal
        from apps.core import sealing

        sealing.register("mfa.authenticator", model=Authenticator, field="data", reseal=mfa_data_reseal)
