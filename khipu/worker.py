"""The arq worker: every job kind registered here, with its explicit timeout, plus the sweeper.

`khipu worker` runs it; tests run it in-process with `worker_settings(settings)`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from arq import cron
from arq.worker import Function, func

from khipu.audio import tasks as audio_tasks
from khipu.characters import tasks as characters_tasks
from khipu.config import Settings, get_settings
from khipu.core.runtime import Runtime, arq_redis_settings
from khipu.jobs.runner import Task, run_job
from khipu.jobs.tasks import sweep_stale_jobs
from khipu.packaging import tasks as packaging_tasks

TASKS: list[Task] = [*audio_tasks.TASKS, *packaging_tasks.TASKS, *characters_tasks.TASKS]


def _arq_function(task: Task) -> Function:
    async def run(ctx: dict[str, Any], tenant_id: str, job_id: str) -> None:
        await run_job(ctx["runtime"], tenant_id, job_id, task.handler)

    run.__qualname__ = run.__name__ = task.kind
    return func(run, name=task.kind, timeout=task.timeout_seconds, max_tries=5)


async def _sweep(ctx: dict[str, Any]) -> int:
    return await sweep_stale_jobs(ctx["runtime"])


async def _startup(ctx: dict[str, Any], *, settings: Settings) -> None:
    if "runtime" not in ctx:
        ctx["runtime"] = await Runtime.start(settings)
        ctx["owns_runtime"] = True


async def _shutdown(ctx: dict[str, Any]) -> None:
    if ctx.get("owns_runtime"):
        await ctx["runtime"].close()


def worker_settings(settings: Settings, **overrides: Any) -> dict[str, Any]:
    interval = max(1, min(settings.sweeper_interval_seconds, 60))
    return {
        "functions": [_arq_function(task) for task in TASKS],
        "cron_jobs": [
            cron(
                _sweep,
                name="sweep_stale_jobs",
                second=set(range(0, 60, interval)),
                run_at_startup=True,
            )
        ],
        "redis_settings": arq_redis_settings(settings.redis_url),
        "on_startup": partial(_startup, settings=settings),
        "on_shutdown": _shutdown,
        "max_jobs": settings.worker_max_jobs,
        "job_timeout": settings.job_timeout_seconds,
        "keep_result": 3600,
        **overrides,
    }


def main_settings() -> dict[str, Any]:
    return worker_settings(get_settings())
