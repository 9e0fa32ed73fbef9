"""Character detection, the character list and its corrections, casting and auditions."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status

from khipu.auth.dependencies import PrincipalDep, RuntimeDep, SessionDep
from khipu.characters import casting, detection, service
from khipu.characters.schemas import (
    AuditionRequest,
    CastingProposal,
    CharacterRead,
    CharacterUpdate,
    DetectRequest,
    MergeRequest,
    SplitRequest,
)
from khipu.core.pagination import Page, PageParams, page_params
from khipu.core.permissions import Action
from khipu.jobs.schemas import JobAccepted
from khipu.projects.dependencies import project_for
from khipu.projects.models import Project

router = APIRouter(tags=["characters"])
Readable = Annotated[Project, Depends(project_for(Action.READ_PROJECT))]
Editable = Annotated[Project, Depends(project_for(Action.EDIT_PROJECT))]


@router.post(
    "/api/v1/projects/{project_id}/characters/detect",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses={
        402: {"description": "An llm run would pass the tenant's monthly spending cap."},
        409: {"description": "The project has no included chapter to read."},
        422: {"description": "Mode `llm` without a configured language model."},
    },
)
async def detect_characters(
    project: Editable,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    data: DetectRequest | None = None,
) -> JobAccepted:
    """Find the characters and who speaks each dialogue line (`local` rules or an `llm`). What a
    person corrected is kept. While a detection of the project runs, asking again answers with
    the same job."""
    mode = data.mode if data else None
    job = await detection.start_detection(session, runtime, principal, project, mode)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return JobAccepted(job_id=job.id)


@router.get("/api/v1/projects/{project_id}/characters", response_model=Page[CharacterRead])
async def list_characters(
    project: Readable,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[CharacterRead]:
    """The project's characters by name, with their line counts and longest lines."""
    items, cursor = await service.list_characters(session, project, params)
    return Page(items=items, next_cursor=cursor)


@router.patch("/api/v1/characters/{character_id}", response_model=CharacterRead)
async def update_character(
    character_id: UUID,
    data: CharacterUpdate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CharacterRead:
    """Rename, re-alias, describe or cast a character (`voice: null`: the narrator reads it).
    A new voice sends only this character's lines back to pending."""
    character, _ = await service.get_character_for(
        session, principal, character_id, Action.EDIT_PROJECT, for_update=True
    )
    return await service.update_character(session, runtime, principal, character, data)


@router.post("/api/v1/characters/{character_id}/merge", response_model=CharacterRead)
async def merge_character(
    character_id: UUID, data: MergeRequest, principal: PrincipalDep, session: SessionDep
) -> CharacterRead:
    """This character is `into_id` under another name: its lines and names move there, and it is
    deleted. Answers the remaining character."""
    character, _ = await service.get_character_for(
        session, principal, character_id, Action.EDIT_PROJECT, for_update=True
    )
    return await service.merge_characters(session, principal, character, data.into_id)


@router.post(
    "/api/v1/characters/{character_id}/split",
    status_code=status.HTTP_201_CREATED,
    response_model=CharacterRead,
)
async def split_character(
    character_id: UUID, data: SplitRequest, principal: PrincipalDep, session: SessionDep
) -> CharacterRead:
    """These aliases name someone else: they become a new character (the first is its name),
    taking the lines whose paragraph's narration names one of them and none of the names this
    character keeps."""
    character, _ = await service.get_character_for(
        session, principal, character_id, Action.EDIT_PROJECT, for_update=True
    )
    return await service.split_character(session, principal, character, data.aliases)


@router.post("/api/v1/projects/{project_id}/casting/recommend", response_model=CastingProposal)
async def recommend_casting(
    project: Editable,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    apply: Annotated[bool, Query(description="Store the proposal.")] = False,
) -> CastingProposal:
    """Distinct voices of the active engine, by gender and the book's language, for the narrator
    and the characters with most lines; voices a person chose are kept."""
    return await casting.recommend_casting(session, runtime, principal, project, apply=apply)


@router.post(
    "/api/v1/characters/{character_id}/audition",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}, "description": "The line in the voice."}},
)
async def audition_character(
    character_id: UUID,
    data: AuditionRequest,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Hear the character's longest line (or `text`) in `voice`, its cast voice, or the
    narrator's."""
    character, project = await service.get_character_for(
        session, principal, character_id, Action.EDIT_PROJECT
    )
    audio = await casting.audition(session, runtime, project, character, data)
    return Response(audio, media_type="audio/wav")
