from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "apps.governance"
    label = "governance"

    def ready(self):
        from apps.core import audit, hooks
        from apps.governance.services import audit_record

        hooks.register(audit.AUDIT_HOOK, audit_record)

        from apps.governance import integrations

        hooks.register("governance.retention_panel", integrations.retention_panel)
        hooks.register("governance.retention_preview", integrations.retention_preview)
        hooks.register("governance.turn_retention", integrations.turn_retention)
