"""Typed errors, rendered once as RFC 9457 problem+json by the app's exception handlers.

Raise a subclass of `KhipuError` anywhere (service, parser, job); the HTTP layer turns it into
`{"type", "title", "status", "detail", "correlation_id", ...extra}`. Jobs store `detail` as the
job's or segment's readable error.
"""

from __future__ import annotations

from typing import Any, ClassVar


class KhipuError(Exception):
    """Base of every error a user can cause or see. Subclasses set `status` and `title`."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    slug: ClassVar[str | None] = None  # defaults to the class name in kebab-case

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    @classmethod
    def type_uri(cls) -> str:
        slug = cls.slug or "".join(
            "-" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(cls.__name__)
        )
        return f"https://khipu.cloud/problems/{slug}"

    def problem(self) -> dict[str, Any]:
        return {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


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
