"""One error body for every 4xx (and 5xx): ``{"error": {"code", "message", "detail"}}``."""

from __future__ import annotations

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from egress_review.api.schemas import ErrorBody, ErrorDetail
from egress_review.errors import EgressError
from egress_review.identity.principal import AuthError
from egress_review.identity.project_token import ProjectTokenError
from egress_review.quarantine.intake import IntakeError
from egress_review.quarantine.store import TooLarge
from egress_review.states import TransitionError

_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 411: "length_required", 413: "payload_too_large", 415: "unsupported_type",
          422: "invalid_input", 429: "too_many_requests", 503: "unavailable", 507: "insufficient_storage"}

log = logging.getLogger(__name__)

ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in _CODES.items()
    if status in (400, 401, 403, 404, 409, 413, 415, 422)
}


def error_response(status: int, message: str, code: str | None = None, detail=None, headers=None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code or _CODES.get(status, "error"), message=message, detail=detail))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(EgressError)
    async def _egress(_: Request, exc: EgressError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.detail or None)

    @app.exception_handler(TransitionError)
    async def _transition(_: Request, exc: TransitionError) -> JSONResponse:
        return error_response(409, str(exc), "invalid_transition", {"state": exc.state.value, "action": exc.action.value})

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        return error_response(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ProjectTokenError)
    async def _project_token(_: Request, exc: ProjectTokenError) -> JSONResponse:
        return error_response(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(IntakeError)
    async def _intake(_: Request, exc: IntakeError) -> JSONResponse:
        return error_response(exc.status, str(exc))

    @app.exception_handler(TooLarge)
    async def _too_large(_: Request, exc: TooLarge) -> JSONResponse:
        return error_response(413, str(exc), detail={"limit": exc.limit})

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(e['loc'][1:]) or e['loc'][0] if e['loc'] else 'body'}: {e['msg']}" for e in errors[:5])
        return error_response(422, f"invalid request: {summary}", "invalid_input", errors)

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        # The database is down or unreachable: the transaction was rolled back, so say so plainly
        # (a client may retry) instead of a bare 500. Other database errors stay 500s.
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            log.error("database unavailable: %s", exc.orig)
            return error_response(503, "the database is unavailable; nothing was changed, try again shortly",
                                  headers={"Retry-After": "5"})
        raise exc

    @app.exception_handler(OSError)
    async def _storage(_: Request, exc: OSError) -> JSONResponse:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            log.error("quarantine storage full: %s", exc)
            return error_response(507, "the quarantine store is full; nothing was stored, try again later")
        raise exc

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
