"""Domain errors raised by services; the API and the HTML views translate them one way each."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the domain refuses. ``code`` is stable and documented; ``field`` names the input."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field


class ValidationFailed(ServiceError):
    status = 400
    code = "invalid"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Forbidden(ServiceError):
    status = 403
    code = "permission_denied"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Gone(ServiceError):
    status = 410
    code = "gone"
