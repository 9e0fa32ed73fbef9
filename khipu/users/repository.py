"""SQL for users. Every query runs under the session's tenant context (RLS)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core.pagination import PageParams, paginate
from khipu.users.models import User


async def get(session: AsyncSession, user_id: UUID) -> User | None:
    return (await session.scalars(select(User).where(User.id == user_id))).one_or_none()


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    statement = select(User).where(func.lower(User.email) == email.lower())
    return (await session.scalars(statement)).one_or_none()


async def get_by_entra_object_id(session: AsyncSession, object_id: str) -> User | None:
    statement = select(User).where(User.entra_object_id == object_id)
    return (await session.scalars(statement)).one_or_none()


async def email_taken(session: AsyncSession, email: str) -> bool:
    return await get_by_email(session, email) is not None


async def list_page(session: AsyncSession, params: PageParams) -> tuple[list[User], str | None]:
    return await paginate(
        session, select(User), keys=[User.created_at, User.id], params=params, descending=True
    )


async def delete(session: AsyncSession, user: User) -> None:
    await session.delete(user)
