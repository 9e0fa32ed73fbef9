"""Access tokens are verified with an explicit algorithm, key, audience, issuer and expiry."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from tests.support import problem

SECRET = "test-secret-" + "x" * 40


def claims_for(tenant, **overrides):
    now = int(time.time())
    claims = {
        "sub": tenant.admin.id,
        "tenant_id": tenant.id,
        "role": "admin",
        "iss": "khipu",
        "aud": "khipu-api",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def tamper(token: str, **changes) -> str:
    """Change claims in the payload and keep the original signature."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{header}.{encoded}.{signature}"


async def me(client, tenant, token):
    return await client.get(
        "/api/v1/auth/me",
        headers={"X-Tenant-ID": tenant.subdomain, "Authorization": f"Bearer {token}"},
    )


async def test_a_correctly_signed_token_is_accepted(tenant, client):
    token = jwt.encode(claims_for(tenant), SECRET, algorithm="HS256")
    assert (await me(client, tenant, token)).status_code == 200


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda t: jwt.encode(claims_for(t), None, algorithm="none"), id="alg-none"),
        pytest.param(
            lambda t: jwt.encode(claims_for(t), "another-secret-" + "y" * 40, algorithm="HS256"),
            id="wrong-key",
        ),
        pytest.param(
            lambda t: jwt.encode(claims_for(t), SECRET, algorithm="HS512"),
            id="unexpected-algorithm",
        ),
        pytest.param(
            lambda t: jwt.encode(
                claims_for(t, exp=int(time.time()) - 5), SECRET, algorithm="HS256"
            ),
            id="expired",
        ),
        pytest.param(
            lambda t: jwt.encode(claims_for(t, aud="someone-else"), SECRET, algorithm="HS256"),
            id="wrong-audience",
        ),
        pytest.param(
            lambda t: jwt.encode(
                claims_for(t, iss="https://evil.example"), SECRET, algorithm="HS256"
            ),
            id="wrong-issuer",
        ),
        pytest.param(
            lambda t: jwt.encode(claims_for(t, jti=None), SECRET, algorithm="HS256"),
            id="missing-jti",
        ),
        pytest.param(
            lambda t: jwt.encode(claims_for(t, exp=None), SECRET, algorithm="HS256"),
            id="missing-exp",
        ),
        pytest.param(lambda t: "not.a.jwt", id="garbage"),
    ],
)
async def test_invalid_tokens_are_unauthorized(tenant, client, make_token):
    body = problem(await me(client, tenant, make_token(tenant)), 401)
    assert "token" in body["detail"].lower()


async def test_a_tampered_role_is_unauthorized(tenant, client):
    validator = await tenant.add_user("validator")
    forged = tamper(validator.access_token, role="admin")
    problem(await me(client, tenant, forged), 401)


async def test_a_tampered_tenant_is_unauthorized(tenant, other_tenant, client):
    forged = tamper(tenant.admin.access_token, tenant_id=other_tenant.id)
    problem(await me(client, other_tenant, forged), 401)


async def test_missing_token_is_unauthorized_with_a_bearer_challenge(tenant, client):
    response = await client.get("/api/v1/auth/me", headers={"X-Tenant-ID": tenant.subdomain})
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_token_of_a_deactivated_user_stops_working(tenant):
    creator = await tenant.add_user("creator")
    assert (await tenant.get("/api/v1/auth/me", as_user=creator)).status_code == 200
    assert (
        await tenant.patch(f"/api/v1/users/{creator.id}", json={"is_active": False})
    ).status_code == 200
    problem(await tenant.get("/api/v1/auth/me", as_user=creator), 401)


async def test_issued_tokens_carry_the_required_claims(tenant):
    claims = jwt.decode(tenant.admin.access_token, options={"verify_signature": False})
    assert {"sub", "tenant_id", "role", "iss", "aud", "exp", "iat", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["tenant_id"] == tenant.id and claims["role"] == "admin"
