"""Operational endpoints: `/health` (liveness and dependencies) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from khipu.core import metrics
from khipu.core.runtime import Runtime

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_SECONDS = 3.0


async def _check(name: str, probe: Any) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
        return name, "ok"
    except Exception as exc:  # any failure of a dependency is reported, not raised
        return name, f"error: {type(exc).__name__}"


async def _database(runtime: Runtime) -> None:
    async with runtime.db.engine.connect() as conn:
        await conn.execute(text("select 1"))


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 when the database, Redis and blob storage all answer; 503 naming any that does not."""
    runtime: Runtime = request.app.state.runtime
    results = dict(
        await asyncio.gather(
            _check("database", _database(runtime)),
            _check("redis", runtime.redis.ping()),
            _check("storage", runtime.blobs.check()),
        )
    )
    healthy = all(status == "ok" for status in results.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": results},
        status_code=200 if healthy else 503,
    )


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        body = await metrics.render(runtime.redis)
    except Exception:  # Redis down: still serve the in-process metrics
        body = await metrics.render(None)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
