"""SQL for projects and members."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core.pagination import PageParams, paginate
from khipu.core.permissions import Scope
from khipu.projects.models import Project, ProjectMember


async def get(session: AsyncSession, project_id: UUID) -> Project | None:
    return (await session.scalars(select(Project).where(Project.id == project_id))).one_or_none()


async def is_member(session: AsyncSession, project_id: UUID, user_id: UUID) -> bool:
    statement = select(
        exists().where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id)
    )
    return bool(await session.scalar(statement))


async def list_page(
    session: AsyncSession, *, scope: Scope, user_id: UUID, params: PageParams
) -> tuple[list[Project], str | None]:
    statement = select(Project)
    if scope is Scope.OWN:
        statement = statement.where(Project.owner_id == user_id)
    elif scope is Scope.ASSIGNED:
        statement = statement.where(
            exists().where(ProjectMember.project_id == Project.id, ProjectMember.user_id == user_id)
        )
    return await paginate(
        session, statement, keys=[Project.created_at, Project.id], params=params, descending=True
    )


async def get_member(
    session: AsyncSession, project_id: UUID, user_id: UUID
) -> ProjectMember | None:
    statement = select(ProjectMember).where(
        ProjectMember.project_id == project_id, ProjectMember.user_id == user_id
    )
    return (await session.scalars(statement)).one_or_none()


async def list_members(
    session: AsyncSession, project_id: UUID, params: PageParams
) -> tuple[list[ProjectMember], str | None]:
    statement = select(ProjectMember).where(ProjectMember.project_id == project_id)
    keys = [ProjectMember.created_at, ProjectMember.user_id]
    return await paginate(session, statement, keys=keys, params=params)


async def member_project_ids(session: AsyncSession, user_id: UUID) -> list[UUID]:
    statement = select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)
    return list((await session.scalars(statement)).all())


async def owned_project_ids(session: AsyncSession, user_id: UUID) -> list[UUID]:
    return list(
        (await session.scalars(select(Project.id).where(Project.owner_id == user_id))).all()
    )
