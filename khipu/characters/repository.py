"""SQL for characters."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.characters.models import Character
from khipu.core.pagination import PageParams, paginate


async def of_project(
    session: AsyncSession, project_id: UUID, *, for_update: bool = False
) -> list[Character]:
    statement = select(Character).where(Character.project_id == project_id).order_by(Character.name)
    if for_update:
        statement = statement.with_for_update()
    return list((await session.scalars(statement)).all())


async def page_of_project(
    session: AsyncSession, project_id: UUID, params: PageParams
) -> tuple[list[Character], str | None]:
    statement = select(Character).where(Character.project_id == project_id)
    return await paginate(session, statement, keys=[Character.name, Character.id], params=params)


async def get(
    session: AsyncSession, character_id: UUID, *, for_update: bool = False
) -> Character | None:
    statement = select(Character).where(Character.id == character_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def add(session: AsyncSession, character: Character) -> Character:
    session.add(character)
    await session.flush()
    return character


async def delete(session: AsyncSession, character: Character) -> None:
    """Segments that still name the character lose their speaker (ON DELETE SET NULL)."""
    await session.delete(character)
    await session.flush()
