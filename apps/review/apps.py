from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "apps.review"
    label = "review"

    def ready(self) -> None:
        from apps.core import hooks
        from apps.review.selectors import detector_precision

        hooks.register("review.detector_precision", detector_precision)  # the Detectors tab (apps.detection)
