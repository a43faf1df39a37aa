"""Issuing feedback links on the server (the SDKs compute the same URLs locally)."""

from __future__ import annotations

import time

from django.conf import settings

from apps.feedback.signing import make_url


def feedback_url_for(*, api_key, turn_id, user_id: str = "", ttl_seconds: int | None = None) -> str:
    ttl = settings.FEEDBACK_LINK_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    return make_url(
        host=settings.SITE_URL,
        signing_key=bytes(api_key.signing_key),
        exp=int(time.time()) + ttl,
        key_id=api_key.key_id,
        project_id=str(api_key.project_id),
        turn_id=str(turn_id),
        user_id=user_id or "",
    )
