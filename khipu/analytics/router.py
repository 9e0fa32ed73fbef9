"""Cost analytics: `/api/v1/analytics/costs`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from khipu.analytics import service
from khipu.analytics.schemas import Costs
from khipu.auth.dependencies import SessionDep, require
from khipu.core.permissions import Action, Principal

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])


@router.get("/costs", response_model=Costs)
async def costs(
    principal: Annotated[Principal, Depends(require(Action.VIEW_COSTS))],
    session: SessionDep,
    project_id: UUID | None = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive.")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive.")] = None,
) -> Costs:
    """Characters synthesised, LLM tokens and estimated cost, in total, per project and per
    engine — over the projects the caller may see (admin: all; creator: own; validator:
    assigned)."""
    return await service.costs_for(
        session, principal, project_id=project_id, since=since, until=until
    )
