"""Typed errors, rendered once as RFC 9457 problem+json by the app's exception handlers.

Raise a subclass of `KhipuError` anywhere (service, parser, job); the HTTP layer turns it into
`{"type", "title", "status", "detail", "correlation_id", ...extra}`. Jobs store `detail` as the
job's or segment's readable error.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class KhipuError(Exception):
    """Base of every error a user can cause or see. Subclasses set `status` and `title`."""

    status: int = 400
    title: str = "Bad request"
    slug: ClassVar[str | None] = None  # defaults to the class name in kebab-case

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    @classmethod
    def type_uri(cls) -> str:
        slug = cls.slug or _WORD_BOUNDARY.sub("-", cls.__name__).lower()
        return f"https://khipu.cloud/problems/{slug}"

    def problem(self) -> dict[str, Any]:
        return {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


class HTTPProblem(KhipuError):
    """An error whose status is known only at run time (framework errors, unexpected failures)."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        self.status = status
        self.title = title
        super().__init__(detail, **extra)

    @classmethod
    def type_uri(cls) -> str:
        return "about:blank"  # RFC 9457: the status code says it all


class InvalidInput(KhipuError):
    status = 422
    title = "Invalid input"


class NotAuthenticated(KhipuError):
    status = 401
    title = "Not authenticated"


class Forbidden(KhipuError):
    status = 403
    title = "Forbidden"


class NotFound(KhipuError):
    status = 404
    title = "Not found"


class Conflict(KhipuError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(KhipuError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(KhipuError):
    status = 415
    title = "Unsupported media type"


class TooManyRequests(KhipuError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        self.retry_after = retry_after
        super().__init__(detail, **extra)


class ServiceUnavailable(KhipuError):
    status = 503
    title = "Service unavailable"
