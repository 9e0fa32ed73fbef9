"""HTTP plumbing shared by every route: correlation ids, access logs and metrics, security
headers, request body limits, and problem+json rendering of every error."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from khipu.core import logging as log_context
from khipu.core import metrics
from khipu.core.errors import HTTPProblem, KhipuError, PayloadTooLarge, TooManyRequests

log = logging.getLogger("khipu.http")
PROBLEM_JSON = "application/problem+json"
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# The OpenAPI UI loads its assets from a CDN; every other page is same-origin only.
CSP_DEFAULT = (
    b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    b"frame-ancestors 'none'"
)
CSP_DOCS = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    b"https://fastapi.tiangolo.com; frame-ancestors 'none'"
)


class RequestContextMiddleware:
    """Correlation id in and out, one JSON access log line and metrics per request, security
    headers. Pure ASGI (no BaseHTTPMiddleware) so streaming responses stream."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-correlation-id")
        correlation = incoming if incoming and _CORRELATION_ID.fullmatch(incoming) else None
        correlation = correlation or uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation
        log_context.bind(correlation_id=correlation, tenant_id=None, user_id=None, operation=None)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-correlation-id", correlation.encode()))
                headers.extend(SECURITY_HEADERS)
                docs = scope["path"].startswith("/api/docs")
                headers.append((b"content-security-policy", CSP_DOCS if docs else CSP_DEFAULT))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.http_requests.labels(route, scope["method"], str(status)).inc()
            metrics.http_latency.labels(route).observe(elapsed)
            log_context.bind(operation=f"{scope['method']} {route}")
            log.info(
                "request",
                extra={
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )


class BodySizeLimitMiddleware:
    """Refuse bodies over the limit (413) before reading them, whatever Content-Length claims."""

    def __init__(
        self, app: ASGIApp, *, default_limit: int, overrides: Sequence[tuple[str, int]] = ()
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.overrides = [(re.compile(pattern), limit) for pattern, limit in overrides]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.overrides:
            if pattern.fullmatch(path):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            await _send_problem(scope, send, _too_large(limit))
            return
        received = 0
        exceeded = False
        response_started = False

        async def limited_receive() -> Message:
            # Past the limit, the app is told the client went away (it stops reading), and the
            # 413 is sent here: an exception raised inside `receive` would be reported by the
            # framework as a malformed body instead.
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                return
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not response_started:
            await _send_problem(scope, send, _too_large(limit))


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body exceeds the limit of {limit:,} bytes.", limit=limit)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def problem_response(error: KhipuError, correlation_id: str | None) -> JSONResponse:
    body = {**error.problem(), "correlation_id": correlation_id}
    headers = {}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=error.status, media_type=PROBLEM_JSON, headers=headers)


async def _send_problem(scope: Scope, send: Send, error: KhipuError) -> None:
    correlation = scope.get("state", {}).get("correlation_id")
    response = problem_response(error, correlation)
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _correlation(request: Request) -> str | None:
    return getattr(request.state, "correlation_id", None)


class RequestValidationProblem(KhipuError):
    status = 422
    title = "Invalid request"


def install_error_handlers(app: FastAPI) -> None:
    async def on_khipu_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, KhipuError)
        if exc.status >= 500:
            log.error("server-side failure", extra={"error": exc.detail})
        return problem_response(exc, _correlation(request))

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_describe(error) for error in exc.errors()]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
        return problem_response(
            RequestValidationProblem(detail, errors=errors), _correlation(request)
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error = HTTPProblem(exc.status_code, _reason(exc.status_code), str(exc.detail))
        response = problem_response(error, _correlation(request))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        error = HTTPProblem(
            500,
            "Internal server error",
            "An unexpected error occurred; quote the correlation id to support.",
        )
        return problem_response(error, _correlation(request))

    app.add_exception_handler(KhipuError, on_khipu_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _describe(error: dict[str, Any]) -> dict[str, str]:
    location = ".".join(str(part) for part in error.get("loc", ()))
    return {"location": location, "message": str(error.get("msg", "invalid"))}


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
