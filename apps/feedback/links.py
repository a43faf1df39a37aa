"""Issuing feedback links on the server (the SDKs compute the same URLs locally)."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from apps.core.sealing import Unsealable
from apps.feedback.signing import make_url

logger = logging.getLogger(__name__)


def feedback_url_for(*, api_key, turn_id, user_id: str = "", ttl_seconds: int | None = None) -> str | None:
    """A signed feedback URL for the turn; None (logged) if the key's signing key does not unseal
    (``DJANGO_SECRET_KEY`` changed without ``DJANGO_SECRET_KEY_FALLBACKS``; the SDKs sign locally)."""
    ttl = settings.FEEDBACK_LINK_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    try:
        signing_key = api_key.link_signing_key()
    except Unsealable:
        logger.error("no feedback URL for API key %s: its signing key does not unseal", api_key.key_id)
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
