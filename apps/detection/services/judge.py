"""The LLM judge: its audited settings, a connection test, and judging turns.

A run (``judge_turns``) judges each (turn, kind) the project chose once per prompt and model:
verdicts already stored (``JudgeVerdict``, the cache) are skipped, so a rerun sends nothing.
Before any request it reserves the turns it is about to judge against the daily budget (a
locked usage row); each request takes a token from the project's Redis bucket
(``requests_per_minute``), and when the bucket is empty the rest of the run is *deferred*: the
task publishes itself again for those turns when the next token is due, and gives back their
budget. Requests run ``judge.CONCURRENCY`` at a time, each with a timeout and retries with
backoff (``apps.core.signatures.post_json``); a malformed reply or a request that failed every
attempt is logged and counted, never stored as a verdict (the turn is judged again by a later
run). A positive verdict is a ``traces.Signal`` (source ``llm_judge``, one per turn and kind:
dedupe key ``llm_judge``) whose ``value`` carries the confidence, the reason and the model; such
turns then go to review routing like the detectors' findings.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.audit import Actor, AuditAction, audit_record
from apps.core.errors import ServiceError, ValidationFailed
from apps.core.ratelimit import take_token
from apps.core.sealing import Unsealable, seal
from apps.core.signatures import EndpointFailed, EndpointRefused, check_endpoint, post_json
from apps.detection import judge, selectors
from apps.detection.models import JudgeSettings, JudgeUsage, JudgeVerdict, judge_key_context
from apps.detection.services.run import routing_enqueue
from apps.traces.models import Signal, SignalSource, Turn

logger = logging.getLogger(__name__)

MAX_PROMPT = 4000
SIGNAL_DEDUPE_KEY = "llm_judge"
SAMPLE = judge.Conversation(
    turn_id="sample", question="Can I speak to a real person please?",
    answer="I'm sorry, I can't help with that.", next_question="hello?? anyone there",
)


class JudgeUnavailable(ServiceError):
    status = 502
    code = "judge_unavailable"


def _snapshot(row: JudgeSettings) -> dict:
    return {
        "enabled": row.enabled, "endpoint_url": row.endpoint_url, "model": row.model, "api_key": bool(row.api_key),
        "signal_kinds": row.signal_kinds, "prompts": row.prompts, "requests_per_minute": row.requests_per_minute,
        "turns_per_day": row.turns_per_day, "price_per_1k_tokens": str(row.price_per_1k_tokens),
    }


def _whole(value, *, field: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is a whole number.", field=field) from None
    if not low <= number <= high:
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is between {low} and {high}.", field=field)
    return number


def _price(value) -> Decimal:
    try:
        price = Decimal(str(value).strip() or "0")
    except ArithmeticError:
        raise ValidationFailed("The price is a number.", field="price_per_1k_tokens") from None
    if not price.is_finite() or not 0 <= price <= 1000:
        raise ValidationFailed("The price per 1k tokens is between 0 and 1000.", field="price_per_1k_tokens")
    return price.quantize(Decimal("0.000001"))


def _text(value, *, field: str, limit: int) -> str:
    text = str(value or "").strip()
    if "\x00" in text or len(text) > limit:
        raise ValidationFailed(f"The {field.replace('_', ' ')} is at most {limit} characters of text.", field=field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed(f"The {field.replace('_', ' ')} is not valid text.", field=field) from None
    return text


@transaction.atomic
def judge_settings_update(
    *, project, actor: Actor, enabled: bool, endpoint_url: str, model: str, api_key: str | None,
    signal_kinds: list[str], prompts: dict, requests_per_minute, turns_per_day, price_per_1k_tokens,
) -> JudgeSettings:
    """Validate and store the judge's settings; audited (the key only as set / not set).

    ``api_key`` None keeps the stored key, "" removes it. A prompt equal to the default is not
    stored (so the project follows the default). The endpoint follows the SSRF rules of
    ``apps.core.signatures.check_endpoint``.
    """
    endpoint_url = _text(endpoint_url, field="endpoint_url", limit=500)
    if endpoint_url:
        try:
            check_endpoint(endpoint_url)
        except EndpointRefused as error:
            raise ValidationFailed(str(error), field="endpoint_url") from None
    model = _text(model, field="model", limit=100)
    unknown = [kind for kind in signal_kinds if kind not in judge.JUDGED_KINDS]
    if unknown:
        raise ValidationFailed(f"The judge does not judge {unknown[0]!r}.", field="signal_kinds")
    cleaned_prompts = {}
    for kind, prompt in (prompts or {}).items():
        if kind not in judge.JUDGED_KINDS:
            raise ValidationFailed(f"The judge does not judge {kind!r}.", field="prompts")
        prompt = _text(prompt, field="prompt", limit=MAX_PROMPT)
        if prompt and prompt != judge.DEFAULT_PROMPTS[kind]:
            cleaned_prompts[kind] = prompt
    if enabled and not (endpoint_url and model and signal_kinds):
        raise ValidationFailed("To turn the judge on, give an endpoint, a model and at least one signal kind.", field="enabled")
    row = JudgeSettings.objects.for_project(project).select_for_update().first() or JudgeSettings(project=project)
    before = _snapshot(row) if row.pk else None
    row.enabled, row.endpoint_url, row.model = bool(enabled), endpoint_url, model
    row.signal_kinds = [kind for kind in judge.JUDGED_KINDS if kind in signal_kinds]
    row.prompts = cleaned_prompts
    row.requests_per_minute = _whole(requests_per_minute, field="requests_per_minute", low=1, high=10_000)
    row.turns_per_day = _whole(turns_per_day, field="turns_per_day", low=0, high=10_000_000)
    row.price_per_1k_tokens = _price(price_per_1k_tokens)
    if api_key is not None:
        api_key = _text(api_key, field="api_key", limit=500)
        row.api_key = seal(api_key.encode(), context=judge_key_context(project.pk)) if api_key else None
    row.save()
    after = _snapshot(row)
    if after != before:
        audit_record(
            organization=project.organization, actor=actor, action=AuditAction.DETECTOR_CHANGED,
            target_type="detector", target_id=f"{project.pk}:llm_judge", target_label=f"{project.name} · llm_judge",
            before=before, after=after,
        )
    return row


def _ask(settings: JudgeSettings, key: str, kind: str, conversation: judge.Conversation) -> judge.Verdict:
    """One request; ``EndpointFailed`` after the retries, ``judge.Malformed`` on a bad reply."""
    body = judge.request_body(model=settings.model, prompt=judge.prompt_for(kind, settings.prompts), conversation=conversation)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = post_json(
        settings.endpoint_url, body, headers=lambda: headers, timeout=judge.TIMEOUT_SECONDS, attempts=judge.ATTEMPTS,
    )
    if response.status >= 400:
        raise EndpointFailed(f"The endpoint answered {response.status}.", response.attempts)
    return judge.parse_reply(response.body)


def _key(settings: JudgeSettings) -> str:
    try:
        return settings.api_key_plain()
    except Unsealable:
        raise JudgeUnavailable("The judge's API key cannot be opened (was the secret key rotated?); enter it again.") from None


def judge_test_connection(*, project) -> judge.Verdict:
    """Send one sample turn to the configured endpoint; the verdict, or ``JudgeUnavailable``
    saying what went wrong. Not counted against the budget, not stored."""
    settings = selectors.judge_settings_get(project=project)
    if not (settings.endpoint_url and settings.model):
        raise ValidationFailed("Save an endpoint and a model first.", field="endpoint_url")
    try:
        return _ask(settings, _key(settings), (settings.signal_kinds or ["escalation"])[0], SAMPLE)
    except (EndpointFailed, EndpointRefused) as error:
        raise JudgeUnavailable(str(error)) from None
    except judge.Malformed as error:
        raise JudgeUnavailable(f"The endpoint answered, but not with a verdict: {error}.") from None


@dataclass
class JudgeRun:
    judged: int = 0
    positive: int = 0
    cached: int = 0
    malformed: int = 0
    failed: int = 0
    over_budget: int = 0
    deferred: list[str] = field(default_factory=list)  # turn ids to judge again later
    retry_in: float = 0.0


def _usage_row(project, day) -> JudgeUsage:
    JudgeUsage.objects.bulk_create([JudgeUsage(project=project, day=day)], ignore_conflicts=True)
    return JudgeUsage.objects.for_project(project).select_for_update().get(day=day)


def _reserve(project, day, wanted: int, limit: int) -> int:
    """Count up to ``wanted`` turns against today's budget; returns how many were granted."""
    with transaction.atomic():
        row = _usage_row(project, day)
        granted = max(0, min(wanted, limit - row.turns))
        if granted:
            JudgeUsage.objects.for_project(project).filter(pk=row.pk).update(turns=F("turns") + granted)
    return granted


def judge_turns(*, project, turn_ids, now=None) -> JudgeRun:
    """Judge these turns for the project's chosen kinds (module doc). Safe to run twice."""
    run = JudgeRun()
    settings = selectors.judge_settings_get(project=project)
    if not (settings.enabled and settings.endpoint_url and settings.model and settings.signal_kinds):
        return run
    now = now or timezone.now()
    day = now.date()
    digests = {kind: judge.prompt_hash(judge.prompt_for(kind, settings.prompts)) for kind in settings.signal_kinds}
    conversations = selectors.judge_conversations(project=project, turn_ids=turn_ids)
    cached = selectors.judge_cached(project=project, keys=[
        (c.turn_id, kind, digests[kind], settings.model) for c in conversations for kind in settings.signal_kinds
    ])
    run.cached = len(cached)
    key = _key(settings)
    pending = [c for c in conversations if any((c.turn_id, kind) not in cached for kind in settings.signal_kinds)]
    granted = _reserve(project, day, len(pending), settings.turns_per_day)
    run.over_budget = len(pending) - granted
    if run.over_budget:
        logger.info("judge budget for %s reached: %s turns not judged today", project.pk, run.over_budget)
    wanted = [
        (conversation, kind) for conversation in pending[:granted] for kind in settings.signal_kinds
        if (conversation.turn_id, kind) not in cached
    ]
    asked = wanted
    for index, _ in enumerate(wanted):
        wait = take_token(f"judge:{project.pk}", per_minute=settings.requests_per_minute)
        if wait > 0:
            asked, run.retry_in = wanted[:index], wait
            break
    if len(asked) < len(wanted):
        started = {conversation.turn_id for conversation, _ in asked}
        run.deferred = list(dict.fromkeys(conversation.turn_id for conversation, _ in wanted[len(asked):]))
        unused = sum(1 for turn_id in run.deferred if turn_id not in started)
        JudgeUsage.objects.for_project(project).filter(day=day).update(turns=F("turns") - unused)
    with ThreadPoolExecutor(max_workers=judge.CONCURRENCY) as pool:
        outcomes = list(pool.map(lambda pair: _outcome(settings, key, *pair), asked))
    _store(project, settings, digests, asked, outcomes, run, day, now)
    return run


def _outcome(settings, key, conversation, kind):
    try:
        return _ask(settings, key, kind, conversation)
    except judge.Malformed as error:
        logger.warning("judge reply for turn %s (%s) is malformed: %s", conversation.turn_id, kind, error)
        return error
    except (EndpointFailed, EndpointRefused) as error:
        logger.warning("judge request for turn %s (%s) failed: %s", conversation.turn_id, kind, error)
        return error


def _store(project, settings, digests, asked, outcomes, run, day, now) -> None:
    verdicts = []
    for (conversation, kind), outcome in zip(asked, outcomes):
        if isinstance(outcome, judge.Malformed):
            run.malformed += 1
        elif isinstance(outcome, Exception):
            run.failed += 1
        else:
            verdicts.append((conversation.turn_id, kind, outcome))
    run.judged = len(verdicts)
    run.positive = judge_verdicts_record(
        project=project, settings=settings, verdicts=verdicts, requests=len(asked), malformed=run.malformed,
        failures=run.failed, day=day, now=now,
    )


@transaction.atomic
def judge_verdicts_record(*, project, settings: JudgeSettings, verdicts, requests: int, malformed: int = 0,
                          failures: int = 0, day=None, now=None) -> int:
    """Store verdicts ``[(turn id, kind, judge.Verdict), …]`` as a run does (the cache rows, a
    ``llm_judge`` signal per positive one, routing for those turns) and count the usage; returns
    how many were positive. The one writer of verdicts: runs and the demo both call it."""
    now = now or timezone.now()
    day = day or now.date()
    expiry = dict(
        Turn.objects.for_project(project).filter(id__in=[turn_id for turn_id, _, _ in verdicts]).values_list("id", "expires_at")
    ) if verdicts else {}
    rows, signals = [], []
    prompt_tokens = completion_tokens = 0
    for turn_id, kind, outcome in verdicts:
        turn_id = uuid.UUID(str(turn_id))
        prompt_tokens += outcome.prompt_tokens
        completion_tokens += outcome.completion_tokens
        rows.append(JudgeVerdict(
            project=project, turn_id=turn_id, kind=kind, prompt_hash=judge.prompt_hash(judge.prompt_for(kind, settings.prompts)),
            model=settings.model, verdict=outcome.verdict, confidence=outcome.confidence, reason=outcome.reason,
            tokens=outcome.prompt_tokens + outcome.completion_tokens, created_at=now,
        ))
        if outcome.verdict:
            signals.append(Signal(
                project=project, turn_id=turn_id, kind=kind, source=SignalSource.LLM_JUDGE, dedupe_key=SIGNAL_DEDUPE_KEY,
                value={"confidence": outcome.confidence, "reason": outcome.reason, "model": settings.model},
                created_at=now, expires_at=expiry.get(turn_id),
            ))
    JudgeVerdict.objects.bulk_create(rows, ignore_conflicts=True)
    Signal.objects.bulk_create(signals, ignore_conflicts=True)
    if requests:
        tokens = prompt_tokens + completion_tokens
        _usage_row(project, day)
        JudgeUsage.objects.for_project(project).filter(day=day).update(
            requests=F("requests") + requests, prompt_tokens=F("prompt_tokens") + prompt_tokens,
            completion_tokens=F("completion_tokens") + completion_tokens,
            cost=F("cost") + settings.price_per_1k_tokens * Decimal(tokens) / 1000,
            malformed=F("malformed") + malformed, failures=F("failures") + failures,
        )
    if signals:
        routing_enqueue(project_id=project.pk, turn_ids=sorted({str(signal.turn_id) for signal in signals}))
    return len(signals)
