"""Pagination: DRF's cursor pagination for the API, and the (time, id) keyset cursor of pages."""

import base64
import datetime as dt
import json
import uuid

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"
    ordering = "-created_at"


def encode_position(created_at: dt.datetime, row_id) -> str:
    """An opaque page cursor for the row at (``created_at``, ``row_id``)."""
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_position(cursor: str) -> tuple[dt.datetime, uuid.UUID] | None:
    """``encode_position``'s (time, id), or None for anything it did not make."""
    try:
        created, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return dt.datetime.fromisoformat(created), uuid.UUID(row_id)
    except (ValueError, TypeError):
        return None
