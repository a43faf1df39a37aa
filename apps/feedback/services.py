"""The no-login feedback widget: verify a signed link, then store feedback through capture's one
public door for it (``apps.traces.services.ingest.feedback_ingest``)."""

from __future__ import annotations

import time
import uuid

from django.conf import settings

from apps.core.errors import ServiceError
from apps.feedback.links import link_signing_key
from apps.feedback.signing import Claims, InvalidLink, read_claims, signature_matches
from apps.projects.models import ApiKey
from apps.traces import selectors as trace_selectors
from apps.traces.schemas import FeedbackIn
from apps.traces.services.batch import Outcome
from apps.traces.services.ingest import feedback_ingest

WIDGET_NAMESPACE = uuid.UUID("6f1d5c7e-3b0a-4f55-9a53-2d1c9e0b7a10")


class LinkError(ServiceError):
    """A link that cannot be used; ``code`` picks the page shown."""


def link_verify(token: str) -> tuple[ApiKey, Claims]:
    """The key and claims of a valid link. Checks, in order: shape, signature (constant time),
    key revocation, expiry — so an expired link of a revoked key says "revoked". A link whose
    expiry is further than ``FEEDBACK_LINK_MAX_TTL_SECONDS`` from now is refused like a bad one,
    whoever signed it (an SDK with a year-9999 expiry)."""
    try:
        claims, payload, signature = read_claims(token)
    except InvalidLink:
        raise LinkError("This feedback link is not valid.", code="link_malformed") from None
    api_key = (
        ApiKey.all_tenants.select_related("project__organization")  # unscoped: the signed link names its key
        .filter(key_id=claims.key_id)
        .first()
    )
    signing_key = link_signing_key(api_key) if api_key is not None else None
    if signing_key is None or str(api_key.project_id) != claims.project_id or not signature_matches(
        payload, signature, signing_key
    ):
        raise LinkError("This feedback link is not valid.", code="link_invalid_signature")
    if api_key.revoked_at is not None:
        raise LinkError("This feedback link has been disabled.", code="link_revoked")
    now = time.time()
    if claims.exp < now:
        raise LinkError("This feedback link has expired.", code="link_expired")
    if claims.exp > now + settings.FEEDBACK_LINK_MAX_TTL_SECONDS:
        raise LinkError("This feedback link is not valid: it would stay open for too long.", code="link_lifetime_too_long")
    return api_key, claims


def widget_feedback_id(claims: Claims) -> uuid.UUID:
    """One feedback per link holder and turn: resubmitting updates it instead of adding rows."""
    return uuid.uuid5(WIDGET_NAMESPACE, f"{claims.project_id}:{claims.turn_id}:{claims.user_id}")


def widget_feedback_submit(*, api_key: ApiKey, claims: Claims, rating: str, comment: str, correction: str) -> Outcome:
    try:
        turn_id = uuid.UUID(claims.turn_id)
    except ValueError:
        raise LinkError("This feedback link names no valid turn.", code="link_malformed") from None
    parsed = FeedbackIn(
        turn_id=turn_id, id=widget_feedback_id(claims), rating=rating or None,
        comment=comment, correction=correction, user_id=claims.user_id,
    )
    outcome = feedback_ingest(project=api_key.project, feedback=parsed, source="widget")
    if outcome.status >= 400:
        raise ServiceError(outcome.message or "Feedback was not accepted.", code=outcome.code or "invalid")
    return outcome


def widget_feedback_current(*, api_key: ApiKey, claims: Claims):
    return trace_selectors.feedback_get(project=api_key.project, feedback_id=widget_feedback_id(claims))
