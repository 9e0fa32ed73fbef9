"""Login, refresh rotation with reuse detection, logout, password change, throttling."""

from __future__ import annotations

import uuid

from tests.support import PASSWORD, PLATFORM_TOKEN, problem


def address() -> dict[str, str]:
    """A client address of its own, so throttling counts do not mix between tests."""
    return {"X-Forwarded-For": "10." + ".".join(str(b) for b in uuid.uuid4().bytes[:3])}


async def login(client, tenant, email, password=PASSWORD, headers=None):
    return await client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        headers={"X-Tenant-ID": tenant.subdomain, **(headers or {})},
    )


async def refresh(client, token, headers=None):
    return await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": token}, headers=headers or {}
    )


async def test_login_returns_a_token_pair(tenant, client):
    response = await login(client, tenant, tenant.admin.email)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert body["refresh_token"].startswith(tenant.id)


async def test_wrong_password_and_unknown_email_look_the_same(tenant, client):
    wrong = problem(
        await login(client, tenant, tenant.admin.email, "Wrong-password-1!", address()), 401
    )
    unknown = problem(await login(client, tenant, "nobody@example.com", PASSWORD, address()), 401)
    assert wrong["detail"] == unknown["detail"]


async def test_email_is_case_insensitive(tenant, client):
    assert (await login(client, tenant, tenant.admin.email.upper())).status_code == 200


async def test_refresh_rotates_and_reuse_revokes_the_family(tenant, client):
    first = tenant.admin.refresh_token
    rotated = await refresh(client, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    # Presenting the spent token again: refused, and the whole family ends.
    body = problem(await refresh(client, first), 401)
    assert "already used" in body["detail"]
    problem(await refresh(client, second), 401)


async def test_refresh_works_on_a_bare_host_and_checks_the_tenant(tenant, other_tenant, client):
    problem(
        await refresh(client, tenant.admin.refresh_token, {"X-Tenant-ID": other_tenant.subdomain}),
        403,
    )
    assert (await refresh(client, tenant.admin.refresh_token)).status_code == 200


async def test_forged_refresh_tokens_are_refused(tenant, client):
    token_tenant, token_id, _ = tenant.admin.refresh_token.split(".")
    problem(await refresh(client, f"{token_tenant}.{token_id}.forged-secret-value"), 401)
    problem(await refresh(client, f"{token_tenant}.{uuid.uuid4()}.whatever-secret"), 401)
    problem(await refresh(client, "garbage-without-dots"), 401)


async def test_logout_ends_the_family(tenant, client):
    pair = (await login(client, tenant, tenant.admin.email)).json()
    response = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}
    )
    assert response.status_code == 204
    problem(await refresh(client, pair["refresh_token"]), 401)
    # Other sessions of the same user are unaffected.
    assert (await refresh(client, tenant.admin.refresh_token)).status_code == 200


async def test_password_change_ends_other_sessions_and_keeps_the_caller_signed_in(tenant, client):
    other_session = (await login(client, tenant, tenant.admin.email)).json()
    new_password = "Another-Strong-Pass-7?"
    response = await tenant.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": new_password}
    )
    assert response.status_code == 200, response.text
    fresh = response.json()
    problem(await refresh(client, other_session["refresh_token"]), 401)
    assert (await refresh(client, fresh["refresh_token"])).status_code == 200
    problem(await login(client, tenant, tenant.admin.email, PASSWORD, address()), 401)
    assert (await login(client, tenant, tenant.admin.email, new_password)).status_code == 200


async def test_password_change_needs_the_current_password(tenant):
    body = problem(
        await tenant.post(
            "/api/v1/auth/password",
            json={
                "current_password": "Not-my-password-1!",
                "new_password": "Another-Strong-Pass-7?",
            },
            headers=address(),
        ),
        422,
    )
    assert "current password" in body["detail"]


async def test_deactivation_ends_the_users_sessions(tenant, client):
    creator = await tenant.add_user("creator")
    await tenant.patch(f"/api/v1/users/{creator.id}", json={"is_active": False})
    problem(await refresh(client, creator.refresh_token), 401)
    problem(await login(client, tenant, creator.email, PASSWORD, address()), 401)


async def test_weak_passwords_are_refused_everywhere(tenant, tenants, client):
    for weak in (
        "short1!A",
        "alllowercase-12!",
        "ALLUPPERCASE-12!",
        "NoDigitsHere-!!",
        "NoSymbols12345a",
    ):
        body = problem(
            await tenant.post(
                "/api/v1/users",
                json={"email": "w@example.com", "password": weak, "role": "creator"},
            ),
            422,
        )
        assert "password" in body["detail"].lower()
    problem(
        await tenant.post(
            "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "weak"}
        ),
        422,
    )
    problem(
        await client.post(
            "/api/v1/admin/tenants",
            json={
                "name": "W",
                "subdomain": f"weak-{uuid.uuid4().hex[:6]}",
                "admin_email": "a@example.com",
                "admin_password": "weakpass",
            },
            headers={"Authorization": f"Bearer {PLATFORM_TOKEN}"},
        ),
        422,
    )


async def test_failed_logins_are_throttled_per_email(tenant, client, settings):
    limit = settings.login_failures_per_email
    for _ in range(limit):
        problem(
            await login(client, tenant, tenant.admin.email, "Wrong-password-1!", address()), 401
        )
    # Even the right password is refused now, from any address, with a Retry-After.
    response = await login(client, tenant, tenant.admin.email, PASSWORD, address())
    problem(response, 429)
    assert 0 < int(response.headers["retry-after"]) <= settings.login_failure_window_seconds
    # Another user of the tenant is not affected.
    creator = await tenant.add_user("creator")
    assert (await login(client, tenant, creator.email)).status_code == 200


async def test_failed_logins_are_throttled_per_address(tenant, client, settings):
    same_address = address()
    for n in range(settings.login_failures_per_address):
        problem(
            await login(
                client, tenant, f"nobody{n}@example.com", "Wrong-password-1!", same_address
            ),
            401,
        )
    problem(await login(client, tenant, tenant.admin.email, PASSWORD, same_address), 429)
    assert (await login(client, tenant, tenant.admin.email, PASSWORD, address())).status_code == 200


async def test_successful_logins_do_not_count_towards_the_limit(tenant, client, settings):
    same_address = address()
    for _ in range(settings.login_failures_per_email + 2):
        assert (
            await login(client, tenant, tenant.admin.email, PASSWORD, same_address)
        ).status_code == 200
