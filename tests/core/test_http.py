"""HTTP plumbing every route shares: problems, correlation ids, headers, limits, logs, metrics."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
from arq.connections import ArqRedis

from khipu.app import create_app
from khipu.core.logging import JsonFormatter
from tests.conftest import free_port
from tests.support import PLATFORM_TOKEN, problem


async def test_every_response_carries_a_correlation_id_and_security_headers(client):
    response = await client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-correlation-id"])
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]


async def test_a_valid_incoming_correlation_id_is_kept_and_a_hostile_one_replaced(client):
    kept = await client.get("/health", headers={"X-Correlation-ID": "req-1234567890"})
    assert kept.headers["x-correlation-id"] == "req-1234567890"
    hostile = "<script>alert(1)</script>" + "x" * 80
    replaced = await client.get("/health", headers={"X-Correlation-ID": hostile})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-correlation-id"])


async def test_unknown_routes_and_methods_are_problems(client):
    assert problem(await client.get("/api/v1/nothing-here"), 404)["type"] == "about:blank"
    problem(await client.delete("/health"), 405)


async def test_malformed_bodies_are_problems(tenant):
    body = problem(
        await tenant.post(
            "/api/v1/projects", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        422,
    )
    assert body["errors"]
    problem(await tenant.post("/api/v1/projects", json=["a", "list"]), 422)
    problem(await tenant.post("/api/v1/projects", json={"title": 42}), 422)
    problem(await tenant.get("/api/v1/projects/not-a-uuid"), 422)


async def test_oversized_bodies_are_refused_before_reading(tenant, settings):
    big = b'{"title": "' + b"x" * (settings.max_json_body_bytes + 10) + b'"}'
    body = problem(
        await tenant.post(
            "/api/v1/projects", content=big, headers={"Content-Type": "application/json"}
        ),
        413,
    )
    assert f"{settings.max_json_body_bytes:,}" in body["detail"]

    async def chunks():
        for _ in range(settings.max_json_body_bytes // 65536 + 2):
            yield b"x" * 65536

    problem(
        await tenant.post(
            "/api/v1/projects", content=chunks(), headers={"Content-Type": "application/json"}
        ),
        413,
    )


async def test_openapi_documents_the_api(client):
    spec = (await client.get("/api/openapi.json")).json()
    assert (
        "/api/v1/projects/{project_id}" in spec["paths"]
        and "/api/v1/admin/tenants" in spec["paths"]
    )
    assert (await client.get("/api/docs")).status_code == 200


async def test_metrics_count_requests_by_route_template(client, tenant):
    await tenant.get(f"/api/v1/projects/{(await tenant.add_project())['id']}")
    text = (await client.get("/metrics")).text
    assert re.search(
        r'khipu_http_requests_total\{method="GET",'
        r'route="/api/v1/projects/\{project_id\}",status="200"\} \d',
        text,
    )
    assert "khipu_http_request_duration_seconds_bucket" in text


async def test_access_log_carries_the_request_context(tenant, caplog):
    caplog.set_level(logging.INFO, logger="khipu.http")
    response = await tenant.get("/api/v1/auth/me")
    records = [r for r in caplog.records if getattr(r, "path", None) == "/api/v1/auth/me"]
    assert records, "no access log line"
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["correlation_id"] == response.headers["x-correlation-id"]
    assert line["tenant_id"] == tenant.id and line["user_id"] == tenant.admin.id
    assert line["operation"] == "GET /api/v1/auth/me" and line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert tenant.admin.access_token not in json.dumps(line)


async def test_health_is_503_when_a_dependency_is_down(settings, runtime):
    broken = type(runtime)(
        **{**runtime.__dict__, "redis": ArqRedis(host="127.0.0.1", port=free_port())}
    )
    app = create_app(settings, runtime=broken)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        app.router.lifespan_context(app),
    ):
        response = await http.get("/health")
    assert response.status_code == 503
    assert (
        response.json()["checks"]["redis"].startswith("error")
        and response.json()["checks"]["database"] == "ok"
    )
    await broken.redis.aclose()


def api_operations(spec: dict) -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]


async def test_garbage_into_every_route_is_a_client_error_never_a_500(client, tenant):
    """Walks the whole OpenAPI spec: broken JSON, wrong types, non-UUID ids, as a signed-in admin
    (and for /admin, as the platform admin)."""
    spec = (await client.get("/api/openapi.json")).json()
    failures = []
    for method, path in api_operations(spec):
        url = re.sub(r"\{[^}]+\}", "not-a-uuid", path)
        auth = PLATFORM_TOKEN if path.startswith("/api/v1/admin") else tenant.admin.access_token
        headers = {"Authorization": f"Bearer {auth}", "X-Tenant-ID": tenant.subdomain}
        for content, ctype in (
            (b"{broken", "application/json"),
            (b"[1, 2]", "application/json"),
            (b"\xff\xfe", "text/plain"),
        ):
            response = await client.request(
                method, url, content=content, headers={**headers, "Content-Type": ctype}
            )
            if response.status_code >= 500 or (
                response.status_code >= 400
                and "problem+json" not in response.headers.get("content-type", "")
            ):
                failures.append((method, url, ctype, response.status_code))
    assert not failures


@pytest.mark.parametrize("origin_allowed", [True, False])
async def test_cors_follows_settings(settings, runtime, origin_allowed):
    app = create_app(
        settings.model_copy(update={"cors_origins": ["https://studio.example"]}), runtime=runtime
    )
    origin = "https://studio.example" if origin_allowed else "https://evil.example"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        response = await http.options(
            "/api/v1/projects", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
    assert (response.headers.get("access-control-allow-origin") == origin) is origin_allowed
