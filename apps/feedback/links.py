"""Issuing feedback links on the server (the SDKs compute the same URLs locally)."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from apps.core.sealing import Unsealable
from apps.feedback.signing import make_url

logger = logging.getLogger(__name__)


def link_signing_key(api_key) -> bytes | None:
    """The key's feedback-link signing key, or None (logged) when it does not unseal:
    ``DJANGO_SECRET_KEY`` changed without ``DJANGO_SECRET_KEY_FALLBACKS``. Then no link of that
    key verifies and the server issues none (the SDKs sign locally)."""
    try:
        return api_key.link_signing_key()
    except Unsealable:
        logger.error("feedback links of API key %s cannot be signed or verified: its signing key does not unseal "
                     "(DJANGO_SECRET_KEY changed without DJANGO_SECRET_KEY_FALLBACKS?)", api_key.key_id)
        return None


def feedback_url_for(*, api_key, turn_id, user_id: str = "", ttl_seconds: int | None = None) -> str | None:
    """A signed feedback URL for the turn; None if the key's signing key does not unseal."""
    ttl = settings.FEEDBACK_LINK_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    signing_key = link_signing_key(api_key)
    if signing_key is None:
        return None
    return make_url(
        host=settings.SITE_URL,
        signing_key=signing_key,
        exp=int(time.time()) + ttl,
        key_id=api_key.key_id,
        project_id=str(api_key.project_id),
        turn_id=str(turn_id),
        user_id=user_id or "",
    )
