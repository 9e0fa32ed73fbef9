"""The stale-job sweeper: re-enqueues work that a dead worker left behind.

It walks the tenants directory and sets each tenant's context in turn; it never bypasses RLS.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from khipu.core.db import after_commit
from khipu.core.models import utcnow
from khipu.core.runtime import Runtime
from khipu.jobs import repository
from khipu.jobs.runner import AGGREGATORS, MAX_ATTEMPTS, complete_parent_if_done, finish
from khipu.jobs.service import enqueue
from khipu.tenants import service as tenants

log = logging.getLogger("khipu.jobs.sweeper")
QUEUED_GRACE_SECONDS = 300


async def sweep_stale_jobs(runtime: Runtime) -> int:
    """Returns how many jobs were re-enqueued. Idempotent: a job re-enqueued twice runs once
    (the runner's lock), and a job that already ended is skipped."""
    now = utcnow()
    running_before = now - timedelta(seconds=runtime.settings.job_stale_after_seconds)
    queued_before = now - timedelta(seconds=QUEUED_GRACE_SECONDS)
    requeued = 0
    for tenant_id in await tenants.active_tenant_ids(runtime.db):
        given_up, parents = [], []
        async with runtime.db.transaction(tenant_id) as session:
            for job in await repository.stale(
                session, running_before=running_before, queued_before=queued_before
            ):
                if job.kind in AGGREGATORS:
                    parents.append(job.id)  # driven by its children; just settle it if done
                elif job.status == "running" and job.attempt >= MAX_ATTEMPTS:
                    given_up.append(job.id)
                else:
                    if job.status == "running":
                        job.attempt += 1
                        job.status, job.heartbeat_at = "queued", None
                    after_commit(session, _enqueuer(runtime, job))
                    requeued += 1
        for job_id in given_up:
            await finish(
                runtime,
                tenant_id,
                job_id,
                status="failed",
                error=f"Gave up after {MAX_ATTEMPTS} attempts: the worker running it stopped.",
            )
        for job_id in parents:
            await complete_parent_if_done(runtime, tenant_id, job_id)
    if requeued:
        log.warning("re-enqueued stale jobs", extra={"count": requeued})
    return requeued


def _enqueuer(runtime: Runtime, job: Any) -> Any:
    async def send() -> None:
        await enqueue(runtime, job)

    return send
