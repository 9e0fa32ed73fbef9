"""The synthesis job of one chapter: speak every segment, then stitch and master the chapter.

Idempotent: a segment whose audio for its current cache key is stored is not synthesised again
(it counts as cached); a chapter whose master was made from the same audio and pauses is not
stitched again. A crash loses at most the segment in flight: each segment's audio is stored and
recorded on its own.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from khipu.analytics import service as analytics
from khipu.audio import voices
from khipu.audio.cache import (
    chapter_blobs,
    expected_chapter_digest,
    mastering_settings,
    pauses_after,
    segment_audio_key,
    segment_blob,
)
from khipu.audio.engines import (
    SynthesizedAudio,
    TTSEngine,
    TTSError,
    VoiceSpec,
    synthesize_with_retries,
)
from khipu.audio.mastering import Piece, stitch_chapter
from khipu.audio.service import SYNTHESIS, SYNTHESIS_CHAPTER
from khipu.characters import service as characters
from khipu.core import semaphore
from khipu.core.ffmpeg import wav_info
from khipu.core.runtime import Runtime
from khipu.core.storage import BlobNotFound
from khipu.jobs.runner import AGGREGATORS, JobContext, Task
from khipu.manuscripts import service as manuscripts
from khipu.manuscripts.lexicon import LexiconEntry
from khipu.projects import service as projects
from khipu.projects.schemas import ProjectSettings
from khipu.tenants import service as tenants

if TYPE_CHECKING:  # other modules' tables, for annotations only
    from khipu.jobs.models import Job
    from khipu.manuscripts.models import Segment

CHAPTER_TIMEOUT_SECONDS = 3 * 3600


@dataclass(frozen=True)
class PlannedSegment:
    id: UUID
    revision: int
    text_length: int
    voice: VoiceSpec
    payload: str
    audio_key: str
    stored_key: str | None  # the audio the segment has now


@dataclass(frozen=True)
class ChapterPlan:
    chapter_id: UUID
    project_id: UUID
    segments: tuple[PlannedSegment, ...]
    settings: ProjectSettings
    cap_usd: float | None
    spent_usd: Decimal


@dataclass
class SpendGuard:
    """Keeps paid synthesis under the tenant's monthly cap while the job spends."""

    cap_usd: float | None
    spent: Decimal

    def allows(self, cost: Decimal) -> bool:
        return self.cap_usd is None or not cost or self.spent + cost <= Decimal(str(self.cap_usd))


async def synthesize_chapter(ctx: JobContext) -> dict[str, Any]:
    plan = await _plan(ctx, UUID(ctx.job.params["chapter_id"]))
    counts: Counter[str] = Counter()
    guard = SpendGuard(plan.cap_usd, plan.spent_usd)
    limit = ctx.runtime.settings.synthesis_concurrency_per_tenant
    pending = list(plan.segments)
    done = 0

    async def worker() -> None:
        nonlocal done
        while pending:
            item = pending.pop(0)
            counts[await _produce(ctx, plan, item, guard)] += 1
            done += 1
            await ctx.progress(0.9 * done / max(len(plan.segments), 1))

    await asyncio.gather(*(worker() for _ in range(max(1, min(limit, len(pending))))))
    stitched = await _stitch_if_complete(ctx, plan)
    return {
        "synthesized": counts["synthesized"],
        "cached": counts["cached"],
        "failed": counts["failed"],
        "stitched": stitched,
    }


async def _plan(ctx: JobContext, chapter_id: UUID) -> ChapterPlan:
    runtime = ctx.runtime
    async with ctx.transaction() as session:
        chapter = await manuscripts.get_chapter(session, chapter_id)
        project = await projects.get_project(session, chapter.project_id)
        segments = await manuscripts.segments_of_chapter(session, chapter_id)
        lexicon, lexicon_version = await manuscripts.get_lexicon_entries(session, project.id)
        cast = await characters.cast_voices(session, project.id)
        cap = (await tenants.get_profile(session, ctx.tenant_id)).settings.monthly_spending_cap_usd
        spent = await analytics.spent_this_month(session)
    narrator = voices.narrator_voice(runtime, project.settings, project.language)
    planned = tuple(
        _plan_segment(runtime, segment, narrator, cast, lexicon, lexicon_version, project.language)
        for segment in segments
    )
    return ChapterPlan(
        chapter_id=chapter.id,
        project_id=project.id,
        segments=planned,
        settings=ProjectSettings.model_validate(project.settings),
        cap_usd=cap,
        spent_usd=spent,
    )


def _plan_segment(
    runtime: Runtime,
    segment: Segment,
    narrator: VoiceSpec,
    cast: Mapping[UUID, VoiceSpec],
    lexicon: Sequence[LexiconEntry],
    lexicon_version: str,
    language: str,
) -> PlannedSegment:
    voice = voices.voice_for_segment(
        kind=segment.kind, character_id=segment.character_id, narrator=narrator, cast=cast
    )
    engine = voices.engine_for(runtime, voice.engine)
    payload = engine.payload(segment.text, voice, language=language, lexicon=lexicon)
    return PlannedSegment(
        id=segment.id,
        revision=segment.revision,
        text_length=len(segment.text),
        voice=voice,
        payload=payload,
        audio_key=segment_audio_key(voice, payload, lexicon_version),
        stored_key=segment.audio_key,
    )


async def _produce(
    ctx: JobContext, plan: ChapterPlan, item: PlannedSegment, guard: SpendGuard
) -> str:
    """'cached', 'synthesized' or 'failed'."""
    runtime = ctx.runtime
    blob = segment_blob(ctx.tenant_id, plan.project_id, item.audio_key)
    if item.stored_key == item.audio_key and await runtime.blobs.exists(blob):
        return "cached"
    sidecar = await _read_sidecar(runtime, blob)
    if sidecar is not None:  # made before (another segment, an earlier manuscript, a lost run)
        await _record(
            ctx, item, duration_ms=sidecar["duration_ms"], boundaries=sidecar["word_boundaries"]
        )
        return "cached"
    engine = voices.engine_for(runtime, item.voice.engine)
    cost = analytics.tts_cost(runtime.settings, item.voice.engine, item.text_length)
    if not guard.allows(cost):
        await _record_failure(ctx, item, "The tenant's monthly spending cap was reached.")
        return "failed"
    try:
        audio = await _synthesize(ctx, engine, item)
    except TTSError as error:
        await _record_failure(ctx, item, error.detail)
        return "failed"
    guard.spent += cost
    await _store(runtime, blob, audio)
    await _record(
        ctx,
        item,
        duration_ms=audio.duration_ms,
        boundaries=[asdict(b) for b in audio.word_boundaries] or None,
        usage=(item.voice.engine, item.text_length, cost),
    )
    return "synthesized"


async def _synthesize(ctx: JobContext, engine: TTSEngine, item: PlannedSegment) -> SynthesizedAudio:
    limit = ctx.runtime.settings.synthesis_concurrency_per_tenant
    async with semaphore.hold(ctx.runtime.redis, f"khipu:tts-slots:{ctx.tenant_id}", limit=limit):
        return await synthesize_with_retries(engine, item.payload, item.voice)


async def _store(runtime: Runtime, blob: str, audio: SynthesizedAudio) -> None:
    await runtime.blobs.put_bytes(blob, audio.wav, content_type="audio/wav")
    # The sidecar is written last: its presence means the audio beside it is complete.
    sidecar = {
        "duration_ms": audio.duration_ms,
        "word_boundaries": [asdict(b) for b in audio.word_boundaries],
    }
    await runtime.blobs.put_bytes(blob.removesuffix(".wav") + ".json", json.dumps(sidecar).encode())


async def _read_sidecar(runtime: Runtime, blob: str) -> dict[str, Any] | None:
    try:
        sidecar = await runtime.blobs.get_bytes(blob.removesuffix(".wav") + ".json")
    except BlobNotFound:
        return None
    return json.loads(sidecar)  # type: ignore[no-any-return]


async def _record(
    ctx: JobContext,
    item: PlannedSegment,
    *,
    duration_ms: int,
    boundaries: list[Any] | None,
    usage: tuple[str, int, Decimal] | None = None,
) -> None:
    async with ctx.transaction() as session:
        segment = await manuscripts.get_segment(session, item.id, for_update=True)
        if usage is not None:
            engine, characters_count, cost = usage
            analytics.record_usage(
                session,
                tenant_id=ctx.tenant_id,
                project_id=ctx.job.project_id,
                kind="tts",
                engine=engine,
                characters=characters_count,
                cost=cost,
            )
        if segment is None or segment.revision != item.revision:
            return  # edited or replaced meanwhile: the next run synthesises the new text
        manuscripts.record_segment_audio(
            segment, audio_key=item.audio_key, duration_ms=duration_ms, word_boundaries=boundaries
        )


async def _record_failure(ctx: JobContext, item: PlannedSegment, error: str) -> None:
    async with ctx.transaction() as session:
        segment = await manuscripts.get_segment(session, item.id, for_update=True)
        if segment is not None and segment.revision == item.revision:
            manuscripts.record_segment_failure(segment, error)


async def _stitch_if_complete(ctx: JobContext, plan: ChapterPlan) -> bool:
    """Stitch when every segment has audio and the result would differ from the stored master."""
    runtime = ctx.runtime
    async with ctx.transaction() as session:
        chapter = await manuscripts.get_chapter(session, plan.chapter_id)
        segments = await manuscripts.segments_of_chapter(session, plan.chapter_id)
    digest = expected_chapter_digest(segments, plan.settings)
    if digest is None:
        return False
    if (
        chapter.audio_digest == digest
        and chapter.master_key
        and await runtime.blobs.exists(chapter.master_key)
    ):
        return False
    gaps = pauses_after(segments, plan.settings.pauses)
    master_key, preview_key = chapter_blobs(ctx.tenant_id, plan.project_id, chapter.id, digest)
    with tempfile.TemporaryDirectory(prefix="khipu-chapter-") as scratch:
        workdir = Path(scratch)
        pieces = []
        for index, (segment, gap) in enumerate(zip(segments, gaps, strict=True)):
            path = workdir / f"{index:05d}.wav"
            await runtime.blobs.download_to(
                segment_blob(ctx.tenant_id, plan.project_id, segment.audio_key or ""), path
            )
            pieces.append(Piece(path=path, pause_after_ms=gap))
        await ctx.checkpoint()
        master = await asyncio.to_thread(
            stitch_chapter,
            pieces,
            master_path=workdir / "master.flac",
            preview_path=workdir / "preview.mp3",
            settings=mastering_settings(plan.settings),
        )
        await runtime.blobs.put_file(master_key, workdir / "master.flac", content_type="audio/flac")
        await runtime.blobs.put_file(
            preview_key, workdir / "preview.mp3", content_type="audio/mpeg"
        )
        durations = [wav_info(piece.path).duration_ms for piece in pieces]
    report = {
        "loudness": asdict(master.loudness),
        "segments": [
            {"id": str(s.id), "start_ms": start, "end_ms": start + duration}
            for s, start, duration in zip(segments, master.piece_offsets_ms, durations, strict=True)
        ],
    }
    async with ctx.transaction() as session:
        chapter = await manuscripts.get_chapter(session, plan.chapter_id, for_update=True)
        manuscripts.record_chapter_audio(
            chapter,
            digest=digest,
            master_key=master_key,
            preview_key=preview_key,
            duration_ms=master.duration_ms,
            report=report,
        )
    await ctx.progress(1.0, force=True)
    return True


def _sum_results(children: list[Job]) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    for child in children:
        for key in ("synthesized", "cached", "failed"):
            totals[key] += int((child.result or {}).get(key, 0))
    return {key: totals[key] for key in ("synthesized", "cached", "failed")}


AGGREGATORS[SYNTHESIS] = _sum_results
TASKS = [Task(SYNTHESIS_CHAPTER, synthesize_chapter, timeout_seconds=CHAPTER_TIMEOUT_SECONDS)]
