"""Manuscript upload and versions, chapters, segments, and the pronunciation lexicon."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, File, Header, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from khipu.auth.dependencies import PrincipalDep, RuntimeDep, SessionDep
from khipu.characters import service as characters
from khipu.core.downloads import blob_response
from khipu.core.pagination import Page, PageParams, page_params
from khipu.core.permissions import Action
from khipu.manuscripts import service
from khipu.manuscripts.lexicon import LexiconEntry
from khipu.manuscripts.schemas import (
    ChapterRead,
    ChapterUpdate,
    ImportSummary,
    LexiconEntryIn,
    ManuscriptRead,
    SegmentRead,
    SegmentStatus,
    SegmentUpdate,
)
from khipu.projects.dependencies import project_for
from khipu.projects.models import Project

router = APIRouter(tags=["manuscripts"])
Readable = Annotated[Project, Depends(project_for(Action.READ_PROJECT))]
Editable = Annotated[Project, Depends(project_for(Action.EDIT_PROJECT))]
Pagination = Annotated[PageParams, Depends(page_params)]


@router.post(
    "/api/v1/projects/{project_id}/manuscript",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportSummary,
    responses={
        409: {"description": "A job of the project is running."},
        413: {"description": "Over the upload limit."},
        415: {"description": "Not a DOCX, EPUB, TXT or Markdown file (judged by content)."},
        422: {"description": "Malformed, hostile, DRM-protected or empty manuscript."},
    },
)
async def upload_manuscript(
    project: Editable,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File(description="DOCX, EPUB, TXT or Markdown.")],
) -> ImportSummary:
    """Parse and segment a manuscript; on success it replaces the project's chapters and segments
    (earlier versions stay listed and downloadable)."""
    data = await file.read()
    return await service.import_manuscript(
        session, runtime, principal, project, filename=file.filename, data=data
    )


@router.get("/api/v1/projects/{project_id}/manuscripts", response_model=Page[ManuscriptRead])
async def list_manuscripts(
    project: Readable, session: SessionDep, params: Pagination
) -> Page[ManuscriptRead]:
    """Every uploaded version, newest first."""
    items, cursor = await service.list_manuscripts(session, project, params)
    return Page(items=[ManuscriptRead.model_validate(m) for m in items], next_cursor=cursor)


@router.get(
    "/api/v1/projects/{project_id}/manuscripts/{manuscript_id}/file",
    response_class=StreamingResponse,
)
async def download_manuscript(
    manuscript_id: UUID,
    project: Readable,
    session: SessionDep,
    runtime: RuntimeDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse:
    """The original file of one version, as uploaded."""
    manuscript = await service.get_manuscript(session, project, manuscript_id)
    return await blob_response(
        runtime.blobs,
        manuscript.blob_key,
        media_type=service.MEDIA_TYPES[manuscript.format],
        range_header=range_header,
        download_name=manuscript.filename,
    )


@router.get("/api/v1/projects/{project_id}/chapters", response_model=Page[ChapterRead])
async def list_chapters(
    project: Readable, session: SessionDep, params: Pagination
) -> Page[ChapterRead]:
    """All sections in reading order; front and back matter come with `included: false`."""
    items, cursor = await service.list_chapters(session, project, params)
    return Page(items=items, next_cursor=cursor)


@router.patch("/api/v1/chapters/{chapter_id}", response_model=ChapterRead)
async def update_chapter(
    chapter_id: UUID, data: ChapterUpdate, principal: PrincipalDep, session: SessionDep
) -> ChapterRead:
    """Rename a chapter, or include or exclude it from the audiobook."""
    chapter, _ = await service.get_chapter_for(session, principal, chapter_id, Action.EDIT_PROJECT)
    return await service.update_chapter(session, chapter, data)


@router.get("/api/v1/chapters/{chapter_id}/segments", response_model=Page[SegmentRead])
async def list_segments(
    chapter_id: UUID,
    principal: PrincipalDep,
    session: SessionDep,
    params: Pagination,
    segment_status: Annotated[SegmentStatus | None, Query(alias="status")] = None,
) -> Page[SegmentRead]:
    chapter, _ = await service.get_chapter_for(session, principal, chapter_id, Action.READ_PROJECT)
    items, cursor = await service.list_segments(session, chapter, params, status=segment_status)
    return Page(items=[SegmentRead.model_validate(s) for s in items], next_cursor=cursor)


@router.patch("/api/v1/segments/{segment_id}", response_model=SegmentRead)
async def update_segment(
    segment_id: UUID,
    data: SegmentUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> SegmentRead:
    """Edit a segment's text, kind or speaker; a change sends it back to pending (and a text edit
    bumps its revision). A speaker set here is locked: detection keeps it."""
    segment, project = await service.get_segment_for(
        session, principal, segment_id, Action.EDIT_PROJECT, for_update=True
    )
    if "character_id" in data.model_fields_set:
        await characters.assign_segment_speaker(session, project, segment, data.character_id)
    return SegmentRead.model_validate(await service.edit_segment(session, runtime, segment, data))


@router.get("/api/v1/projects/{project_id}/lexicon", response_model=list[LexiconEntryIn])
async def get_lexicon(
    project: Readable, session: SessionDep, response: Response
) -> list[LexiconEntryIn]:
    """The project's pronunciation lexicon (a small document, not paginated); its version is the
    `ETag`."""
    entries, version = await service.get_lexicon_entries(session, project.id)
    response.headers["ETag"] = f'"{version}"'
    return [LexiconEntryIn(grapheme=e.grapheme, phoneme=e.phoneme, alias=e.alias) for e in entries]


@router.put("/api/v1/projects/{project_id}/lexicon", response_model=list[LexiconEntryIn])
async def put_lexicon(
    entries: list[LexiconEntryIn],
    project: Editable,
    principal: PrincipalDep,
    session: SessionDep,
    response: Response,
) -> list[LexiconEntryIn]:
    """Replace the lexicon: `phoneme` (IPA) or `alias` per grapheme."""
    version = await service.replace_lexicon(
        session, principal, project, [LexiconEntry(e.grapheme, e.phoneme, e.alias) for e in entries]
    )
    response.headers["ETag"] = f'"{version}"'
    return entries
