"""One error shape for every failure: ``{"error": {"code": "...", "message": "..."}}``.

FastAPI's own handlers answer validation errors and HTTP exceptions in other shapes; they are
replaced here so a client parses every 4xx and 5xx the same way. Bad input is always a 4xx;
anything unexpected is a 500 that names no internals (the traceback goes to the server log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from esdh_agent.errors import (
    EsdhError,
    InputError,
    PolicyError,
    SnapshotCorrupt,
    SnapshotNameError,
    SnapshotNotFound,
)

__all__ = [
    "ApiError",
    "BodyTooLarge",
    "ErrorDetail",
    "ErrorResponse",
    "documented",
    "documented_json",
    "error_payload",
    "error_response",
    "install_error_handlers",
]

log = logging.getLogger("esdh_agent.api")

_MAX_MESSAGE = 500
_MAX_PROBLEMS = 5
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    501: "not_implemented",
}


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine-readable code and a sentence for people."""

    model_config = ConfigDict(extra="forbid")
    code: str
    message: str


class ErrorResponse(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


class ApiError(Exception):
    """Raised by routes: answered as ``status`` with the error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BodyTooLarge(HTTPException):
    """The request body exceeds the server's limit (raised while the body is read).

    An HTTPException so FastAPI's body reader passes it through untouched.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")


def error_payload(code: str, message: str) -> dict[str, dict[str, str]]:
    """The error body, with the message bounded so no input is echoed at length."""
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_payload(code, message), status_code=status, headers=headers)


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p)[:40] for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _message(error: Mapping[str, Any]) -> str:
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    problems = [f"{_location(e.get('loc', ()))}: {_message(e)}" for e in errors]
    more = f" (and {len(problems) - _MAX_PROBLEMS} more)" if len(problems) > _MAX_PROBLEMS else ""
    return error_response(422, "invalid_request", "; ".join(problems[:_MAX_PROBLEMS]) + more)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code if 400 <= exc.status_code < 600 else 500
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if status == 400 and message == "There was an error parsing the body":
        return error_response(400, "invalid_json", "the request body cannot be parsed as JSON")
    return error_response(status, _CODES.get(status, f"http_{status}"), message, exc.headers)


async def _api(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)


async def _esdh(_: Request, exc: Exception) -> JSONResponse:
    """Framework errors: the user's mistakes are 4xx, the workspace's problems 500."""
    assert isinstance(exc, EsdhError)
    message = exc.message if not exc.hint else f"{exc.message} (hint: {exc.hint})"
    if isinstance(exc, SnapshotNameError):
        return error_response(400, "invalid_name", message)
    if isinstance(exc, SnapshotNotFound):
        return error_response(404, "not_found", exc.message)
    if isinstance(exc, PolicyError):
        return error_response(403, "policy_refused", exc.message)
    if isinstance(exc, InputError):
        return error_response(422, "invalid_request", message)
    if isinstance(exc, SnapshotCorrupt):
        return error_response(500, "snapshot_corrupt", exc.message)
    log.error("API request failed: %s", exc.one_line())
    return error_response(500, "internal_error", "internal error; see the server log")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    """Replace FastAPI's handlers so every error has the one shape."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(EsdhError, _esdh)
    app.add_exception_handler(Exception, _unexpected)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these statuses (and 4XX), all with the error shape."""
    descriptions = {
        400: "Malformed request (bad JSON, a name or id outside the safe pattern)",
        401: "Missing or wrong bearer token (when the server has one)",
        403: "Refused by the governance policy",
        404: "No such snapshot or run",
        413: "Request body too large",
        415: "Request body is not JSON",
        422: "Invalid request (wrong type, unknown field, out of range, above the cap)",
        500: "Internal error (details only in the server log)",
        501: "Not available in this installation",
    }
    responses: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses
    }
    # Any other client error has the same shape; this also stops FastAPI from documenting
    # its own 422 body, which this API never sends.
    responses["4XX"] = {"model": ErrorResponse, "description": "Any other client error"}
    return responses


def documented_json(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``documented``, with the JSON media type spelled out.

    For routes whose own response class is not JSON (the HTML transcript view): FastAPI
    documents a ``model`` response in the route's media type, so its JSON errors would be
    documented as ``text/html``. These entries override the router's for the same statuses.
    """
    schema = {"$ref": "#/components/schemas/ErrorResponse"}
    return {
        status: {
            "description": entry["description"],
            "content": {"application/json": {"schema": schema}},
        }
        for status, entry in documented(*statuses).items()
    }
