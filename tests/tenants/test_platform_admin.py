"""Platform administration: provisioning, listing, updating tenants; audited; admin token only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from khipu.tenants.models import PlatformAuditEntry
from tests.support import PASSWORD, PLATFORM_TOKEN, problem

ADMIN = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}


def new_tenant(**overrides):
    sub = f"p-{uuid.uuid4().hex[:10]}"
    return {
        "name": "Press",
        "subdomain": sub,
        "plan": "single",
        "admin_email": f"boss@{sub}.example",
        "admin_password": PASSWORD,
        **overrides,
    }


async def test_create_answers_201_with_the_tenant_and_its_admin(client):
    body = new_tenant()
    response = await client.post("/api/v1/admin/tenants", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (
        created["subdomain"] == body["subdomain"]
        and created["plan"] == "single"
        and created["is_active"]
    )
    uuid.UUID(created["admin_user_id"])
    login = await client.post(
        "/api/v1/auth/login",
        json={"email": body["admin_email"], "password": PASSWORD},
        headers={"Host": f"{body['subdomain']}.khipu.test"},
    )
    assert login.status_code == 200


async def test_duplicate_subdomain_conflicts(client):
    body = new_tenant()
    assert (await client.post("/api/v1/admin/tenants", json=body, headers=ADMIN)).status_code == 201
    problem(
        await client.post("/api/v1/admin/tenants", json={**body, "name": "Copy"}, headers=ADMIN),
        409,
    )


@pytest.mark.parametrize("subdomain", ["-bad", "UPPER_case", "www", "a" * 64, "dots.in.it", ""])
async def test_invalid_subdomains_are_rejected(client, subdomain):
    problem(
        await client.post(
            "/api/v1/admin/tenants", json=new_tenant(subdomain=subdomain), headers=ADMIN
        ),
        422,
    )


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}]
)
async def test_platform_api_needs_the_platform_token(client, headers, tenant):
    problem(await client.get("/api/v1/admin/tenants", headers=headers), 401)
    problem(await client.post("/api/v1/admin/tenants", json=new_tenant(), headers=headers), 401)
    problem(
        await client.patch(
            f"/api/v1/admin/tenants/{tenant.id}", json={"is_active": False}, headers=headers
        ),
        401,
    )


async def test_a_tenant_admin_token_is_not_a_platform_token(client, tenant):
    problem(
        await client.get(
            "/api/v1/admin/tenants",
            headers={"Authorization": f"Bearer {tenant.admin.access_token}"},
        ),
        401,
    )


async def test_list_is_paginated(client, tenants):
    for _ in range(3):
        await tenants.create()
    first = (await client.get("/api/v1/admin/tenants?limit=2", headers=ADMIN)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (
        await client.get(
            f"/api/v1/admin/tenants?limit=2&cursor={first['next_cursor']}", headers=ADMIN
        )
    ).json()
    assert {t["id"] for t in first["items"]}.isdisjoint({t["id"] for t in second["items"]})
    problem(await client.get("/api/v1/admin/tenants?cursor=not-a-cursor", headers=ADMIN), 422)
    problem(await client.get("/api/v1/admin/tenants?limit=501", headers=ADMIN), 422)


async def test_update_changes_plan_and_name(client, tenant):
    response = await client.patch(
        f"/api/v1/admin/tenants/{tenant.id}",
        json={"plan": "enterprise", "name": "Renamed"},
        headers=ADMIN,
    )
    assert response.status_code == 200
    assert response.json()["plan"] == "enterprise" and response.json()["name"] == "Renamed"
    problem(
        await client.patch(
            f"/api/v1/admin/tenants/{uuid.uuid4()}", json={"plan": "team"}, headers=ADMIN
        ),
        404,
    )
    problem(
        await client.patch(
            f"/api/v1/admin/tenants/{tenant.id}", json={"plan": "galactic"}, headers=ADMIN
        ),
        422,
    )


async def test_every_platform_call_is_audited(client, runtime):
    body = new_tenant()
    created = (await client.post("/api/v1/admin/tenants", json=body, headers=ADMIN)).json()
    await client.get("/api/v1/admin/tenants", headers=ADMIN)
    await client.patch(
        f"/api/v1/admin/tenants/{created['id']}", json={"is_active": False}, headers=ADMIN
    )
    async with runtime.db.transaction(None) as session:
        entries = (
            await session.scalars(
                select(PlatformAuditEntry).where(
                    PlatformAuditEntry.target_tenant == uuid.UUID(created["id"])
                )
            )
        ).all()
        listed = await session.scalar(
            select(PlatformAuditEntry).where(PlatformAuditEntry.action == "tenant.list")
        )
    in_order = sorted(entries, key=lambda e: e.occurred_at)
    assert [e.action for e in in_order] == ["tenant.create", "tenant.update"]
    assert in_order[0].detail == {"subdomain": body["subdomain"]}
    assert in_order[-1].detail == {"is_active": False}
    assert all(e.correlation_id for e in entries) and listed is not None
