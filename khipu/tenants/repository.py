"""SQL for the tenants directory and the platform audit trail."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core.pagination import PageParams, paginate
from khipu.tenants.models import PlatformAuditEntry, Tenant


async def get(session: AsyncSession, tenant_id: UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def find(
    session: AsyncSession, *, tenant_id: UUID | None, subdomain: str | None
) -> Tenant | None:
    statement = select(Tenant)
    if tenant_id is not None:
        statement = statement.where(Tenant.id == tenant_id)
    if subdomain is not None:
        statement = statement.where(Tenant.subdomain == subdomain)
    return (await session.scalars(statement)).one_or_none()


async def subdomain_taken(session: AsyncSession, subdomain: str) -> bool:
    return await session.scalar(select(Tenant.id).where(Tenant.subdomain == subdomain)) is not None


async def list_page(session: AsyncSession, params: PageParams) -> tuple[list[Tenant], str | None]:
    return await paginate(
        session, select(Tenant), keys=[Tenant.created_at, Tenant.id], params=params, descending=True
    )


async def all_ids(session: AsyncSession, *, active_only: bool = True) -> list[UUID]:
    statement = select(Tenant.id).order_by(Tenant.created_at)
    if active_only:
        statement = statement.where(Tenant.is_active)
    return list((await session.scalars(statement)).all())


def add_audit(session: AsyncSession, entry: PlatformAuditEntry) -> None:
    session.add(entry)
