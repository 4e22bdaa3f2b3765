"""Pure ASGI middleware: bearer-token auth, a request-body size limit, a path guard, headers.

They are plain ASGI (not ``BaseHTTPMiddleware``) so a refused request is answered before any
route, dependency or body parsing runs, and an oversized body is never read into memory.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from esdh_agent.api.errors import BodyTooLarge, error_response

__all__ = [
    "BearerAuthMiddleware",
    "BodySizeLimitMiddleware",
    "PathGuardMiddleware",
    "SecurityHeadersMiddleware",
]

OPEN_PATHS = frozenset({"/healthz"})


class BearerAuthMiddleware:
    """With a token configured, every path but /healthz needs ``Authorization: Bearer <t>``.

    The check covers FastAPI's own routes too (/docs, /openapi.json) and unknown paths, so an
    unauthenticated client learns nothing about what exists. Comparison is constant-time.
    """

    def __init__(self, app: ASGIApp, token: bytes | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.token is None
            or scope["type"] not in ("http", "websocket")
            or scope.get("path") in OPEN_PATHS
        ):
            await self.app(scope, receive, send)
            return
        given = _bearer(Headers(scope=scope).get("authorization"))
        if given is not None and hmac.compare_digest(given, self.token):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        challenge = 'Bearer realm="esdh-agent"'
        if given is not None:
            challenge += ', error="invalid_token"'
        message = (
            "missing bearer token: send 'Authorization: Bearer <token>'"
            if given is None
            else "invalid bearer token"
        )
        response = error_response(401, "unauthorized", message, {"WWW-Authenticate": challenge})
        await response(scope, receive, send)


def _bearer(header: str | None) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip().encode("utf-8", "surrogateescape")


class BodySizeLimitMiddleware:
    """Answer 413 for a body larger than ``limit`` bytes, declared or streamed.

    A Content-Length above the limit is refused before reading; a chunked body is counted as
    it arrives and refused the moment it crosses the limit.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(
            413, "body_too_large", f"the request body exceeds the limit of {self.limit} bytes"
        )
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                bad = error_response(400, "bad_request", "malformed Content-Length header")
                await bad(scope, receive, send)
                return
            if int(declared) > self.limit:
                await too_large(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await too_large(scope, receive, send)


class SecurityHeadersMiddleware:
    """``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store`` on every response.

    Responses carry synthetic data and run transcripts: no cache should keep them, and no
    browser should guess a type other than the declared one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class PathGuardMiddleware:
    """400 for a decoded path holding control characters (``%0a``, ``%00``, ...).

    Starlette's route patterns end in ``$``, which also matches before a trailing newline:
    without this, ``/snapshots/v0.1%0a`` would quietly serve ``v0.1``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
            bad = error_response(400, "invalid_path", "the path holds control characters")
            await bad(scope, receive, send)
            return
        await self.app(scope, receive, send)
