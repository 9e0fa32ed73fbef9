"""Jobs: status, cancellation, live progress (SSE), and a project's job history."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from khipu.auth.dependencies import PrincipalDep, RuntimeDep, SessionDep
from khipu.core.pagination import Page, PageParams, page_params
from khipu.core.permissions import Action
from khipu.jobs import service
from khipu.jobs.schemas import JobRead
from khipu.projects.dependencies import project_for
from khipu.projects.models import Project

router = APIRouter(tags=["jobs"])


@router.get("/api/v1/jobs/{job_id}", response_model=JobRead)
async def get_job(job_id: UUID, principal: PrincipalDep, session: SessionDep) -> JobRead:
    return JobRead.model_validate(
        await service.get_job_for(session, principal, job_id, Action.READ_PROJECT)
    )


@router.post("/api/v1/jobs/{job_id}/cancel", response_model=JobRead)
async def cancel_job(
    job_id: UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> JobRead:
    """Queued jobs stop at once; running ones at their next checkpoint."""
    job = await service.get_job_for(session, principal, job_id, Action.PRODUCE)
    return JobRead.model_validate(await service.cancel(session, runtime, job))


@router.get(
    "/api/v1/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}},
)
async def job_events(
    job_id: UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> StreamingResponse:
    """Live progress: an `event: job` with the job's state on every change, until it ends."""
    job = await service.get_job_for(session, principal, job_id, Action.READ_PROJECT)
    return StreamingResponse(
        service.stream_events(runtime, job.tenant_id, job.id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/api/v1/projects/{project_id}/jobs", response_model=Page[JobRead])
async def list_project_jobs(
    project: Annotated[Project, Depends(project_for(Action.READ_PROJECT))],
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[JobRead]:
    """The project's jobs, newest first."""
    jobs, cursor = await service.list_project_jobs(session, project.id, params)
    return Page(items=[JobRead.model_validate(j) for j in jobs], next_cursor=cursor)
