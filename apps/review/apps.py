from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "apps.review"
    label = "review"

    def ready(self) -> None:
        from apps.core import hooks
        from apps.projects.services import PROJECT_CREATED_HOOK
        from apps.review.selectors import detector_precision
        from apps.review.services.queues import review_default_queue_ensure

        hooks.register("review.detector_precision", detector_precision)  # the Detectors tab (apps.detection)
        hooks.register(PROJECT_CREATED_HOOK, review_default_queue_ensure)
