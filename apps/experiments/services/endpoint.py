"""The worker calls the customer's endpoint once per case, signed, and stores what it answers.

Each call POSTs ``{"experiment": {"id", "name"}, "case": {"id", "input", "history", "context",
"expected_output", "metadata"}}`` signed with the endpoint's secret (``AgentLoop-Signature:
t=…,v1=…`` HMAC-SHA256 over ``timestamp.body``, apps.core.signatures.post_signed: per-call
timeout, retries with backoff on 5xx/429). The answer must be JSON ``{"output": str, "scores"?:
{name: number | bool}}``; a timeout, a refusal, a 4xx or garbage is that case's ``error`` (shown
on the page), never a failure of the run. Calls run the experiment's ``endpoint_concurrency``
at a time (threads; the database is written from the calling thread only), each with its
``endpoint_timeout_seconds`` (both set at creation: 8 and 10 s by default). Cases that already have a result are skipped,
so a rerun only retries what is missing.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from django.utils import timezone

from apps.core.errors import ValidationFailed
from apps.core.signatures import EndpointFailed, EndpointRefused, check_endpoint, post_signed
from apps.datasets.selectors import datasets as dataset_selectors
from apps.experiments.models import Experiment, ExperimentResult, ExperimentStatus
from apps.experiments.services.experiments import experiment_score, results_upload

CONCURRENCY = 8
MAX_CONCURRENCY = 32
TIMEOUT_SECONDS = 10.0
MAX_TIMEOUT_SECONDS = 60.0
ATTEMPTS = 3
CHUNK = 200


def endpoint_url_clean(url) -> str:
    """The URL if the worker may call it, else 400 ``invalid_endpoint``."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        raise ValidationFailed("The endpoint is an https:// URL of at most 2000 characters.", code="invalid_endpoint", field="endpoint")
    try:
        return check_endpoint(url)
    except EndpointRefused as exc:
        raise ValidationFailed(str(exc), code="invalid_endpoint", field="endpoint") from None


def endpoint_clean(endpoint) -> dict:
    """``{"url", "secret", "timeout", "concurrency"}`` checked (``timeout`` and ``concurrency``
    optional), else 400 ``invalid_endpoint`` naming the field; the page and the API share it."""
    def bad(message: str, field: str = "endpoint") -> ValidationFailed:
        return ValidationFailed(message, code="invalid_endpoint", field=field)

    if not isinstance(endpoint, dict) or set(endpoint) - {"url", "secret", "timeout", "concurrency"}:
        raise bad("`endpoint` is {\"url\", \"secret\", \"timeout\"?, \"concurrency\"?}.")
    secret = endpoint.get("secret")
    if not isinstance(secret, str) or not 16 <= len(secret) <= 200 or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in secret):
        raise bad("The endpoint's secret is 16-200 characters (no control characters).", "endpoint.secret")
    timeout = endpoint.get("timeout", TIMEOUT_SECONDS)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise bad(f"The timeout is 1-{MAX_TIMEOUT_SECONDS:g} seconds a call.", "endpoint.timeout")
    concurrency = endpoint.get("concurrency", CONCURRENCY)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise bad(f"Concurrency is 1-{MAX_CONCURRENCY} calls at a time.", "endpoint.concurrency")
    return {"url": endpoint_url_clean(endpoint.get("url")), "secret": secret, "timeout": float(timeout),
            "concurrency": concurrency}


def _call(url: str, secret: str, body: bytes, timeout: float, attempts: int) -> tuple[dict, float]:
    started = time.monotonic()
    try:
        response = post_signed(url, body, secret=secret, timeout=timeout, attempts=attempts, backoff=0.2)
    except (EndpointFailed, EndpointRefused) as exc:
        return {"error": str(exc)}, (time.monotonic() - started) * 1000
    elapsed = (time.monotonic() - started) * 1000
    if response.status >= 300:
        return {"error": f"The endpoint answered {response.status}."}, elapsed
    try:
        answer = json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {"error": "The endpoint's answer is not JSON."}, elapsed
    if not isinstance(answer, dict) or not isinstance(answer.get("output"), str):
        return {"error": "The endpoint's answer is not {\"output\": string, \"scores\"?: {…}}."}, elapsed
    return {"output": answer["output"], "scores": answer.get("scores") or {}}, elapsed


def endpoint_run(*, experiment: Experiment, timeout: float | None = None, attempts: int = ATTEMPTS,
                 concurrency: int | None = None) -> Experiment:
    if not experiment.endpoint_url or not experiment.endpoint_secret:
        Experiment.objects.for_project(experiment.project).filter(pk=experiment.pk).update(
            status=ExperimentStatus.FAILED, error="This experiment has no endpoint.", updated_at=timezone.now())
        experiment.refresh_from_db()
        return experiment
    timeout = timeout or experiment.endpoint_timeout_seconds
    concurrency = concurrency or experiment.endpoint_concurrency
    try:
        secret = experiment.endpoint_secret_plain()
    except Exception:  # noqa: BLE001 - a secret that no longer unseals (rotated SECRET_KEY)
        Experiment.objects.for_project(experiment.project).filter(pk=experiment.pk).update(
            status=ExperimentStatus.FAILED, error="The endpoint's secret cannot be unsealed; set it again.", updated_at=timezone.now())
        experiment.refresh_from_db()
        return experiment
    Experiment.objects.for_project(experiment.project).filter(pk=experiment.pk).update(status=ExperimentStatus.RUNNING, error="")
    done = set(ExperimentResult.objects.for_project(experiment.project).filter(experiment=experiment, error="")
               .values_list("case_id", flat=True))
    cases = [c for c in dataset_selectors.revisions_at(dataset=experiment.dataset, number=experiment.dataset_version).order_by("position")
             if c.case_id not in done]
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, MAX_CONCURRENCY))) as pool:
        for start in range(0, len(cases), CHUNK):
            chunk = cases[start:start + CHUNK]
            bodies = [json.dumps({
                "experiment": {"id": experiment.pk, "name": experiment.name},
                "case": {"id": str(c.case_id), "input": c.input, "history": c.history, "context": c.context,
                         "expected_output": c.expected_output, "metadata": c.metadata},
            }).encode() for c in chunk]
            answers = list(pool.map(lambda b: _call(experiment.endpoint_url, secret, b, timeout, attempts), bodies))
            items, latency = [], {}
            for case, (answer, elapsed) in zip(chunk, answers):
                latency[case.case_id] = round(elapsed, 1)
                item = {"case_id": str(case.case_id), "output": answer.get("output", ""), "scores": answer.get("scores", {})}
                if "error" in answer:
                    item["error"] = answer["error"]
                items.append(item)
            upload = results_upload(experiment=experiment, items=items, latency=latency)
            refused = [  # the answer's output or scores were malformed: the case's error says so
                {"case_id": o.case_id, "output": "", "error": f"The endpoint's answer was refused: {o.message}"}
                for o in upload.outcomes if o.status == 400
            ]
            if refused:
                results_upload(experiment=experiment, items=refused, latency=latency)
    return experiment_score(experiment=experiment)
