from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "apps.feedback"
    label = "feedback"

    def ready(self) -> None:
        from apps.core import hooks
        from apps.feedback.links import feedback_url_for
        from apps.traces.api import FEEDBACK_URL_HOOK

        hooks.register(FEEDBACK_URL_HOOK, feedback_url_for)
