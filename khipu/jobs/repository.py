"""SQL for jobs."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core.pagination import PageParams, paginate
from khipu.jobs.models import ACTIVE_STATUSES, Job


async def get(session: AsyncSession, job_id: UUID, *, for_update: bool = False) -> Job | None:
    statement = select(Job).where(Job.id == job_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def find_active(session: AsyncSession, project_id: UUID, kind: str, scope: str) -> Job | None:
    statement = select(Job).where(
        Job.project_id == project_id,
        Job.kind == kind,
        Job.scope == scope,
        Job.status.in_(ACTIVE_STATUSES),
    )
    return (await session.scalars(statement)).one_or_none()


async def any_active(
    session: AsyncSession, project_id: UUID, kinds: tuple[str, ...] | None = None
) -> bool:
    statement = select(func.count()).where(
        Job.project_id == project_id, Job.status.in_(ACTIVE_STATUSES)
    )
    if kinds:
        statement = statement.where(Job.kind.in_(kinds))
    return bool(await session.scalar(statement))


async def list_for_project(
    session: AsyncSession, project_id: UUID, params: PageParams
) -> tuple[list[Job], str | None]:
    statement = select(Job).where(Job.project_id == project_id)
    return await paginate(
        session, statement, keys=[Job.created_at, Job.id], params=params, descending=True
    )


async def children(session: AsyncSession, parent_id: UUID) -> list[Job]:
    return list((await session.scalars(select(Job).where(Job.parent_id == parent_id))).all())


async def stale(
    session: AsyncSession, *, running_before: datetime, queued_before: datetime
) -> list[Job]:
    """Jobs a dead worker left running, and queued jobs whose enqueue may have been lost."""
    statement = select(Job).where(
        (
            (Job.status == "running")
            & (func.coalesce(Job.heartbeat_at, Job.created_at) < running_before)
        )
        | ((Job.status == "queued") & (Job.created_at < queued_before))
    )
    return list((await session.scalars(statement.with_for_update(skip_locked=True))).all())


async def request_cancel_children(session: AsyncSession, parent_id: UUID, now: datetime) -> None:
    await session.execute(
        update(Job)
        .where(Job.parent_id == parent_id, Job.status == "queued")
        .values(status="cancelled", finished_at=now, cancel_requested=True)
    )
    await session.execute(
        update(Job)
        .where(Job.parent_id == parent_id, Job.status == "running")
        .values(cancel_requested=True)
    )
