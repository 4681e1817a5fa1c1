"""Errors that business services raise. The web and API layers turn them into 4xx answers
with the message (never a 500); the CLI prints the message."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: Any, errors: dict[str, Any] | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.errors = errors or {}
        #: more JSON-able facts for the API answer (e.g. the records a duplicate matches)
        self.details = details or {}


class ValidationFailed(ServiceError):
    """Input breaks a rule; ``errors`` maps field names to messages."""

    status = 422
    code = "validation_failed"


class Conflict(ServiceError):
    """The change clashes with existing data (duplicate name, state that forbids it)."""

    status = 409
    code = "conflict"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"
