"""The FastAPI application: middleware, error rendering, routers, and the runtime lifespan."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from khipu import __version__
from khipu.analytics.router import router as analytics_router
from khipu.audio.router import router as audio_router
from khipu.auth.router import router as auth_router
from khipu.characters.router import router as characters_router
from khipu.config import Settings, get_settings
from khipu.core import ops
from khipu.core.db import assert_runtime_role_is_safe
from khipu.core.http import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    install_error_handlers,
)
from khipu.core.logging import configure_logging
from khipu.core.runtime import Runtime
from khipu.jobs.router import router as jobs_router
from khipu.manuscripts.router import router as manuscripts_router
from khipu.packaging.router import router as packaging_router
from khipu.projects.router import router as projects_router
from khipu.tenants.router import own_tenant_router
from khipu.tenants.router import router as tenants_router
from khipu.users.router import router as users_router

ROUTERS = [
    ops.router,
    tenants_router,
    own_tenant_router,
    auth_router,
    users_router,
    projects_router,
    manuscripts_router,
    characters_router,
    audio_router,
    packaging_router,
    jobs_router,
    analytics_router,
]

#: Routes that take file uploads get the upload limit (plus multipart overhead); others 1 MB.
UPLOAD_ROUTES = [r"/api/v1/projects/[^/]+/(manuscript|cover)"]
MULTIPART_OVERHEAD = 64 * 1024


def serve() -> FastAPI:
    """The app as each API process of `khipu up` serves it: settings from the environment, JSON
    logs (a factory, so that every process builds its own runtime)."""
    configure_logging(os.environ.get("KHIPU_LOG_LEVEL", "INFO"))
    return create_app()


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. A `runtime` passed in is used as is (tests, `khipu up`), else one is
    started from `settings` in the lifespan and checked: the DB role must not bypass RLS."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        started = await Runtime.start(settings)
        try:
            await assert_runtime_role_is_safe(started.db.engine)
            app.state.runtime = started
            yield
        finally:
            await started.close()

    app = FastAPI(
        title="Khipu Cloud",
        version=__version__,
        description="Multi-tenant audiobook production: manuscripts in, distribution packages out.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Tenant-ID", "X-Correlation-ID"],
            expose_headers=["X-Correlation-ID", "Location", "Retry-After"],
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        default_limit=settings.max_json_body_bytes,
        overrides=[
            (route, settings.max_upload_bytes + MULTIPART_OVERHEAD) for route in UPLOAD_ROUTES
        ],
    )
    app.add_middleware(RequestContextMiddleware, hsts=settings.environment == "production")
    for router in ROUTERS:
        app.include_router(router)
    return app
