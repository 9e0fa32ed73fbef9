"""Projects and their validators: `/api/v1/projects`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, File, Header, UploadFile, status
from fastapi.responses import StreamingResponse

from khipu.auth.dependencies import PrincipalDep, RuntimeDep, SessionDep, require
from khipu.core.downloads import blob_response
from khipu.core.pagination import Page, PageParams, page_params
from khipu.core.permissions import Action, Principal
from khipu.projects import service
from khipu.projects.dependencies import project_for
from khipu.projects.models import Project
from khipu.projects.schemas import (
    CoverRead,
    MemberCreate,
    MemberRead,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
)

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])
Readable = Annotated[Project, Depends(project_for(Action.READ_PROJECT))]
Editable = Annotated[Project, Depends(project_for(Action.EDIT_PROJECT))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectRead)
async def create_project(
    data: ProjectCreate,
    principal: Annotated[Principal, Depends(require(Action.CREATE_PROJECT))],
    session: SessionDep,
) -> ProjectRead:
    return ProjectRead.model_validate(await service.create_project(session, principal, data))


@router.get("", response_model=Page[ProjectRead])
async def list_projects(
    principal: PrincipalDep,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ProjectRead]:
    """Admins see every project, creators their own, validators those they are assigned to."""
    projects, cursor = await service.list_projects(session, principal, params)
    return Page(items=[ProjectRead.model_validate(p) for p in projects], next_cursor=cursor)


@router.get("/{project_id}", response_model=ProjectRead)
async def get_project(project: Readable) -> ProjectRead:
    return ProjectRead.model_validate(project)


@router.patch("/{project_id}", response_model=ProjectRead)
async def update_project(
    data: ProjectUpdate, project: Editable, principal: PrincipalDep, session: SessionDep
) -> ProjectRead:
    return ProjectRead.model_validate(
        await service.update_project(session, principal, project, data)
    )


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(
    project: Editable, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> None:
    """Delete the project, its manuscripts, audio and packages."""
    await service.delete_project(session, runtime.blobs, principal, project)


@router.put("/{project_id}/cover", response_model=CoverRead)
async def put_cover(
    project: Editable,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File(description="A JPEG or PNG image.")],
) -> CoverRead:
    """Set the cover art (checked by content; at most 20 MB and 50 megapixels)."""
    project = await service.set_cover(session, runtime.blobs, principal, project, await file.read())
    return CoverRead(
        format=project.cover_format, width=project.cover_width, height=project.cover_height
    )  # type: ignore[arg-type]


@router.get("/{project_id}/cover", response_class=StreamingResponse)
async def get_cover(
    project: Readable,
    runtime: RuntimeDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse:
    media_type = "image/png" if project.cover_format == "PNG" else "image/jpeg"
    return await blob_response(
        runtime.blobs, project.cover_key, media_type=media_type, range_header=range_header
    )


@router.get("/{project_id}/members", response_model=Page[MemberRead])
async def list_members(
    project: Readable, session: SessionDep, params: Annotated[PageParams, Depends(page_params)]
) -> Page[MemberRead]:
    members, cursor = await service.list_members(session, project, params)
    return Page(items=[MemberRead.model_validate(m) for m in members], next_cursor=cursor)


@router.post(
    "/{project_id}/members", status_code=status.HTTP_201_CREATED, response_model=MemberRead
)
async def assign_validator(
    data: MemberCreate, project: Editable, principal: PrincipalDep, session: SessionDep
) -> MemberRead:
    """Assign a validator to review this project."""
    member = await service.assign_validator(session, principal, project, data.user_id)
    await session.flush()
    return MemberRead.model_validate(member)


@router.delete("/{project_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unassign_validator(
    user_id: UUID, project: Editable, principal: PrincipalDep, session: SessionDep
) -> None:
    await service.unassign_validator(session, principal, project, user_id)
