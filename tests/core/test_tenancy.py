"""Which tenant a request is for, and what happens when the signals disagree."""

from __future__ import annotations

import pytest

from khipu.core.tenancy import host_subdomain
from tests.support import PLATFORM_TOKEN, problem


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("acme.khipu.test", "acme"),
        ("acme.khipu.test:8000", "acme"),
        ("ACME.Khipu.Test.", "acme"),
        ("khipu.test", None),
        ("a.b.khipu.test", None),
        ("127.0.0.1:8000", None),
        ("[::1]:8000", None),
        ("acme.evil.example", None),
        ("", None),
    ],
)
def test_subdomain_is_read_only_from_hosts_under_the_base_domain(host, expected):
    assert host_subdomain(host, "khipu.test") == expected


async def test_host_subdomain_selects_the_tenant(tenant, client):
    response = await client.get(
        "/api/v1/auth/me",
        headers={"Host": tenant.host, "Authorization": f"Bearer {tenant.admin.access_token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["tenant_id"] == tenant.id


async def test_tenant_header_accepts_id_or_subdomain(tenant, client):
    for value in (tenant.id, tenant.subdomain):
        response = await client.get(
            "/api/v1/auth/me",
            headers={"X-Tenant-ID": value, "Authorization": f"Bearer {tenant.admin.access_token}"},
        )
        assert response.status_code == 200, response.text


async def test_token_claim_selects_the_tenant_on_a_bare_host(tenant, client):
    response = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tenant.admin.access_token}"}
    )
    assert response.status_code == 200
    assert response.json()["tenant_id"] == tenant.id


async def test_host_and_header_that_disagree_are_refused(tenant, other_tenant, client):
    response = await client.get(
        "/api/v1/auth/me",
        headers={
            "Host": tenant.host,
            "X-Tenant-ID": other_tenant.subdomain,
            "Authorization": f"Bearer {tenant.admin.access_token}",
        },
    )
    problem(response, 403)


async def test_a_token_sent_to_another_tenant_is_refused(tenant, other_tenant, client):
    bearer = {"Authorization": f"Bearer {tenant.admin.access_token}"}
    problem(await client.get("/api/v1/auth/me", headers={"Host": other_tenant.host, **bearer}), 403)
    problem(
        await client.get("/api/v1/auth/me", headers={"X-Tenant-ID": other_tenant.id, **bearer}), 403
    )
    problem(
        await client.get(
            "/api/v1/projects", headers={"X-Tenant-ID": other_tenant.subdomain, **bearer}
        ),
        403,
    )


async def test_unknown_tenant_is_not_found(client):
    body = {"email": "a@example.com", "password": "x"}
    problem(
        await client.post("/api/v1/auth/login", json=body, headers={"Host": "nobody.khipu.test"}),
        404,
    )
    problem(
        await client.post("/api/v1/auth/login", json=body, headers={"X-Tenant-ID": "nobody"}), 404
    )
    problem(
        await client.post(
            "/api/v1/auth/login",
            json=body,
            headers={"X-Tenant-ID": "00000000-0000-0000-0000-000000000000"},
        ),
        404,
    )


async def test_login_without_any_tenant_is_a_clear_client_error(client):
    body = problem(
        await client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x"}),
        400,
    )
    assert "X-Tenant-ID" in body["detail"]


async def test_inactive_tenant_is_forbidden(tenant, client):
    response = await client.patch(
        f"/api/v1/admin/tenants/{tenant.id}",
        json={"is_active": False},
        headers={"Authorization": f"Bearer {PLATFORM_TOKEN}"},
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    problem(await tenant.get("/api/v1/auth/me"), 403)
    problem(
        await client.post(
            "/api/v1/auth/login",
            json={"email": tenant.admin.email, "password": "x"},
            headers={"X-Tenant-ID": tenant.subdomain},
        ),
        403,
    )
