from django.apps import AppConfig
from django.core import checks


class DetectionConfig(AppConfig):
    name = "apps.detection"
    label = "detection"

    def ready(self) -> None:
        from apps.core import hooks
        from apps.detection.services.run import detection_enqueue
        from apps.traces.services.write import CAPTURE_COMMITTED_HOOK

        checks.register(similarity_backend_check)
        hooks.register(CAPTURE_COMMITTED_HOOK, detection_enqueue)


def similarity_backend_check(app_configs=None, **kwargs) -> list:
    """``AGENTLOOP_SIMILARITY_BACKEND`` must import (the backend itself is built on first use,
    in the worker, so a model is not loaded by every management command)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = settings.SIMILARITY_BACKEND
    if not path:
        return []
    try:
        factory = import_string(path)
    except ImportError as error:
        return [checks.Error(f"AGENTLOOP_SIMILARITY_BACKEND={path!r} cannot be imported: {error}", id="detection.E001")]
    if not callable(factory):
        return [checks.Error(f"AGENTLOOP_SIMILARITY_BACKEND={path!r} is not callable.", id="detection.E002")]
    return []
