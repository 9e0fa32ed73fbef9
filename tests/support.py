"""Helpers for tests that speak to the API like a client: tenants, users of each role, projects."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from khipu.core.runtime import Runtime

PLATFORM_TOKEN = "platform-token-for-tests-" + "p" * 16
PASSWORD = "Correct-Horse-42!"
_counter = itertools.count()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert `response` is an RFC 9457 problem with `status`; return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["title"] and (body["type"] == "about:blank" or body["type"].startswith("https://"))
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    return body


@dataclass
class UserHandle:
    id: str
    email: str
    role: str
    access_token: str
    refresh_token: str


@dataclass
class TenantHandle:
    client: httpx.AsyncClient
    id: str
    subdomain: str
    admin: UserHandle
    users: dict[str, UserHandle] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"{self.subdomain}.khipu.test"

    def headers(self, user: UserHandle | None = None, **extra: str) -> dict[str, str]:
        token = (user or self.admin).access_token
        return {"X-Tenant-ID": self.subdomain, "Authorization": f"Bearer {token}", **extra}

    async def request(
        self, method: str, url: str, *, as_user: UserHandle | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers(as_user), **kwargs.pop("headers", {})}
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/auth/login",
            json={"email": email, "password": password},
            headers={"X-Tenant-ID": self.subdomain},
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def add_user(self, role: str, *, email: str | None = None) -> UserHandle:
        email = email or f"{role}-{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"
        response = await self.post(
            "/api/v1/users", json={"email": email, "password": PASSWORD, "role": role}
        )
        assert response.status_code == 201, response.text
        tokens = await self.login(email)
        user = UserHandle(
            response.json()["id"], email, role, tokens["access_token"], tokens["refresh_token"]
        )
        self.users[email] = user
        return user

    async def add_project(self, owner: UserHandle | None = None, **fields: Any) -> dict[str, Any]:
        body = {"title": f"Book {next(_counter)}", **fields}
        response = await self.post("/api/v1/projects", json=body, as_user=owner)
        assert response.status_code == 201, response.text
        return response.json()

    async def assign(self, project_id: str, validator: UserHandle) -> None:
        response = await self.post(
            f"/api/v1/projects/{project_id}/members", json={"user_id": validator.id}
        )
        assert response.status_code == 201, response.text


TERMINAL = {"succeeded", "failed", "cancelled"}


async def wait_for_job(tenant: TenantHandle, job_id: str, *, within: float = 300) -> dict[str, Any]:
    """Poll the job until it ends; return its final state."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        job = (await tenant.get(f"/api/v1/jobs/{job_id}")).json()
        if job["status"] in TERMINAL:
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job {job_id} did not finish: {job}")
        await asyncio.sleep(0.2)


async def all_items(tenant: TenantHandle, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        page = (await tenant.get(url, params=query)).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


class TenantFactory:
    def __init__(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime

    async def create(self, **fields: Any) -> TenantHandle:
        n = next(_counter)
        subdomain = fields.pop("subdomain", f"t{n}-{uuid.uuid4().hex[:8]}")
        email = f"admin@{subdomain}.example.com"
        body = {
            "name": f"Tenant {n}",
            "subdomain": subdomain,
            "plan": "team",
            "admin_email": email,
            "admin_password": PASSWORD,
            **fields,
        }
        response = await self.client.post(
            "/api/v1/admin/tenants",
            json=body,
            headers={"Authorization": f"Bearer {PLATFORM_TOKEN}"},
        )
        assert response.status_code == 201, response.text
        created = response.json()
        login = await self.client.post(
            "/api/v1/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"X-Tenant-ID": subdomain},
        )
        assert login.status_code == 200, login.text
        tokens = login.json()
        admin = UserHandle(
            created["admin_user_id"],
            email,
            "admin",
            tokens["access_token"],
            tokens["refresh_token"],
        )
        return TenantHandle(self.client, created["id"], subdomain, admin)
