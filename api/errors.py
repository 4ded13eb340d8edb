"""Every error the service answers, as one JSON shape, mapped in one place.

Shape: ``{"error": "<code>", "message": "<what was wrong>", ...details}``, e.g.
``{"error": "unknown_ids", "message": "2 unknown account id(s): 7, 9", "unknown_ids": [7, 9]}``
or ``{"error": "validation_error", "message": "body.ids: ...", "details": [...]}``.

The engine raises :mod:`kolgraph.exceptions`; :func:`install` maps them to
statuses here (input errors 422, unknown ids 422 with the ids listed, store
errors 503). Routes raise :class:`ApiError` for HTTP-level refusals (401, 404,
403, 429, 504). Anything unexpected is logged with an error id and answers a
500 that says nothing internal.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from kolgraph._parallel import Cancelled
from kolgraph.exceptions import InputError, KolgraphError, StoreError, UnknownAccountError

log = logging.getLogger("kolgraph.api")


class ErrorBody(BaseModel):
    """The JSON body of every error response."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "examples": [{"error": "unknown_ids", "message": "1 unknown account id(s): 999999",
                      "unknown_ids": [999999]}]})

    error: str
    message: str


class ApiError(Exception):
    """An HTTP refusal raised by routes and dependencies."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 **extra):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.extra = headers, extra


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", what)


def error_response(status: int, code: str, message: str, headers: dict | None = None,
                   **extra) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status,
                        headers=headers)


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type",
                 422: "validation_error", 429: "rate_limited", 503: "unavailable",
                 504: "timeout"}

# Documented on every /v1 route, so the OpenAPI spec lists what clients can get.
ERROR_RESPONSES = {status: {"model": ErrorBody, "description": desc} for status, desc in (
    (401, "no API key, or a wrong one"),
    (404, "unknown store (or one of another tenant), unknown creator"),
    (413, "request body too large"),
    (422, "invalid input: the message says what, `details` or `unknown_ids` where"),
    (429, "rate limit of the key reached; see Retry-After"),
    (503, "the service is still warming up"),
    (504, "the request took longer than the service's time limit"),
)}


def _loc(loc) -> str:
    return ".".join(str(p) for p in loc)


def install(app: FastAPI) -> None:
    """Register the handlers mapping every exception to the JSON error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(UnknownAccountError)
    async def _unknown(request: Request, exc: UnknownAccountError):
        return error_response(422, "unknown_ids", str(exc), unknown_ids=list(exc.missing))

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError):
        return error_response(422, "invalid_input", str(exc).replace("--where", "where"))

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError):
        log.error("store error: %s", exc)
        return error_response(503, "store_unavailable", "the store cannot be read right now")

    @app.exception_handler(Cancelled)
    async def _cancelled(request: Request, exc: Cancelled):
        return error_response(504, "timeout", "the request took longer than the service's "
                              "time limit and was stopped")

    @app.exception_handler(KolgraphError)
    async def _kolgraph(request: Request, exc: KolgraphError):
        return error_response(400, "bad_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                   for e in exc.errors()]
        shown = "; ".join(f"{_loc(d['loc'])}: {d['msg']}" for d in details[:5])
        more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
        return error_response(422, "validation_error", f"invalid request: {shown}{more}",
                              details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        error_id = uuid.uuid4().hex[:12]
        log.exception("unexpected error %s on %s %s", error_id, request.method, request.url.path)
        return error_response(500, "internal_error",
                              f"unexpected error (id {error_id}); it is logged", error_id=error_id)
