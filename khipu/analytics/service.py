"""Recording usage with its estimated cost, spending caps, and cost reports per role."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.analytics import repository
from khipu.analytics.models import UsageEvent
from khipu.analytics.schemas import Costs, EngineCosts, ProjectCosts
from khipu.config import Settings
from khipu.core.errors import KhipuError
from khipu.core.permissions import Action, Principal
from khipu.projects import service as projects

MILLION = Decimal(1_000_000)


class SpendingCapReached(KhipuError):
    status = 402
    title = "Spending cap reached"


def tts_cost(settings: Settings, engine: str, characters: int) -> Decimal:
    price = settings.tts_prices_per_million_chars.get(engine, Decimal(0))
    return price * characters / MILLION


def llm_cost(settings: Settings, tokens: int) -> Decimal:
    return settings.llm_price_per_million_tokens * tokens / MILLION


def record_usage(
    session: AsyncSession,
    *,
    tenant_id: UUID,
    project_id: UUID | None,
    kind: str,
    engine: str,
    cost: Decimal,
    characters: int = 0,
    tokens: int = 0,
) -> None:
    session.add(
        UsageEvent(
            tenant_id=tenant_id,
            project_id=project_id,
            kind=kind,
            engine=engine,
            characters=characters,
            tokens=tokens,
            cost_usd=cost,
        )
    )


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def spent_this_month(session: AsyncSession) -> Decimal:
    return await repository.spent_since(session, month_start())


async def check_spending_cap(
    session: AsyncSession, cap_usd: float | None, *, additional: Decimal = Decimal(0)
) -> Decimal:
    """The month's spend so far; refuses (402) when it, plus `additional`, would pass the cap."""
    spent = await spent_this_month(session)
    if cap_usd is not None and spent + additional > Decimal(str(cap_usd)):
        raise SpendingCapReached(
            f"This month's estimated spend (${spent:.2f}, plus ${additional:.2f} for this work) "
            f"would pass the tenant's cap of ${cap_usd:.2f}. An admin can raise it in the tenant "
            "settings.",
            spent_usd=float(spent),
            cap_usd=cap_usd,
        )
    return spent


async def costs_for(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: UUID | None,
    since: datetime | None,
    until: datetime | None,
) -> Costs:
    """Admins see every project, creators their own, validators those assigned to them."""
    if project_id is not None:
        await projects.get_project_for(session, principal, project_id, Action.VIEW_COSTS)
        scope: list[UUID] | None = [project_id]
    else:
        scope = await projects.readable_project_ids(session, principal, Action.VIEW_COSTS)
    by_project = await repository.totals_by(
        session, UsageEvent.project_id, project_ids=scope, since=since, until=until
    )
    by_engine = await repository.totals_by(
        session, UsageEvent.engine, project_ids=scope, since=since, until=until
    )
    return Costs(
        tts_characters=sum(row[1] for row in by_project),
        llm_tokens=sum(row[2] for row in by_project),
        estimated_cost_usd=float(sum((row[3] for row in by_project), Decimal(0))),
        by_project=[
            ProjectCosts(
                project_id=p, tts_characters=c, llm_tokens=t, estimated_cost_usd=float(cost)
            )
            for p, c, t, cost in by_project
        ],
        by_engine=[
            EngineCosts(engine=e, tts_characters=c, estimated_cost_usd=float(cost))
            for e, c, _, cost in by_engine
            if c
        ],
    )
