"""What the service-layer benchmarks share: throw-away embedded servers, a runtime on them, and a
tenant with its admin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from khipu.config import Settings
from khipu.core.embedded import EmbeddedServers, start_embedded
from khipu.core.migrations import ensure_runtime_login, upgrade_async
from khipu.core.permissions import Principal, Role
from khipu.core.runtime import Runtime
from khipu.tenants import service as tenants
from khipu.tenants.schemas import TenantCreate


@dataclass(frozen=True)
class Platform:
    servers: EmbeddedServers
    settings: Settings
    runtime: Runtime


@asynccontextmanager
async def embedded_platform(home: Path) -> AsyncIterator[Platform]:
    """PostgreSQL and Redis under `home`, migrated, and a runtime as the app's (blobs in `home`)."""
    servers = start_embedded(home)
    try:
        assert servers.migration_database_url and servers.database_url and servers.redis_url
        await upgrade_async(servers.migration_database_url)
        await ensure_runtime_login(servers.migration_database_url, servers.database_url)
        settings = Settings(
            home=home,
            database_url=servers.database_url,
            redis_url=servers.redis_url,
            storage_url=f"file://{home / 'blobs'}",
            jwt_secret=SecretStr("bench-" + "x" * 40),
            argon2_time_cost=1,
            argon2_memory_kib=8192,
        )
        runtime = await Runtime.start(settings)
        try:
            yield Platform(servers, settings, runtime)
        finally:
            await runtime.close()
    finally:
        servers.stop()


async def bench_tenant(runtime: Runtime) -> Principal:
    """A new tenant; its admin as the principal the service calls run as."""
    tenant, admin_id = await tenants.create_tenant(
        runtime,
        TenantCreate(
            name="Bench",
            subdomain=f"bench-{uuid.uuid4().hex[:6]}",
            admin_email="a@bench.example",
            admin_password="Bench-Password-1!",
        ),
        client_address=None,
    )
    return Principal(user_id=admin_id, tenant_id=tenant.id, role=Role.ADMIN)
