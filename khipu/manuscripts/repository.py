"""SQL for manuscripts, chapters, segments and lexicons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select, update
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


#: What makes a segment's audio obsolete (its voice, text or kind changed).
RESYNTHESIS = {
    "status": "pending",
    "error": None,
    "audio_key": None,
    "duration_ms": None,
    "word_boundaries": None,
    "updated_at": func.now(),
}


async def segments_by_ids(
    session: AsyncSession, segment_ids: Sequence[UUID], *, for_update: bool = False
) -> list[Segment]:
    statement = select(Segment).where(Segment.id.in_(segment_ids))
    if for_update:
        statement = statement.with_for_update()
    return list((await session.scalars(statement)).all())


async def dialogue_stats(
    session: AsyncSession, project_id: UUID, *, samples: int
) -> dict[UUID, tuple[int, list[tuple[UUID, str]]]]:
    """Per speaker: how many dialogue lines, and the `samples` longest (id, text)."""
    ranked = (
        select(
            Segment.character_id,
            Segment.id,
            Segment.text,
            func.count().over(partition_by=Segment.character_id).label("lines"),
            func.row_number()
            .over(
                partition_by=Segment.character_id,
                order_by=(func.length(Segment.text).desc(), Segment.id),
            )
            .label("rank"),
        )
        .where(
            Segment.project_id == project_id,
            Segment.kind == "dialogue",
            Segment.character_id.is_not(None),
        )
        .subquery()
    )
    rows = await session.execute(
        select(ranked.c.character_id, ranked.c.lines, ranked.c.id, ranked.c.text)
        .where(ranked.c.rank <= samples)
        .order_by(ranked.c.character_id, ranked.c.rank)
    )
    stats: dict[UUID, tuple[int, list[tuple[UUID, str]]]] = {}
    for character_id, lines, segment_id, text in rows.all():
        stats.setdefault(character_id, (lines, []))[1].append((segment_id, text))
    return stats


async def reset_dialogue_of(session: AsyncSession, character_id: UUID) -> None:
    await session.execute(
        update(Segment)
        .where(Segment.character_id == character_id, Segment.kind == "dialogue")
        .values(**RESYNTHESIS)
    )


async def move_speaker(session: AsyncSession, from_id: UUID, to_id: UUID) -> None:
    await session.execute(
        update(Segment)
        .where(Segment.character_id == from_id)
        .values(character_id=to_id, **RESYNTHESIS)
    )


async def locked_speakers(session: AsyncSession, project_id: UUID) -> set[UUID]:
    statement = (
        select(Segment.character_id)
        .distinct()
        .where(
            Segment.project_id == project_id,
            Segment.speaker_locked,
            Segment.character_id.is_not(None),
        )
    )
    return set((await session.scalars(statement)).all())
