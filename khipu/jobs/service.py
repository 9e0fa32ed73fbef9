"""Starting, reading, cancelling and finishing jobs; progress events on Redis pub/sub.

A job is enqueued only after the transaction that created its row commits, with the arq id
`{job_id}:{attempt}` (arq refuses an id whose result it still keeps, so a re-run needs a new one).
Duplicates are stopped by Postgres: one queued-or-running job per (project, kind, scope).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core import metrics
from khipu.core.db import after_commit
from khipu.core.errors import Conflict, NotFound
from khipu.core.models import utcnow
from khipu.core.pagination import PageParams
from khipu.core.permissions import Action, Principal
from khipu.core.runtime import Runtime
from khipu.jobs import repository
from khipu.jobs.models import TERMINAL_STATUSES, Job
from khipu.projects import service as projects

EVENTS_CHANNEL = "khipu:job-events:{job_id}"


class JobNotFound(NotFound):
    title = "Job not found"


class JobAlreadyFinished(Conflict):
    title = "Job already finished"


def arq_job_id(job: Job) -> str:
    return f"{job.id}:{job.attempt}"


async def enqueue(runtime: Runtime, job: Job) -> None:
    await runtime.redis.enqueue_job(
        job.kind, str(job.tenant_id), str(job.id), _job_id=arq_job_id(job)
    )
    await metrics.count_job_transition(runtime.redis, kind=job.kind, status="queued")


async def start_job(
    session: AsyncSession,
    runtime: Runtime,
    *,
    tenant_id: UUID,
    project_id: UUID,
    kind: str,
    scope: str = "project",
    params: dict[str, Any] | None = None,
    created_by: UUID | None = None,
    parent_id: UUID | None = None,
    enqueue_after_commit: bool = True,
) -> tuple[Job, bool]:
    """The active job for (project, kind, scope) if there is one (False), else a new one (True)
    that is enqueued once the caller's transaction commits."""
    existing = await repository.find_active(session, project_id, kind, scope)
    if existing is not None:
        return existing, False
    job = Job(
        tenant_id=tenant_id,
        project_id=project_id,
        parent_id=parent_id,
        kind=kind,
        scope=scope,
        params=params or {},
        created_by=created_by,
        status="queued" if enqueue_after_commit else "running",
        started_at=None if enqueue_after_commit else utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:  # a concurrent request created it first
        existing = await repository.find_active(session, project_id, kind, scope)
        if existing is None:
            raise
        return existing, False
    if enqueue_after_commit:

        async def send() -> None:
            await enqueue(runtime, job)

        after_commit(session, send)
    return job, True


async def get_job_for(
    session: AsyncSession, principal: Principal, job_id: UUID, action: Action
) -> Job:
    missing = JobNotFound(f"No job has the id {job_id}.")
    job = await repository.get(session, job_id)
    if job is None:
        raise missing
    await projects.project_of_child(session, principal, job.project_id, action, missing=missing)
    return job


async def list_project_jobs(
    session: AsyncSession, project_id: UUID, params: PageParams
) -> tuple[list[Job], str | None]:
    return await repository.list_for_project(session, project_id, params)


async def has_active_job(
    session: AsyncSession, project_id: UUID, kinds: tuple[str, ...] | None = None
) -> bool:
    return await repository.any_active(session, project_id, kinds)


async def cancel(session: AsyncSession, runtime: Runtime, job: Job) -> Job:
    """Queued jobs end at once; running ones stop at their next checkpoint."""
    if job.status in TERMINAL_STATUSES:
        raise JobAlreadyFinished(f"The job has already {job.status}.")
    now = utcnow()
    job.cancel_requested = True
    if job.status == "queued" or await repository.children(session, job.id):
        job.status = "cancelled"
        job.finished_at = now
    await repository.request_cancel_children(session, job.id, now)
    snapshot = event_of(job)

    async def announce() -> None:
        await publish(runtime, job.id, snapshot)

    after_commit(session, announce)
    return job


def event_of(job: Job) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "kind": job.kind,
        "status": job.status,
        "progress": round(job.progress, 4),
        "error": job.error,
        "result": job.result,
    }


async def publish(runtime: Runtime, job_id: UUID, event: dict[str, Any]) -> None:
    await runtime.redis.publish(EVENTS_CHANNEL.format(job_id=job_id), json.dumps(event))


async def current_event(runtime: Runtime, tenant_id: UUID, job_id: UUID) -> dict[str, Any] | None:
    async with runtime.db.transaction(tenant_id) as session:
        job = await repository.get(session, job_id)
        return event_of(job) if job else None


async def stream_events(
    runtime: Runtime, tenant_id: UUID, job_id: UUID, *, keepalive_seconds: float = 15.0
) -> AsyncIterator[str]:
    """Server-sent events: the current state, then every change until the job ends. The database
    is re-read on every keepalive, so a missed message is made up for."""
    pubsub = runtime.redis.pubsub()
    await pubsub.subscribe(EVENTS_CHANNEL.format(job_id=job_id))
    try:
        event = await current_event(runtime, tenant_id, job_id)
        while event is not None:
            yield f"event: job\ndata: {json.dumps(event)}\n\n"
            if event["status"] in TERMINAL_STATUSES:
                return
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=keepalive_seconds
            )
            if message is None:
                yield ": keepalive\n\n"
                event = await current_event(runtime, tenant_id, job_id)
            else:
                event = json.loads(message["data"])
    finally:
        await pubsub.aclose()
