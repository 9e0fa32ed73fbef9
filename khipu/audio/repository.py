"""SQL for reviews."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.audio.models import Review
from khipu.core.pagination import PageParams, paginate


async def list_reviews(
    session: AsyncSession, segment_id: UUID, params: PageParams
) -> tuple[list[Review], str | None]:
    statement = select(Review).where(Review.segment_id == segment_id)
    return await paginate(
        session, statement, keys=[Review.created_at, Review.id], params=params, descending=True
    )
