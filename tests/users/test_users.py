"""Tenant admins manage users; others may not."""

from __future__ import annotations

import uuid

from tests.support import PASSWORD, problem


async def test_admin_creates_lists_updates_and_deletes_users(tenant):
    created = await tenant.post(
        "/api/v1/users", json={"email": "Ana@Example.com", "password": PASSWORD, "role": "creator"}
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "ana@example.com" and user["role"] == "creator" and user["is_active"]
    assert "password" not in user and "password_hash" not in user
    listed = (await tenant.get("/api/v1/users")).json()
    assert {u["email"] for u in listed["items"]} == {tenant.admin.email, "ana@example.com"}
    updated = await tenant.patch(f"/api/v1/users/{user['id']}", json={"role": "validator"})
    assert updated.json()["role"] == "validator"
    assert (await tenant.delete(f"/api/v1/users/{user['id']}")).status_code == 204
    problem(await tenant.get(f"/api/v1/users/{user['id']}"), 404)


async def test_duplicate_email_conflicts(tenant):
    body = {"email": "dup@example.com", "password": PASSWORD, "role": "creator"}
    assert (await tenant.post("/api/v1/users", json=body)).status_code == 201
    problem(await tenant.post("/api/v1/users", json={**body, "email": "DUP@example.com"}), 409)


async def test_same_email_may_exist_in_two_tenants(tenant, other_tenant):
    body = {"email": "shared@example.com", "password": PASSWORD, "role": "creator"}
    assert (await tenant.post("/api/v1/users", json=body)).status_code == 201
    assert (await other_tenant.post("/api/v1/users", json=body)).status_code == 201


async def test_invalid_user_input_is_rejected(tenant):
    problem(
        await tenant.post(
            "/api/v1/users", json={"email": "not-an-email", "password": PASSWORD, "role": "creator"}
        ),
        422,
    )
    problem(
        await tenant.post(
            "/api/v1/users", json={"email": "a@example.com", "password": PASSWORD, "role": "owner"}
        ),
        422,
    )
    problem(
        await tenant.post(
            "/api/v1/users",
            json={
                "email": "a@example.com",
                "password": PASSWORD,
                "role": "creator",
                "is_admin": True,
            },
        ),
        422,
    )


async def test_admin_cannot_lock_themselves_out(tenant):
    problem(await tenant.patch(f"/api/v1/users/{tenant.admin.id}", json={"role": "creator"}), 422)
    problem(await tenant.patch(f"/api/v1/users/{tenant.admin.id}", json={"is_active": False}), 422)
    problem(await tenant.delete(f"/api/v1/users/{tenant.admin.id}"), 422)


async def test_a_user_who_owns_projects_cannot_be_deleted(tenant):
    creator = await tenant.add_user("creator")
    await tenant.add_project(owner=creator)
    body = problem(await tenant.delete(f"/api/v1/users/{creator.id}"), 409)
    assert "deactivate" in body["detail"]
    assert (await tenant.get(f"/api/v1/users/{creator.id}")).status_code == 200


async def test_only_admins_manage_users(tenant):
    for role in ("creator", "validator"):
        user = await tenant.add_user(role)
        problem(await tenant.get("/api/v1/users", as_user=user), 403)
        problem(
            await tenant.post(
                "/api/v1/users",
                json={
                    "email": f"x{uuid.uuid4().hex[:4]}@e.com",
                    "password": PASSWORD,
                    "role": "admin",
                },
                as_user=user,
            ),
            403,
        )
        problem(
            await tenant.patch(f"/api/v1/users/{user.id}", json={"role": "admin"}, as_user=user),
            403,
        )


async def test_admin_password_reset_ends_the_users_sessions(tenant, client):
    creator = await tenant.add_user("creator")
    new = "Reset-Password-99!"
    assert (
        await tenant.patch(f"/api/v1/users/{creator.id}", json={"password": new})
    ).status_code == 200
    problem(
        await client.post("/api/v1/auth/refresh", json={"refresh_token": creator.refresh_token}),
        401,
    )
    assert (await tenant.login(creator.email, new))["access_token"]
