"""SQL for manuscripts, chapters, segments and lexicons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core.pagination import PageParams, paginate
from khipu.manuscripts.models import Chapter, Lexicon, Manuscript, Segment


async def next_version(session: AsyncSession, project_id: UUID) -> int:
    current = await session.scalar(
        select(func.max(Manuscript.version)).where(Manuscript.project_id == project_id)
    )
    return (current or 0) + 1


async def get_manuscript(
    session: AsyncSession, project_id: UUID, manuscript_id: UUID
) -> Manuscript | None:
    statement = select(Manuscript).where(
        Manuscript.project_id == project_id, Manuscript.id == manuscript_id
    )
    return (await session.scalars(statement)).one_or_none()


async def list_manuscripts(
    session: AsyncSession, project_id: UUID, params: PageParams
) -> tuple[list[Manuscript], str | None]:
    statement = select(Manuscript).where(Manuscript.project_id == project_id)
    return await paginate(
        session, statement, keys=[Manuscript.version], params=params, descending=True
    )


async def delete_chapters(session: AsyncSession, project_id: UUID) -> None:
    """Segments go with their chapters (foreign key ON DELETE CASCADE)."""
    await session.execute(delete(Chapter).where(Chapter.project_id == project_id))


async def insert_rows(session: AsyncSession, model: type, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(model), list(rows))


async def get_chapter(
    session: AsyncSession, chapter_id: UUID, *, for_update: bool = False
) -> Chapter | None:
    statement = select(Chapter).where(Chapter.id == chapter_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def list_chapters(
    session: AsyncSession, project_id: UUID, params: PageParams
) -> tuple[list[Chapter], str | None]:
    statement = select(Chapter).where(Chapter.project_id == project_id)
    return await paginate(session, statement, keys=[Chapter.position], params=params)


async def chapters_of(
    session: AsyncSession, project_id: UUID, *, included_only: bool = False
) -> list[Chapter]:
    statement = select(Chapter).where(Chapter.project_id == project_id)
    if included_only:
        statement = statement.where(Chapter.included)
    return list((await session.scalars(statement.order_by(Chapter.position))).all())


async def status_counts(
    session: AsyncSession, chapter_ids: Sequence[UUID]
) -> dict[UUID, dict[str, int]]:
    statement = (
        select(Segment.chapter_id, Segment.status, func.count())
        .where(Segment.chapter_id.in_(chapter_ids))
        .group_by(Segment.chapter_id, Segment.status)
    )
    counts: dict[UUID, dict[str, int]] = {}
    for chapter_id, status, count in (await session.execute(statement)).all():
        counts.setdefault(chapter_id, {})[status] = count
    return counts


async def get_segment(
    session: AsyncSession, segment_id: UUID, *, for_update: bool = False
) -> Segment | None:
    statement = select(Segment).where(Segment.id == segment_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).one_or_none()


async def list_segments(
    session: AsyncSession, chapter_id: UUID, params: PageParams, *, status: str | None
) -> tuple[list[Segment], str | None]:
    statement = select(Segment).where(Segment.chapter_id == chapter_id)
    if status:
        statement = statement.where(Segment.status == status)
    return await paginate(session, statement, keys=[Segment.position], params=params)


async def segments_of_chapter(session: AsyncSession, chapter_id: UUID) -> list[Segment]:
    statement = select(Segment).where(Segment.chapter_id == chapter_id).order_by(Segment.position)
    return list((await session.scalars(statement)).all())


async def segments_of_project(
    session: AsyncSession, project_id: UUID, *, included_only: bool
) -> list[Segment]:
    statement = select(Segment).where(Segment.project_id == project_id)
    if included_only:
        statement = statement.join(
            Chapter, (Chapter.tenant_id == Segment.tenant_id) & (Chapter.id == Segment.chapter_id)
        ).where(Chapter.included)
    statement = statement.order_by(Segment.chapter_id, Segment.position)
    return list((await session.scalars(statement)).all())


async def get_lexicon(session: AsyncSession, project_id: UUID) -> Lexicon | None:
    return (
        await session.scalars(select(Lexicon).where(Lexicon.project_id == project_id))
    ).one_or_none()
