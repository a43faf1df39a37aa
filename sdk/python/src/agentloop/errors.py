"""The error passed to ``on_error``; the SDK never raises it into the host app."""

from __future__ import annotations

from collections.abc import Sequence


class AgentLoopError(Exception):
    """Something was not delivered, or could not be.

    ``code`` is stable: ``queue_full``, ``closed``, ``unauthorized``, ``forbidden``,
    ``payload_too_large``, ``bad_request``, ``redirect``, ``http_<status>``, ``gave_up``,
    ``invalid_api_key``, ``auth_check_failed``, ``internal``, or the server's own code for an item
    it rejected (``invalid``, ``too_long``, …). ``items`` lists the ``(type, id)`` of the affected
    items, when there are any.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        items: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.items = tuple(items)

    def __repr__(self) -> str:
        return f"AgentLoopError(code={self.code!r}, status={self.status!r}, items={len(self.items)})"
