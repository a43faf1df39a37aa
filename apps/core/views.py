"""HTML plumbing that knows no domain: service errors on forms, error pages, health.

The tenant-resolving mixins live with the models they resolve (apps.organizations.tenancy,
apps.projects.tenancy)."""

from __future__ import annotations

import time

from django.contrib import messages
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.shortcuts import render
from django.views import View

from apps.core.errors import ServiceError
from apps.core.sql import tenant_sql


def service_error_to_form(form, error: ServiceError) -> None:
    """Show a service refusal on the form field it names (or at the top of the form)."""
    field = error.field if error.field in getattr(form, "fields", {}) else None
    form.add_error(field, error.message)


def flash_service_error(request, error: ServiceError) -> None:
    messages.error(request, error.message)


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def error_404(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"code": "not_found", "message": "Not found.", "field": None}, status=404)
    return render(request, "404.html", status=404)


def error_403(request, exception=None):
    message = str(exception) if exception and str(exception) else "You do not have permission to do that."
    if _wants_json(request):
        return JsonResponse({"code": "permission_denied", "message": message, "field": None}, status=403)
    return render(request, "403.html", {"message": message}, status=403)


def error_500(request):
    if _wants_json(request):
        return JsonResponse({"code": "server_error", "message": "Internal server error.", "field": None}, status=500)
    return render(request, "500.html", status=500)


def error_400(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        message = f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        if _wants_json(request):
            return JsonResponse({"code": "payload_too_large", "message": message, "field": None}, status=413)
        return render(request, "400.html", {"message": message}, status=413)
    if _wants_json(request):
        return JsonResponse({"code": "bad_request", "message": "Bad request.", "field": None}, status=400)
    return render(request, "400.html", status=400)


def _check(probe) -> dict:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


def _database_probe() -> None:
    with tenant_sql(unscoped="the health probe reads no table") as cursor:
        cursor.execute("SELECT 1")


def _redis_probe() -> None:
    from apps.core.redis import redis_client

    redis_client().ping()


class HealthView(View):
    """``GET /healthz``: database and Redis reachability; 503 if either is down.

    Also reports when the Celery worker last ran the beat heartbeat (informational), and this web
    process's Redis breakers: task publishes that failed or were skipped (``broker``, the sweep
    does their work) and rate-limit checks that failed open (``rate_limiter``). Each Redis call
    here waits at most ``settings.REDIS_TIMEOUT_SECONDS``, so a hung Redis cannot hang the probe.
    """

    def get(self, request):
        from apps.core.redis import LIMITER
        from apps.core.tasks import BROKER, heartbeat_age_seconds

        checks = {"database": _check(_database_probe), "redis": _check(_redis_probe)}
        healthy = all(check["ok"] for check in checks.values())
        body = {"status": "ok" if healthy else "unavailable", "checks": checks}
        if checks["redis"]["ok"]:
            try:
                body["worker_heartbeat_age_seconds"] = heartbeat_age_seconds()
            except Exception:  # noqa: BLE001 - Redis went away between the probe and this read
                body["worker_heartbeat_age_seconds"] = None
        broker = BROKER.as_dict()
        body["broker"] = {"publish_failures": broker.pop("failures"), "publishes_skipped": broker.pop("skipped"), **broker}
        body["rate_limiter"] = LIMITER.as_dict()
        return JsonResponse(body, status=200 if healthy else 503)
