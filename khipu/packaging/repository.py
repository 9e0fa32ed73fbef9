"""SQL for packages."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core.pagination import PageParams, paginate
from khipu.packaging.models import Package


async def next_version(session: AsyncSession, project_id: UUID, fmt: str) -> int:
    current = await session.scalar(
        select(func.max(Package.version)).where(
            Package.project_id == project_id, Package.format == fmt
        )
    )
    return (current or 0) + 1


async def get(
    session: AsyncSession, package_id: UUID, *, for_update: bool = False
) -> Package | None:
    statement = select(Package).where(Package.id == package_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def of_job(session: AsyncSession, job_id: UUID) -> Package | None:
    return (await session.scalars(select(Package).where(Package.job_id == job_id))).one_or_none()


async def list_for_project(
    session: AsyncSession, project_id: UUID, params: PageParams
) -> tuple[list[Package], str | None]:
    statement = select(Package).where(Package.project_id == project_id)
    return await paginate(
        session, statement, keys=[Package.created_at, Package.id], params=params, descending=True
    )
