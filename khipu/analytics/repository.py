"""SQL for usage events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.analytics.models import UsageEvent


def _scoped(
    statement: Any, project_ids: list[UUID] | None, since: datetime | None, until: datetime | None
) -> Any:
    if project_ids is not None:
        statement = statement.where(UsageEvent.project_id.in_(project_ids))
    if since is not None:
        statement = statement.where(UsageEvent.created_at >= since)
    if until is not None:
        statement = statement.where(UsageEvent.created_at < until)
    return statement


async def totals_by(
    session: AsyncSession,
    column: Any,
    *,
    project_ids: list[UUID] | None,
    since: datetime | None,
    until: datetime | None,
) -> list[tuple[Any, int, int, Decimal]]:
    statement = (
        select(
            column,
            func.coalesce(func.sum(UsageEvent.characters), 0),
            func.coalesce(func.sum(UsageEvent.tokens), 0),
            func.coalesce(func.sum(UsageEvent.cost_usd), 0),
        )
        .group_by(column)
        .order_by(column)
    )
    rows = await session.execute(_scoped(statement, project_ids, since, until))
    return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def spent_since(session: AsyncSession, since: datetime) -> Decimal:
    statement = select(func.coalesce(func.sum(UsageEvent.cost_usd), 0)).where(
        UsageEvent.created_at >= since
    )
    return Decimal(await session.scalar(statement) or 0)
