"""Domain errors, each with the HTTP status the API answers with (the API maps them in one place)."""

from __future__ import annotations


class EgressError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotAuthenticated(EgressError):
    status = 401
    code = "not_authenticated"


class Forbidden(EgressError):
    status = 403
    code = "forbidden"


class NotFound(EgressError):
    status = 404
    code = "not_found"


class Conflict(EgressError):
    status = 409
    code = "conflict"


class InvalidInput(EgressError):
    status = 422
    code = "invalid_input"


class PayloadTooLarge(EgressError):
    status = 413
    code = "payload_too_large"


class UnsupportedType(EgressError):
    status = 415
    code = "unsupported_type"
