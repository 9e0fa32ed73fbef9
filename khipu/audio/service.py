"""Starting synthesis, listening, reviews, and the voice catalogue.

A synthesis is a parent job with one child per chapter; the API answers at once (202) and the
workers do the rest. The spending cap is checked here (for what the request would cost) and again
by the workers as they spend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.analytics import service as analytics
from khipu.audio import repository, voices
from khipu.audio.cache import expected_chapter_digest
from khipu.audio.engines import SynthesizedAudio, VoiceInfo, VoiceSpec, synthesize_with_retries
from khipu.audio.mastering import Piece, stitch_chapter
from khipu.audio.models import Review
from khipu.audio.schemas import ReviewCreate, VoicePreview
from khipu.characters import service as characters
from khipu.core.errors import Conflict, InvalidInput
from khipu.core.pagination import PageParams
from khipu.core.permissions import Principal
from khipu.core.runtime import Runtime
from khipu.jobs import service as jobs
from khipu.manuscripts import service as manuscripts
from khipu.manuscripts.lexicon import LexiconEntry
from khipu.projects.schemas import ProjectSettings
from khipu.tenants import service as tenants

if TYPE_CHECKING:  # other modules' tables, for annotations only
    from khipu.jobs.models import Job
    from khipu.manuscripts.models import Chapter, Segment
    from khipu.projects.models import Project

SYNTHESIS = "synthesis"
SYNTHESIS_CHAPTER = "synthesis_chapter"


class NothingToSynthesize(Conflict):
    title = "Nothing to synthesise"


class NothingToReview(Conflict):
    title = "Nothing to review yet"


class UnknownChapters(InvalidInput):
    title = "Unknown chapters"


async def start_synthesis(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    project: Project,
    chapter_ids: list[UUID] | None,
) -> Job:
    """The running synthesis of the project if there is one; else a new parent job with a child
    job per chapter, enqueued once this transaction commits."""
    chapters = await manuscripts.chapters_of(session, project.id, included_only=chapter_ids is None)
    if chapter_ids is not None:
        wanted = set(chapter_ids)
        unknown = wanted - {c.id for c in chapters}
        if unknown:
            raise UnknownChapters(
                f"Not chapters of this project: {', '.join(sorted(map(str, unknown)))}."
            )
        chapters = [c for c in chapters if c.id in wanted]
    if not chapters:
        raise NothingToSynthesize(
            "There is nothing to synthesise: upload a manuscript or include a chapter."
        )
    await _check_spending_cap(session, runtime, project, chapters=[c.id for c in chapters])
    parent, created = await jobs.start_job(
        session,
        runtime,
        tenant_id=project.tenant_id,
        project_id=project.id,
        kind=SYNTHESIS,
        params={"chapter_ids": [str(c.id) for c in chapters]},
        created_by=principal.user_id,
        enqueue_after_commit=False,
    )
    if created:
        for chapter in chapters:
            await jobs.start_job(
                session,
                runtime,
                tenant_id=project.tenant_id,
                project_id=project.id,
                kind=SYNTHESIS_CHAPTER,
                scope=f"chapter:{chapter.id}",
                params={"chapter_id": str(chapter.id)},
                created_by=principal.user_id,
                parent_id=parent.id,
            )
    return parent


async def _check_spending_cap(
    session: AsyncSession, runtime: Runtime, project: Project, *, chapters: list[UUID]
) -> None:
    """Estimate what the pending segments would cost with the voices cast, and refuse (402) if
    the tenant's monthly cap would be passed. Free engines (Piper) cost nothing."""
    cap = (await tenants.get_profile(session, project.tenant_id)).settings.monthly_spending_cap_usd
    narrator = voices.narrator_voice(runtime, project.settings, project.language)
    voices.engine_for(runtime, narrator.engine)
    if cap is None:
        return
    cast = await characters.cast_voices(session, project.id)
    estimate = Decimal(0)
    for segment in await manuscripts.segments_of_project(session, project.id, included_only=False):
        if segment.chapter_id in chapters and segment.audio_key is None:
            voice = voices.voice_for_segment(
                kind=segment.kind, character_id=segment.character_id, narrator=narrator, cast=cast
            )
            estimate += analytics.tts_cost(runtime.settings, voice.engine, len(segment.text))
    await analytics.check_spending_cap(session, cap, additional=estimate)


async def review_segment(
    session: AsyncSession, principal: Principal, segment: Segment, data: ReviewCreate
) -> Review:
    """Record a verdict on the segment's current audio; its status follows the latest review."""
    if segment.audio_key is None:
        raise NothingToReview("This segment has no audio yet; synthesise it before reviewing.")
    review = Review(
        tenant_id=segment.tenant_id,
        project_id=segment.project_id,
        segment_id=segment.id,
        reviewer_id=principal.user_id,
        verdict=data.verdict,
        comment=data.comment,
        segment_revision=segment.revision,
    )
    session.add(review)
    segment.status = data.verdict
    await session.flush()
    return review


async def list_reviews(
    session: AsyncSession, segment: Segment, params: PageParams
) -> tuple[list[Review], str | None]:
    return await repository.list_reviews(session, segment.id, params)


def catalogue(
    runtime: Runtime, *, engine: str | None, locale: str | None, gender: str | None
) -> list[VoiceInfo]:
    found = []
    for name, tts in sorted(voices.engines(runtime).items()):
        if engine and name != engine:
            continue
        for voice in tts.voices():
            if locale and not voice.locale.lower().startswith(locale.lower()):
                continue
            if gender and voice.gender != gender:
                continue
            found.append(voice)
    return found


async def speak(
    session: AsyncSession,
    runtime: Runtime,
    *,
    tenant_id: UUID,
    project_id: UUID | None,
    voice: VoiceSpec,
    text: str,
    language: str,
    lexicon: Sequence[LexiconEntry] = (),
) -> SynthesizedAudio:
    """One-off speech outside the segment cache (previews, auditions, credits): a paid engine is
    refused past the tenant's spending cap, and what it costs is recorded."""
    engine = voices.engine_for(runtime, voice.engine)
    cost = analytics.tts_cost(runtime.settings, voice.engine, len(text))
    if cost:
        cap = (await tenants.get_profile(session, tenant_id)).settings.monthly_spending_cap_usd
        await analytics.check_spending_cap(session, cap, additional=cost)
    payload = engine.payload(text, voice, language=language, lexicon=lexicon)
    audio = await synthesize_with_retries(engine, payload, voice)
    analytics.record_usage(
        session,
        tenant_id=tenant_id,
        project_id=project_id,
        kind="tts",
        engine=voice.engine,
        characters=len(text),
        cost=cost,
    )
    return audio


async def preview(
    session: AsyncSession, runtime: Runtime, principal: Principal, data: VoicePreview
) -> bytes:
    """Speak a short text in a voice (with its settings), in the voice's own locale."""
    voice = voices.validate_choice(runtime, data.choice())
    info = voices.engine_for(runtime, voice.engine).voice_info(voice.voice_id)
    audio = await speak(
        session,
        runtime,
        tenant_id=principal.tenant_id,
        project_id=None,
        voice=voice,
        text=data.text,
        language=info.locale if info else "en-US",
    )
    return audio.wav


def master_is_current(settings: ProjectSettings, chapter: Chapter, segments: list[Segment]) -> bool:
    """Whether the chapter's stored master was stitched from the segments' current audio."""
    digest = expected_chapter_digest(segments, settings)
    return digest is not None and chapter.master_key is not None and chapter.audio_digest == digest


@dataclass(frozen=True)
class Announcement:
    master_path: Path
    duration_ms: int


async def render_announcement(
    session: AsyncSession, runtime: Runtime, project: Project, text: str, workdir: Path
) -> Announcement:
    """Speak `text` with the project's narrator and master it like a chapter (room tone, levels):
    the opening and closing credits of an export."""
    audio = await speak(
        session,
        runtime,
        tenant_id=project.tenant_id,
        project_id=project.id,
        voice=voices.narrator_voice(runtime, project.settings, project.language),
        text=text,
        language=project.language,
    )
    spoken = workdir / f"{uuid4().hex}.wav"
    spoken.write_bytes(audio.wav)
    master = workdir / f"{spoken.stem}.flac"
    result = await asyncio.to_thread(
        stitch_chapter,
        [Piece(spoken, 0)],
        master_path=master,
        preview_path=workdir / f"{spoken.stem}.mp3",
    )
    return Announcement(master_path=master, duration_ms=result.duration_ms)
