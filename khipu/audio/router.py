"""Synthesis, listening (with Range), reviews, and the voice catalogue."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import StreamingResponse

from khipu.audio import service
from khipu.audio.cache import segment_blob
from khipu.audio.schemas import ReviewCreate, ReviewRead, SynthesisRequest, VoicePreview, VoiceRead
from khipu.auth.dependencies import PrincipalDep, RuntimeDep, SessionDep, require
from khipu.core.downloads import blob_response
from khipu.core.pagination import Page, PageParams, decode_cursor, encode_cursor, page_params
from khipu.core.permissions import Action, Principal
from khipu.jobs.schemas import JobAccepted
from khipu.manuscripts import service as manuscripts
from khipu.projects.dependencies import project_for
from khipu.projects.models import Project

router = APIRouter(tags=["audio"])
RangeHeader = Annotated[str | None, Header(alias="Range")]
AUDIO_ERRORS = {404: {"description": "No audio yet."}, 416: {"description": "Bad range."}}


@router.post(
    "/api/v1/projects/{project_id}/synthesis",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses={402: {"description": "The tenant's monthly spending cap would be passed."}},
)
async def start_synthesis(
    data: SynthesisRequest,
    project: Annotated[Project, Depends(project_for(Action.PRODUCE))],
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
) -> JobAccepted:
    """Synthesise every pending segment (of the chosen chapters) and stitch each chapter. While a
    synthesis of the project runs, asking again answers with the same job."""
    job = await service.start_synthesis(session, runtime, principal, project, data.chapter_ids)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobAccepted(job_id=job.id)


@router.get(
    "/api/v1/segments/{segment_id}/audio", response_class=StreamingResponse, responses=AUDIO_ERRORS
)
async def segment_audio(
    segment_id: UUID,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    range_header: RangeHeader = None,
) -> StreamingResponse:
    """The segment's current audio (WAV)."""
    segment, project = await manuscripts.get_segment_for(
        session, principal, segment_id, Action.READ_PROJECT
    )
    key = (
        segment_blob(project.tenant_id, project.id, segment.audio_key)
        if segment.audio_key
        else None
    )
    return await blob_response(
        runtime.blobs, key, media_type="audio/wav", range_header=range_header
    )


@router.get(
    "/api/v1/chapters/{chapter_id}/audio", response_class=StreamingResponse, responses=AUDIO_ERRORS
)
async def chapter_audio(
    chapter_id: UUID,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    variant: Literal["preview", "master"] = "preview",
    range_header: RangeHeader = None,
) -> StreamingResponse:
    """The stitched chapter: the compressed preview (MP3), or `?variant=master` for the lossless
    master (FLAC)."""
    chapter, _ = await manuscripts.get_chapter_for(
        session, principal, chapter_id, Action.READ_PROJECT
    )
    if variant == "master":
        return await blob_response(
            runtime.blobs, chapter.master_key, media_type="audio/flac", range_header=range_header
        )
    return await blob_response(
        runtime.blobs, chapter.preview_key, media_type="audio/mpeg", range_header=range_header
    )


@router.post(
    "/api/v1/segments/{segment_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewRead,
)
async def review_segment(
    segment_id: UUID, data: ReviewCreate, principal: PrincipalDep, session: SessionDep
) -> ReviewRead:
    """Approve or flag a segment's audio (assigned validators, and those who may edit)."""
    segment, _ = await manuscripts.get_segment_for(
        session, principal, segment_id, Action.REVIEW, for_update=True
    )
    return ReviewRead.model_validate(
        await service.review_segment(session, principal, segment, data)
    )


@router.get("/api/v1/segments/{segment_id}/reviews", response_model=Page[ReviewRead])
async def list_reviews(
    segment_id: UUID,
    principal: PrincipalDep,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ReviewRead]:
    segment, _ = await manuscripts.get_segment_for(
        session, principal, segment_id, Action.READ_PROJECT
    )
    reviews, cursor = await service.list_reviews(session, segment, params)
    return Page(items=[ReviewRead.model_validate(r) for r in reviews], next_cursor=cursor)


@router.get("/api/v1/voices", response_model=Page[VoiceRead])
async def list_voices(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    params: Annotated[PageParams, Depends(page_params)],
    engine: str | None = None,
    locale: Annotated[str | None, Query(max_length=20, description="e.g. en or en-GB")] = None,
    gender: Literal["female", "male", "neutral"] | None = None,
) -> Page[VoiceRead]:
    """The voices of the engines configured here."""
    found = service.catalogue(runtime, engine=engine, locale=locale, gender=gender)
    start = decode_cursor(params.cursor, 1)[0] if params.cursor else 0
    page = found[start : start + params.limit]
    following = start + params.limit
    return Page(
        items=[
            VoiceRead(
                engine=v.engine,
                voice_id=v.voice_id,
                name=v.name,
                locale=v.locale,
                gender=v.gender,
                styles=list(v.styles),
                description=v.description,
            )
            for v in page
        ],
        next_cursor=encode_cursor([following]) if following < len(found) else None,
    )


@router.post(
    "/api/v1/voices/preview",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}, "description": "The text spoken in the voice."}},
)
async def preview_voice(
    data: VoicePreview,
    principal: Annotated[Principal, Depends(require(Action.CREATE_PROJECT))],
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Hear a voice (with its settings) speak a short text."""
    return Response(
        await service.preview(session, runtime, principal, data), media_type="audio/wav"
    )
