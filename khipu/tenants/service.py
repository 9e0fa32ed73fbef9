"""Provisioning and administering tenants (platform admin), and looking them up for requests."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core import audit
from khipu.core import logging as log_context
from khipu.core.db import Database, after_commit
from khipu.core.errors import Conflict, NotFound
from khipu.core.models import utcnow
from khipu.core.pagination import PageParams
from khipu.core.permissions import Principal, Role
from khipu.core.runtime import Runtime
from khipu.core.security import check_password_policy
from khipu.core.tenancy import TenantRef
from khipu.tenants import repository
from khipu.tenants.models import PlatformAuditEntry, Tenant
from khipu.tenants.schemas import (
    Plan,
    TenantCreate,
    TenantProfile,
    TenantSettings,
    TenantUpdate,
)
from khipu.users import service as users


class SubdomainTaken(Conflict):
    title = "Subdomain taken"


class TenantNotFound(NotFound):
    title = "Tenant not found"


def as_ref(tenant: Tenant) -> TenantRef:
    return TenantRef(
        id=tenant.id,
        subdomain=tenant.subdomain,
        is_active=tenant.is_active,
        plan=tenant.plan,
        settings=dict(tenant.settings),
    )


class TenantDirectory:
    """Tenants by id or subdomain, remembered for a few seconds: every request resolves its
    tenant, and the directory seldom changes. A change made through this process is seen at
    once (the entries are forgotten); other processes see it within `ttl_seconds`."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[tuple[UUID | None, str | None], tuple[float, TenantRef | None]] = {}

    async def lookup(
        self, db: Database, tenant_id: UUID | None, subdomain: str | None
    ) -> TenantRef | None:
        key = (tenant_id, subdomain)
        cached = self._entries.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with db.transaction(None) as session:  # the directory has no RLS
            tenant = await repository.find(session, tenant_id=tenant_id, subdomain=subdomain)
            found = as_ref(tenant) if tenant else None
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl_seconds, found)
        return found

    def forget(self) -> None:
        self._entries.clear()


def directory(runtime: Runtime) -> TenantDirectory:
    """This process's tenant directory."""
    if "tenant_directory" not in runtime.services:
        runtime.services["tenant_directory"] = TenantDirectory(
            runtime.settings.tenant_cache_seconds
        )
    return runtime.services["tenant_directory"]  # type: ignore[no-any-return]


async def lookup(
    runtime: Runtime, tenant_id: UUID | None, subdomain: str | None
) -> TenantRef | None:
    """Find a tenant by id or subdomain, outside any tenant context."""
    return await directory(runtime).lookup(runtime.db, tenant_id, subdomain)


async def active_tenant_ids(db: Database) -> list[UUID]:
    """For maintenance that must visit every tenant, one tenant context at a time."""
    async with db.transaction(None) as session:
        return await repository.all_ids(session, active_only=True)


async def create_tenant(
    runtime: Runtime, data: TenantCreate, *, client_address: str | None
) -> tuple[Tenant, UUID]:
    """Create the tenant and its first admin in one transaction, running in the new tenant's
    context so the admin row passes RLS."""
    check_password_policy(data.admin_password)
    tenant = Tenant(id=uuid4(), name=data.name, subdomain=data.subdomain, plan=data.plan.value)
    password_hash = await runtime.passwords.hash(data.admin_password)
    try:
        async with runtime.db.transaction(tenant.id) as session:
            if await repository.subdomain_taken(session, data.subdomain):
                raise SubdomainTaken(f"The subdomain {data.subdomain!r} is already in use.")
            session.add(tenant)
            await session.flush()
            admin = await users.add_user(
                session,
                tenant_id=tenant.id,
                email=str(data.admin_email),
                password_hash=password_hash,
                role=Role.ADMIN,
                actor_id=None,
            )
            _audit(session, "tenant.create", tenant.id, client_address, subdomain=data.subdomain)
    except IntegrityError as exc:  # a concurrent create won the race for the subdomain
        raise SubdomainTaken(f"The subdomain {data.subdomain!r} is already in use.") from exc
    directory(runtime).forget()
    return tenant, admin.id


async def list_tenants(
    runtime: Runtime, params: PageParams, *, client_address: str | None
) -> tuple[list[Tenant], str | None]:
    async with runtime.db.transaction(None) as session:
        page = await repository.list_page(session, params)
        _audit(session, "tenant.list", None, client_address)
    return page


async def update_tenant(
    runtime: Runtime, tenant_id: UUID, data: TenantUpdate, *, client_address: str | None
) -> Tenant:
    async with runtime.db.transaction(None) as session:
        tenant = await repository.get(session, tenant_id)
        if tenant is None:
            raise TenantNotFound(f"No tenant has the id {tenant_id}.")
        changes = data.model_dump(exclude_unset=True)
        cap = changes.pop("monthly_spending_cap_usd", None)
        for field, value in changes.items():
            setattr(tenant, field, value.value if hasattr(value, "value") else value)
        if "monthly_spending_cap_usd" in data.model_fields_set:
            tenant.settings = {**tenant.settings, "monthly_spending_cap_usd": cap}
        tenant.updated_at = utcnow()
        _audit(
            session,
            "tenant.update",
            tenant.id,
            client_address,
            **data.model_dump(mode="json", exclude_unset=True),
        )
    directory(runtime).forget()
    return tenant


def profile(tenant: Tenant) -> TenantProfile:
    known = {key: tenant.settings.get(key) for key in TenantSettings.model_fields}
    return TenantProfile(
        id=tenant.id,
        name=tenant.name,
        subdomain=tenant.subdomain,
        plan=Plan(tenant.plan),
        settings=TenantSettings.model_validate(known),
    )


async def get_profile(session: AsyncSession, tenant_id: UUID) -> TenantProfile:
    tenant = await repository.get(session, tenant_id)
    if tenant is None:
        raise TenantNotFound(f"No tenant has the id {tenant_id}.")
    return profile(tenant)


async def update_settings(
    session: AsyncSession, runtime: Runtime, principal: Principal, data: TenantSettings
) -> TenantProfile:
    """A tenant admin changes its own tenant's settings (never another's: the id is the
    principal's)."""
    tenant = await repository.get(session, principal.tenant_id)
    if tenant is None:
        raise TenantNotFound(f"No tenant has the id {principal.tenant_id}.")
    changes = data.model_dump(exclude_unset=True)
    tenant.settings = {**tenant.settings, **changes}
    tenant.updated_at = utcnow()
    audit.record(
        session,
        tenant_id=tenant.id,
        actor_id=principal.user_id,
        action="tenant.settings",
        target_type="tenant",
        target_id=tenant.id,
        **changes,
    )

    async def forget_directory() -> None:
        directory(runtime).forget()

    after_commit(session, forget_directory)
    return profile(tenant)


def _audit(
    session: AsyncSession,
    action: str,
    tenant_id: UUID | None,
    client_address: str | None,
    **detail: Any,
) -> None:
    repository.add_audit(
        session,
        PlatformAuditEntry(
            action=action,
            target_tenant=tenant_id,
            detail=detail,
            correlation_id=log_context.correlation_id.get(),
            client_address=client_address,
        ),
    )
