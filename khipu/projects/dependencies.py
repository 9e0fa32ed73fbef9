"""Loaders that validate a path's project id against the caller's rights (declared on routes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

from khipu.auth.dependencies import PrincipalDep, SessionDep
from khipu.core.permissions import Action
from khipu.projects import service
from khipu.projects.models import Project


def project_for(action: Action) -> Callable[..., Awaitable[Project]]:
    """`Depends(project_for(Action.EDIT_PROJECT))`: the path's project, or 404/403."""

    async def dependency(project_id: UUID, principal: PrincipalDep, session: SessionDep) -> Project:
        return await service.get_project_for(session, principal, project_id, action)

    return dependency
