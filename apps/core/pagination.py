"""Pagination: DRF's cursor and limit/offset pagination for the API, strict about their query
parameters, and the (time, id) keyset cursor of pages.

DRF falls back to its defaults for a ``limit`` or ``offset`` it cannot read and answers 404 for
a bad cursor; here each is a 400 ``invalid`` naming the parameter, and the schema states the
bounds the pagination enforces.
"""

import base64
import datetime as dt
import json
import uuid

from rest_framework import pagination
from rest_framework.exceptions import NotFound

from apps.core.errors import ValidationFailed


def _query_int(request, name: str, *, default: int, minimum: int, maximum: int | None = None) -> int:
    """``name`` from the query string as an integer within [minimum, maximum], else 400."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"'{name}' must be an integer {bounds}.", field=name) from None
    if value < minimum or (maximum is not None and value > maximum):
        raise ValidationFailed(f"'{name}' must be an integer {bounds}.", field=name)
    return value


def _integer_parameter(name: str, description: str, *, minimum: int, maximum: int | None = None) -> dict:
    schema = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return {"name": name, "required": False, "in": "query", "description": description, "schema": schema}


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"
    ordering = "-created_at"

    def get_page_size(self, request):
        return _query_int(request, self.page_size_query_param, default=self.page_size, minimum=1, maximum=self.max_page_size)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationFailed(
                "Invalid cursor: pass the 'next' or 'previous' link of a page as it is.", field=self.cursor_query_param
            ) from None

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param, "required": False, "in": "query",
                "description": "The page to read: from a response's `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            _integer_parameter(
                self.page_size_query_param, f"Results per page (default {self.page_size}).",
                minimum=1, maximum=self.max_page_size,
            ),
        ]


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 50
    max_limit = 500

    def get_limit(self, request):
        return _query_int(request, self.limit_query_param, default=self.default_limit, minimum=1, maximum=self.max_limit)

    def get_offset(self, request):
        return _query_int(request, self.offset_query_param, default=0, minimum=0)

    def get_schema_operation_parameters(self, view):
        return [
            _integer_parameter(
                self.limit_query_param, f"Results per page (default {self.default_limit}).",
                minimum=1, maximum=self.max_limit,
            ),
            _integer_parameter(self.offset_query_param, "Results to skip.", minimum=0),
        ]


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
