"""The character detection job: read the project's lines, attribute their speakers (locally or
with a language model), then store the characters and every dialogue line's speaker at once.

Idempotent: a re-run reads the current state and stores the same answer again. Characters are
upserted (by id, then by name), only lines whose speaker changes are written, and what a person
did is kept: edited characters (passed to the engine as known) and locked lines. Nothing is stored
until the whole book is attributed, so a failed or interrupted run changes nothing; an llm run
that is repeated asks (and pays for) every chapter again.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from khipu.analytics import service as analytics
from khipu.characters import detection, llm
from khipu.characters.attribution import AttributionResult, attribute_speakers
from khipu.jobs.runner import JobContext, Task

DETECTION_TIMEOUT_SECONDS = 2 * 3600  # an llm run asks one chapter at a time
READ_PROGRESS = 0.05
ATTRIBUTED_PROGRESS = 0.9


async def detect_characters(ctx: JobContext) -> dict[str, Any]:
    mode = ctx.job.params.get("mode", "local")
    async with ctx.transaction() as session:
        reading = await detection.detection_input(session, ctx.job.project_id)
    await ctx.progress(READ_PROGRESS, force=True)
    if mode == "llm":
        result, tokens = await _attribute_with_llm(ctx, reading)
    else:
        result, tokens = await _attribute_locally(reading), 0
    await ctx.progress(ATTRIBUTED_PROGRESS, force=True)
    async with ctx.transaction() as session:
        stored = await detection.store_detection(
            session,
            tenant_id=ctx.tenant_id,
            project_id=ctx.job.project_id,
            detection=reading,
            result=result,
        )
    return {"mode": mode, **asdict(stored), "tokens": tokens}


async def _attribute_locally(reading: detection.DetectionInput) -> AttributionResult:
    # CPU-bound for seconds on a novel: off the event loop, so heartbeats keep going.
    return await asyncio.to_thread(
        attribute_speakers, reading.lines, known=reading.known, locked=reading.locked
    )


async def _attribute_with_llm(
    ctx: JobContext, reading: detection.DetectionInput
) -> tuple[AttributionResult, int]:
    settings = ctx.runtime.settings

    async def record_tokens(tokens: int) -> None:
        # Each answer is paid for when it arrives, also if the job fails later.
        async with ctx.transaction() as session:
            analytics.record_usage(
                session,
                tenant_id=ctx.tenant_id,
                project_id=ctx.job.project_id,
                kind="llm",
                engine="openai",
                tokens=tokens,
                cost=analytics.llm_cost(settings, tokens),
            )

    async def chapter_done(done: int, total: int) -> None:
        span = ATTRIBUTED_PROGRESS - READ_PROGRESS
        await ctx.progress(READ_PROGRESS + span * done / total)

    async with llm.chat_model(settings) as chat:
        attributed = await llm.attribute_with_llm(
            reading.lines,
            chat,
            known=reading.known,
            locked=reading.locked,
            on_tokens=record_tokens,
            on_chapter=chapter_done,
        )
    return attributed.result, attributed.tokens


TASKS = [
    Task(detection.CHARACTERS_DETECT, detect_characters, timeout_seconds=DETECTION_TIMEOUT_SECONDS)
]
