"""Importing manuscripts, and the rules for chapters, segments and the lexicon.

An upload is parsed and segmented completely before anything is stored; only then are the
original file stored and the project's chapters and segments replaced, in one transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from khipu.core import audit
from khipu.core.errors import Conflict, InvalidInput, NotFound
from khipu.core.models import utcnow
from khipu.core.pagination import PageParams
from khipu.core.permissions import Action, Principal
from khipu.core.runtime import Runtime
from khipu.core.storage import BlobKeys
from khipu.jobs import service as jobs
from khipu.manuscripts import repository
from khipu.manuscripts.document import ImportLimits, ManuscriptFormat, ParsedManuscript
from khipu.manuscripts.errors import ManuscriptTooLarge
from khipu.manuscripts.lexicon import LexiconEntry, lexicon_version, validate_lexicon
from khipu.manuscripts.models import Chapter, Lexicon, Manuscript, Segment
from khipu.manuscripts.parsing import parse_manuscript
from khipu.manuscripts.schemas import ChapterRead, ChapterUpdate, ImportSummary, SegmentUpdate
from khipu.manuscripts.segmentation import (
    SegmentDraft,
    count_words,
    dialogue_convention,
    segment_chapter,
)
from khipu.projects import service as projects

if TYPE_CHECKING:  # other modules' tables, for annotations only
    from khipu.projects.models import Project

MEDIA_TYPES: dict[str, str] = {
    "epub": "application/epub+zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}


class ProjectBusy(Conflict):
    title = "Project busy"


class ChapterNotFound(NotFound):
    title = "Chapter not found"


class SegmentNotFound(NotFound):
    title = "Segment not found"


class ManuscriptNotFound(NotFound):
    title = "Manuscript not found"


class SegmentTooLong(InvalidInput):
    title = "Segment too long"


@dataclass(frozen=True)
class Segmented:
    manuscript: ParsedManuscript
    chapters: list[list[SegmentDraft]]


def _declared_format(filename: str | None) -> ManuscriptFormat | None:
    """Only tells plain text from Markdown; the content decides everything else."""
    suffix = PurePath(filename or "").suffix.lower()
    return "md" if suffix in (".md", ".markdown") else "txt" if suffix == ".txt" else None


def parse_and_segment(
    data: bytes, *, limits: ImportLimits, filename: str | None, max_chars: int
) -> Segmented:
    parsed = parse_manuscript(data, limits=limits, declared_format=_declared_format(filename))
    # How the book marks speech (“…” or ‘…’) is read once from all of it: steadier than per chapter.
    convention = dialogue_convention(p.text for c in parsed.chapters for p in c.paragraphs)
    return Segmented(
        parsed,
        [segment_chapter(c, max_chars=max_chars, convention=convention) for c in parsed.chapters],
    )


def display_name(filename: str | None, fmt: str) -> str:
    """The uploaded name, for display only: no directories, no control characters, bounded."""
    name = PurePath((filename or "").replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable()).strip()[:200]
    return name or f"manuscript.{fmt}"


async def import_manuscript(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    project: Project,
    *,
    filename: str | None,
    data: bytes,
) -> ImportSummary:
    limits = ImportLimits(max_upload_bytes=runtime.settings.max_upload_bytes)
    if len(data) > limits.max_upload_bytes:
        raise ManuscriptTooLarge(
            f"The manuscript is larger than {limits.max_upload_bytes:,} bytes."
        )
    if await jobs.has_active_job(session, project.id):
        raise ProjectBusy("A job of this project is running; wait for it or cancel it first.")
    segmented = await asyncio.to_thread(
        parse_and_segment,
        data,
        limits=limits,
        filename=filename,
        max_chars=runtime.settings.segment_max_chars,
    )
    parsed = segmented.manuscript
    manuscript = Manuscript(
        id=uuid4(),
        tenant_id=project.tenant_id,
        project_id=project.id,
        version=await repository.next_version(session, project.id),
        format=parsed.format,
        filename=display_name(filename, parsed.format),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        blob_key="",
        title=parsed.title,
        author=parsed.author,
        language=parsed.language,
        created_by=principal.user_id,
    )
    manuscript.blob_key = BlobKeys.project(
        project.tenant_id, project.id, "manuscripts", f"{manuscript.id}.{parsed.format}"
    )
    summary = await _replace_chapters(session, project, manuscript, segmented)
    if project.author is None and parsed.author:
        project.author = parsed.author
    await runtime.blobs.put_bytes(
        manuscript.blob_key, data, content_type=MEDIA_TYPES[parsed.format]
    )
    audit.record(
        session,
        tenant_id=project.tenant_id,
        actor_id=principal.user_id,
        action="manuscript.import",
        target_type="project",
        target_id=project.id,
        version=manuscript.version,
        sha256=manuscript.sha256,
    )
    return summary


async def _replace_chapters(
    session: AsyncSession, project: Project, manuscript: Manuscript, segmented: Segmented
) -> ImportSummary:
    chapter_rows: list[dict[str, Any]] = []
    segment_rows: list[dict[str, Any]] = []
    included = {"chapters": 0, "segments": 0, "words": 0}
    for position, (parsed, drafts) in enumerate(
        zip(segmented.manuscript.chapters, segmented.chapters, strict=True)
    ):
        chapter_id = uuid4()
        words = sum(count_words(p.text) for p in parsed.paragraphs)
        chapter_rows.append(
            {
                "tenant_id": project.tenant_id,
                "id": chapter_id,
                "project_id": project.id,
                "manuscript_id": manuscript.id,
                "position": position,
                "title": parsed.title[:500] or f"Section {position + 1}",
                "kind": parsed.kind,
                "included": parsed.kind == "chapter",
                "word_count": words,
                "segment_count": len(drafts),
            }
        )
        segment_rows += [
            {
                "tenant_id": project.tenant_id,
                "id": uuid4(),
                "project_id": project.id,
                "chapter_id": chapter_id,
                "position": index,
                "text": draft.text,
                "kind": draft.kind,
                "paragraph": draft.paragraph,
                "boundary": draft.boundary,
            }
            for index, draft in enumerate(drafts)
        ]
        if parsed.kind == "chapter":
            included["chapters"] += 1
            included["segments"] += len(drafts)
            included["words"] += words
    manuscript.chapter_count = len(chapter_rows)
    manuscript.segment_count = len(segment_rows)
    manuscript.word_count = sum(row["word_count"] for row in chapter_rows)
    await repository.delete_chapters(session, project.id)
    session.add(manuscript)
    await session.flush()
    await repository.insert_rows(session, Chapter, chapter_rows)
    await repository.insert_rows(session, Segment, segment_rows)
    return ImportSummary(
        manuscript_id=manuscript.id,
        version=manuscript.version,
        format=segmented.manuscript.format,
        sha256=manuscript.sha256,
        **included,
    )


async def list_manuscripts(
    session: AsyncSession, project: Project, params: PageParams
) -> tuple[list[Manuscript], str | None]:
    return await repository.list_manuscripts(session, project.id, params)


async def get_manuscript(
    session: AsyncSession, project: Project, manuscript_id: UUID
) -> Manuscript:
    manuscript = await repository.get_manuscript(session, project.id, manuscript_id)
    if manuscript is None:
        raise ManuscriptNotFound(f"This project has no manuscript {manuscript_id}.")
    return manuscript


def chapter_status(counts: dict[str, int]) -> str:
    if not counts:
        return "empty"
    for status in ("failed", "flagged", "pending"):
        if counts.get(status):
            return status
    return "approved" if set(counts) == {"approved"} else "synthesized"


def chapter_view(chapter: Chapter, counts: dict[str, int]) -> ChapterRead:
    return ChapterRead(
        id=chapter.id,
        position=chapter.position,
        title=chapter.title,
        kind=chapter.kind,  # type: ignore[arg-type]
        included=chapter.included,
        segment_count=chapter.segment_count,
        word_count=chapter.word_count,
        duration_ms=chapter.duration_ms,
        status=chapter_status(counts),  # type: ignore[arg-type]
    )


async def list_chapters(
    session: AsyncSession, project: Project, params: PageParams
) -> tuple[list[ChapterRead], str | None]:
    chapters, cursor = await repository.list_chapters(session, project.id, params)
    counts = await repository.status_counts(session, [c.id for c in chapters])
    return [chapter_view(c, counts.get(c.id, {})) for c in chapters], cursor


async def chapters_of(
    session: AsyncSession, project_id: UUID, *, included_only: bool = False
) -> list[Chapter]:
    return await repository.chapters_of(session, project_id, included_only=included_only)


async def get_chapter_for(
    session: AsyncSession, principal: Principal, chapter_id: UUID, action: Action
) -> tuple[Chapter, Project]:
    """The chapter and its project, if the principal may perform `action` on the project."""
    missing = ChapterNotFound(f"No chapter has the id {chapter_id}.")
    chapter = await repository.get_chapter(session, chapter_id)
    if chapter is None:
        raise missing
    project = await projects.project_of_child(
        session, principal, chapter.project_id, action, missing=missing
    )
    return chapter, project


async def update_chapter(
    session: AsyncSession, chapter: Chapter, data: ChapterUpdate
) -> ChapterRead:
    if data.title is not None:
        chapter.title = data.title
    if data.included is not None:
        chapter.included = data.included
    counts = await repository.status_counts(session, [chapter.id])
    return chapter_view(chapter, counts.get(chapter.id, {}))


async def list_segments(
    session: AsyncSession, chapter: Chapter, params: PageParams, *, status: str | None
) -> tuple[list[Segment], str | None]:
    return await repository.list_segments(session, chapter.id, params, status=status)


async def segments_of_chapter(session: AsyncSession, chapter_id: UUID) -> list[Segment]:
    return await repository.segments_of_chapter(session, chapter_id)


async def segments_of_project(
    session: AsyncSession, project_id: UUID, *, included_only: bool = True
) -> list[Segment]:
    return await repository.segments_of_project(session, project_id, included_only=included_only)


async def get_chapter(
    session: AsyncSession, chapter_id: UUID, *, for_update: bool = False
) -> Chapter:
    """For jobs, which run in the tenant's context without a principal."""
    chapter = await repository.get_chapter(session, chapter_id, for_update=for_update)
    if chapter is None:
        raise ChapterNotFound(f"No chapter has the id {chapter_id}.")
    return chapter


async def get_segment(
    session: AsyncSession, segment_id: UUID, *, for_update: bool = False
) -> Segment | None:
    """For jobs: None when the segment is gone (a new manuscript replaced it)."""
    return await repository.get_segment(session, segment_id, for_update=for_update)


async def segments_by_chapter(session: AsyncSession, project_id: UUID) -> dict[UUID, list[Segment]]:
    """The included chapters' segments, in order, in one query."""
    grouped: dict[UUID, list[Segment]] = {}
    for segment in await repository.segments_of_project(session, project_id, included_only=True):
        grouped.setdefault(segment.chapter_id, []).append(segment)
    return grouped


async def get_segment_for(
    session: AsyncSession,
    principal: Principal,
    segment_id: UUID,
    action: Action,
    *,
    for_update: bool = False,
) -> tuple[Segment, Project]:
    missing = SegmentNotFound(f"No segment has the id {segment_id}.")
    segment = await repository.get_segment(session, segment_id, for_update=for_update)
    if segment is None:
        raise missing
    project = await projects.project_of_child(
        session, principal, segment.project_id, action, missing=missing
    )
    return segment, project


def mark_for_resynthesis(segment: Segment) -> None:
    """The text, kind or voice changed: the old audio no longer applies."""
    segment.status = "pending"
    segment.error = None
    segment.audio_key = None
    segment.duration_ms = None
    segment.word_boundaries = None
    segment.updated_at = utcnow()


async def edit_segment(
    session: AsyncSession, runtime: Runtime, segment: Segment, data: SegmentUpdate
) -> Segment:
    """A text edit bumps the revision; any change that alters what is heard sends the segment back
    to pending. (Speaker changes are the characters module's: it calls `assign_speaker`.)"""
    fields = data.model_fields_set
    if "text" in fields and data.text is not None:
        text = data.text.strip()
        if len(text) > runtime.settings.segment_max_chars:
            raise SegmentTooLong(
                f"A segment holds at most {runtime.settings.segment_max_chars} characters; "
                "split it."
            )
        if not text:
            raise InvalidInput("A segment cannot be empty.")
        if text != segment.text:
            segment.text = text
            segment.revision += 1
            mark_for_resynthesis(segment)
    if "kind" in fields and data.kind is not None and data.kind != segment.kind:
        segment.kind = data.kind
        mark_for_resynthesis(segment)
    return segment


async def segments_by_ids(
    session: AsyncSession, segment_ids: Sequence[UUID], *, for_update: bool = False
) -> list[Segment]:
    return await repository.segments_by_ids(session, segment_ids, for_update=for_update)


@dataclass(frozen=True)
class SpeakerLines:
    count: int
    longest: list[tuple[UUID, str]]  # (segment id, text), longest first


async def speaker_lines(
    session: AsyncSession, project_id: UUID, *, samples: int
) -> dict[UUID, SpeakerLines]:
    """Per character: its dialogue line count and its longest lines (every chapter)."""
    stats = await repository.dialogue_stats(session, project_id, samples=samples)
    return {
        character: SpeakerLines(count, longest) for character, (count, longest) in stats.items()
    }


async def resynthesize_lines_of(session: AsyncSession, character_id: UUID) -> None:
    """The character's voice changed: its dialogue goes back to pending (nothing else does)."""
    await repository.reset_dialogue_of(session, character_id)


async def move_lines(session: AsyncSession, from_character: UUID, to_character: UUID) -> None:
    """Every line of one character is now spoken by another (a merge)."""
    await repository.move_speaker(session, from_character, to_character)


async def locked_speakers(session: AsyncSession, project_id: UUID) -> set[UUID]:
    """Characters that some line was pinned to by a person."""
    return await repository.locked_speakers(session, project_id)


def assign_speaker(segment: Segment, character_id: UUID | None, *, locked: bool) -> None:
    if segment.character_id != character_id:
        segment.character_id = character_id
        mark_for_resynthesis(segment)
    segment.speaker_locked = locked


def record_segment_audio(
    segment: Segment, *, audio_key: str, duration_ms: int, word_boundaries: list[Any] | None
) -> None:
    segment.audio_key = audio_key
    segment.duration_ms = duration_ms
    segment.word_boundaries = word_boundaries
    segment.error = None
    if segment.status in ("pending", "failed"):
        segment.status = "synthesized"
    segment.updated_at = utcnow()


def record_segment_failure(segment: Segment, error: str) -> None:
    segment.status = "failed"
    segment.error = error[:2000]
    segment.updated_at = utcnow()


def record_chapter_audio(
    chapter: Chapter,
    *,
    digest: str,
    master_key: str,
    preview_key: str,
    duration_ms: int,
    report: dict[str, Any],
) -> None:
    chapter.audio_digest = digest
    chapter.master_key = master_key
    chapter.preview_key = preview_key
    chapter.duration_ms = duration_ms
    chapter.audio_report = report
    chapter.stitched_at = utcnow()


async def get_lexicon_entries(
    session: AsyncSession, project_id: UUID
) -> tuple[list[LexiconEntry], str]:
    lexicon = await repository.get_lexicon(session, project_id)
    entries = [LexiconEntry(**e) for e in lexicon.entries] if lexicon else []
    return entries, lexicon.version if lexicon else lexicon_version([])


async def replace_lexicon(
    session: AsyncSession, principal: Principal, project: Project, entries: list[LexiconEntry]
) -> str:
    """Replace the whole lexicon. Its version (a content hash) is part of every synthesis cache
    key, so a change re-synthesises what it affects on the next run."""
    validate_lexicon(entries)
    version = lexicon_version(entries)
    stored = [{"grapheme": e.grapheme, "phoneme": e.phoneme, "alias": e.alias} for e in entries]
    lexicon = await repository.get_lexicon(session, project.id)
    if lexicon is None:
        session.add(
            Lexicon(
                tenant_id=project.tenant_id, project_id=project.id, entries=stored, version=version
            )
        )
    else:
        lexicon.entries, lexicon.version, lexicon.updated_at = stored, version, utcnow()
    audit.record(
        session,
        tenant_id=project.tenant_id,
        actor_id=principal.user_id,
        action="lexicon.replace",
        target_type="project",
        target_id=project.id,
        entries=len(entries),
    )
    return version
