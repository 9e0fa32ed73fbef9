"""SQL for characters."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.characters.models import Character


async def of_project(session: AsyncSession, project_id: UUID) -> list[Character]:
    statement = select(Character).where(Character.project_id == project_id).order_by(Character.name)
    return list((await session.scalars(statement)).all())


async def get(
    session: AsyncSession, character_id: UUID, *, for_update: bool = False
) -> Character | None:
    statement = select(Character).where(Character.id == character_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()
