"""Running a job inside an arq worker: tenant context, state transitions, heartbeats, progress.

arq delivers at least once (a killed worker's job runs again), so a run first takes a Redis lock
on the job (two copies never run at once), skips a job that already ended, and relies on the
handler being idempotent: every handler says in its docstring what a re-run skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from arq.worker import Retry
from redis.exceptions import LockError
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core import logging as log_context
from khipu.core import metrics
from khipu.core.errors import KhipuError
from khipu.core.models import utcnow
from khipu.core.runtime import Runtime
from khipu.jobs import repository
from khipu.jobs.models import TERMINAL_STATUSES, Job
from khipu.jobs.service import event_of, publish

log = logging.getLogger("khipu.jobs")
LOCK_BEATS = 4  # a lock outlives a few missed heartbeats, not a dead worker
PROGRESS_INTERVAL_SECONDS = 0.5
MAX_ATTEMPTS = 3


class JobCancelled(Exception):
    """Raised at a checkpoint when the job was asked to stop."""


@dataclass
class JobContext:
    """What a handler gets: its job, the runtime, a tenant-scoped unit of work, progress."""

    runtime: Runtime
    job: Job
    _last_progress: float = field(default=0.0, repr=False)

    @property
    def tenant_id(self) -> UUID:
        return self.job.tenant_id

    def transaction(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return self.runtime.db.transaction(self.job.tenant_id)

    async def progress(self, fraction: float, *, force: bool = False) -> None:
        """Record progress (0..1); throttled, and a checkpoint: raises JobCancelled if asked."""
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_progress = now
        self.job.progress = max(0.0, min(1.0, fraction))
        async with self.transaction() as session:
            cancel = await session.scalar(
                update(Job)
                .where(Job.id == self.job.id)
                .values(progress=self.job.progress, heartbeat_at=utcnow())
                .returning(Job.cancel_requested)
            )
            if self.job.parent_id is not None:
                await _refresh_parent_progress(session, self.job.parent_id)
        await publish(self.runtime, self.job.id, event_of(self.job))
        if cancel:
            raise JobCancelled

    async def checkpoint(self) -> None:
        await self.progress(self.job.progress)


Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Task:
    """A job kind the worker runs: its handler and its explicit time limit."""

    kind: str
    handler: Handler
    timeout_seconds: int


Aggregator = Callable[[list[Job]], dict[str, Any]]
#: How a parent job's result is made from its children's, by parent kind.
AGGREGATORS: dict[str, Aggregator] = {}


async def _refresh_parent_progress(session: AsyncSession, parent_id: UUID) -> None:
    average = select(func.avg(Job.progress)).where(Job.parent_id == parent_id).scalar_subquery()
    await session.execute(
        update(Job)
        .where(Job.id == parent_id, Job.status.in_(("queued", "running")))
        .values(progress=average)
    )


def _lock_seconds(runtime: Runtime) -> float:
    return LOCK_BEATS * runtime.settings.job_heartbeat_seconds


@contextlib.asynccontextmanager
async def _job_lock(runtime: Runtime, job_id: str) -> AsyncIterator[Any]:
    lock = runtime.redis.lock(f"khipu:job-lock:{job_id}", timeout=_lock_seconds(runtime))
    acquired = await lock.acquire(blocking=False)
    try:
        yield lock if acquired else None
    finally:
        if acquired:
            with contextlib.suppress(Exception):
                await lock.release()


class LockLost(Exception):
    """The job's lock expired (a stall longer than its lease) and may belong to another copy."""


async def _heartbeat(runtime: Runtime, job: Job, lock: Any) -> None:
    """Extend the lock and stamp the row every beat; raise LockLost if the lock is gone.

    Only the lock decides who runs the job: a stamp that fails (a database blip) is logged and
    tried again next beat, rather than stopping work that still holds its lock."""
    while True:
        await asyncio.sleep(runtime.settings.job_heartbeat_seconds)
        try:
            await lock.extend(_lock_seconds(runtime), replace_ttl=True)
        except LockError as exc:
            raise LockLost from exc
        try:
            async with runtime.db.transaction(job.tenant_id) as session:
                await session.execute(
                    update(Job).where(Job.id == job.id).values(heartbeat_at=utcnow())
                )
        except (SQLAlchemyError, OSError):
            log.warning(
                "could not stamp the heartbeat", extra={"job_id": str(job.id)}, exc_info=True
            )


async def _begin(runtime: Runtime, tenant_id: UUID, job_id: UUID) -> Job | None:
    async with runtime.db.transaction(tenant_id) as session:
        job = await repository.get(session, job_id, for_update=True)
        if job is None or job.status in TERMINAL_STATUSES:
            return None
        if job.cancel_requested:
            job.status, job.finished_at = "cancelled", utcnow()
            return None
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        job.heartbeat_at = utcnow()
        job.error = None
        return job


async def finish(
    runtime: Runtime,
    tenant_id: UUID,
    job_id: UUID,
    *,
    status: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> Job | None:
    async with runtime.db.transaction(tenant_id) as session:
        job = await repository.get(session, job_id, for_update=True)
        if job is None or job.status in TERMINAL_STATUSES:
            return None
        job.status = status
        job.finished_at = utcnow()
        if status == "succeeded":
            job.progress = 1.0
            job.result = result
        job.error = error[:4000] if error else None
    await publish(runtime, job.id, event_of(job))
    await metrics.count_job_transition(runtime.redis, kind=job.kind, status=status)
    if job.parent_id is not None:
        await complete_parent_if_done(runtime, tenant_id, job.parent_id)
    return job


async def complete_parent_if_done(runtime: Runtime, tenant_id: UUID, parent_id: UUID) -> None:
    """When the last child ends, the parent ends: succeeded (with aggregated results) unless a
    child failed or was cancelled."""
    async with runtime.db.transaction(tenant_id) as session:
        parent = await repository.get(session, parent_id, for_update=True)
        if parent is None or parent.status in TERMINAL_STATUSES:
            return
        children = await repository.children(session, parent_id)
        if any(child.status not in TERMINAL_STATUSES for child in children):
            await _refresh_parent_progress(session, parent_id)
            return
        failed = [child for child in children if child.status == "failed"]
        parent.finished_at = utcnow()
        aggregate = AGGREGATORS.get(parent.kind)
        parent.result = aggregate(children) if aggregate else None
        if failed:
            parent.status = "failed"
            parent.error = "; ".join(sorted({child.error or "failed" for child in failed}))[:4000]
        elif any(child.status == "cancelled" for child in children):
            parent.status = "cancelled"
        else:
            parent.status, parent.progress = "succeeded", 1.0
    await publish(runtime, parent.id, event_of(parent))
    await metrics.count_job_transition(runtime.redis, kind=parent.kind, status=parent.status)


async def run_job(runtime: Runtime, tenant: str, job_ref: str, handler: Handler) -> None:
    tenant_id, job_id = UUID(tenant), UUID(job_ref)
    async with _job_lock(runtime, job_ref) as lock:
        if lock is None:
            # Another copy holds the lock: it is running, or it died and its lock has not yet
            # expired. Come back when it would have.
            log.info("job locked elsewhere; retrying later", extra={"job_id": job_ref})
            raise Retry(defer=_lock_seconds(runtime))
        job = await _begin(runtime, tenant_id, job_id)
        if job is None:
            return
        log_context.bind(
            tenant_id=tenant, user_id=None, operation=f"job {job.kind}", correlation_id=job_ref
        )
        await publish(runtime, job.id, event_of(job))
        await metrics.count_job_transition(runtime.redis, kind=job.kind, status="running")
        started = time.perf_counter()
        try:
            await _supervise(runtime, job, lock, handler)
        finally:
            log.info(
                "job ended",
                extra={
                    "job_id": job_ref,
                    "duration_ms": round((time.perf_counter() - started) * 1000),
                },
            )


async def _supervise(runtime: Runtime, job: Job, lock: Any, handler: Handler) -> None:
    """Run the handler beside its heartbeat and record how it ended. If the heartbeat loses the
    lock, this copy stops and leaves the row to the copy that holds it now."""
    tenant_id, job_id = job.tenant_id, job.id
    work = asyncio.create_task(handler(JobContext(runtime=runtime, job=job)))
    heartbeat = asyncio.create_task(_heartbeat(runtime, job, lock))
    try:
        await asyncio.wait({work, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # Worker shutdown or arq's timeout: leave it for the sweeper to run again.
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        await _mark_interrupted(runtime, tenant_id, job_id)
        raise
    finally:
        heartbeat.cancel()
    if not work.done():
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        log.warning("lost the job lock; another copy carries on", extra={"job_id": str(job_id)})
        return
    try:
        result = work.result()
    except JobCancelled:
        await finish(runtime, tenant_id, job_id, status="cancelled")
    except KhipuError as exc:
        await finish(runtime, tenant_id, job_id, status="failed", error=exc.detail)
    except Exception as exc:
        log.exception("job failed", extra={"job_id": str(job_id)})
        await finish(
            runtime,
            tenant_id,
            job_id,
            status="failed",
            error=f"Internal error ({type(exc).__name__}).",
        )
    else:
        await finish(runtime, tenant_id, job_id, status="succeeded", result=result)


async def _mark_interrupted(runtime: Runtime, tenant_id: UUID, job_id: UUID) -> None:
    """Clear the heartbeat, so the sweeper re-enqueues the job at its next pass."""
    async with runtime.db.transaction(tenant_id) as session:
        await session.execute(
            update(Job).where(Job.id == job_id, Job.status == "running").values(heartbeat_at=None)
        )
    log.warning("job interrupted", extra={"job_id": str(job_id)})
